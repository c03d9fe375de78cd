"""API Gateway's part, locally: an HTTP request becomes the REST API (v1) proxy event Lambda receives, and
the function's answer becomes the HTTP response — the same translation API Gateway does when deployed."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from posthorn_local import template
from posthorn_local.template import Route


def is_binary(content_type: str, binary_types: list[str] | None = None) -> bool:
    """Whether API Gateway base64-encodes a body of this type: it matches one of the API's
    BinaryMediaTypes (`type/subtype`, `type/*` or `*/*`); every other body reaches Lambda as text."""
    kind = content_type.split(";")[0].strip().lower()
    if not kind:
        return False
    major = kind.split("/")[0]
    for pattern in template.binary_media_types() if binary_types is None else binary_types:
        pattern = pattern.lower()
        if pattern in (kind, "*/*") or pattern == f"{major}/*":
            return True
    return False


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 30_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route of `path`; as a REST API does, a trailing slash names the same resource (`/console/` is
    `/console`; the event's `path` keeps the slash)."""
    for candidate in (path, path[:-1]) if len(path) > 1 and path.endswith("/") else (path,):
        for route in routes:
            if route.method == method.upper():
                found = route.pattern.match(candidate)
                if found:
                    return route, found.groupdict()
    return None


def build_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    headers = dict(headers or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    is_text = body is None or not is_binary(content_type)
    if body is None:
        encoded_body = None
    elif is_text:
        encoded_body = body.decode("utf-8", "replace")  # as API Gateway: text is text
    else:
        encoded_body = base64.b64encode(body).decode("ascii")
    multi_query = parse_qs(query, keep_blank_values=True) if query else None
    now = time.time()
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method.upper(),
            "path": f"/prod{path}",
            "stage": "prod",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
        },
        "body": encoded_body,
        "isBase64Encoded": bool(body is not None and not is_text),
    }


def decode_response(response: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Lambda's proxy answer → (status, headers, body bytes)."""
    headers: dict[str, str] = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    return int(response.get("statusCode", 200)), headers, data
