"""Calling the real Lambda handler with API Gateway events, the way API Gateway would."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from posthorn_local import template
from posthorn_local.apigw import LambdaContext, build_event, decode_response, match_route


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return str(self.json["error"]["code"])


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def basic(username: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class ApiClient:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.routes = template.routes()

    def invoke_event(self, event: dict[str, Any]) -> ApiResponse:
        from send_api.handler import lambda_handler

        status, headers, body = decode_response(lambda_handler(event, LambdaContext()))
        return ApiResponse(status, headers, body)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        api_key: str | None = None,
        query: str = "",
    ) -> ApiResponse:
        all_headers = {"Content-Type": "application/json"}
        key = api_key or self.api_key
        if key:
            all_headers.update(bearer(key))
        all_headers.update(headers or {})
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else None)
        matched = match_route(self.routes, method, path)
        resource, parameters = (matched[0].path, matched[1]) if matched else (path, {})
        event = build_event(
            method,
            path,
            resource=resource,
            path_parameters=parameters,
            headers=all_headers,
            body=body,
            query=query,
        )
        return self.invoke_event(event)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, json_body=json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, json_body=json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)
