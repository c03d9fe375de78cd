"""The local stack (`make run`'s `LocalStack`) started once for the module on free loopback ports, and a
plain HTTP client (urllib) that talks to it the way any API client would."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.support.api import ApiResponse

ADMIN_KEY = "ph_e2eadmin.e2e-admin-secret-not-for-production-0123456789"
SENDER_DOMAIN = "example.com"


class Http:
    """Requests to the stack's base URL; JSON bodies for dicts/lists, raw bytes as given."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        all_headers = dict(headers or {})
        data: bytes | None
        if isinstance(body, bytes):
            data = body
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        else:
            data = None
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        url = self.base_url + path  # always the stack's http://127.0.0.1 URL
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310
                return ApiResponse(answer.status, dict(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return ApiResponse(error.code, dict(error.headers.items()), error.read())

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, body, **kwargs)


def basic_auth(api_key: str) -> dict[str, str]:
    username, _, secret = api_key.partition(".")
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, admin_key=ADMIN_KEY, event_delay_seconds=0.2) as running:
        yield running
        # moto keeps its resources process-wide, across servers: empty it so the next module's stack can
        # create the template's resources again.
        # The stack's own loopback moto server (always http://127.0.0.1).
        reset = urllib.request.Request(running.moto_url + "/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Http:
    return Http(stack.api_url)


@pytest.fixture(scope="module")
def sender_key(http: Http) -> str:
    """A send+read credential for example.com, created through the API with the admin key."""
    domain = http.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=ADMIN_KEY)
    assert domain.status == 201, domain.body
    assert domain.json["status"] == "verified"
    created = http.post(
        "/v1/credentials",
        {"name": "e2e", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"]},
        api_key=ADMIN_KEY,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])
