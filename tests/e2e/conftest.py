"""The local stack (`make run`'s `LocalStack`) started once for the module on free loopback ports, and a
plain HTTP client (urllib) that talks to it the way any API client would.

Every answer of the API (`/v1/...` and the documented compatible routes) the suite receives is checked
against the committed OpenAPI document (docs/openapi.json): its status must be listed for the operation, its
body must match that status's schema, an error's code must be one the status names. A mismatch fails the
run (`pytest_sessionfinish`), so the document cannot drift from what the API does."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest

from posthorn_local.stack import LocalStack
from tests.support.api import ApiResponse
from tests.support.openapi_conformance import path_template, violations

ADMIN_KEY = "ph_e2eadmin.e2e-admin-secret-not-for-production-0123456789"
SENDER_DOMAIN = "example.com"


class Conformance:
    """The answers checked against docs/openapi.json in this run, and what did not match."""

    checked = 0
    operations: ClassVar[set[tuple[str, str, int]]] = set()
    problems: ClassVar[list[str]] = []

    @classmethod
    def check(cls, method: str, path: str, answer: ApiResponse) -> None:
        bare = path.split("?", 1)[0]
        documented = bare.startswith("/v1/") or path_template(bare) is not None  # a compatible surface's too
        if not documented or bare == "/v1/docs":  # the local page; the docs page itself
            return
        content_type = next((v for k, v in answer.headers.items() if k.lower() == "content-type"), "")
        cls.checked += 1
        template = path_template(bare)
        if template is not None:
            cls.operations.add((method.upper(), template, answer.status))
        cls.problems.extend(violations(method.upper(), bare, answer.status, content_type, answer.body))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not Conformance.checked:
        return
    operations = {(method, path) for method, path, _ in Conformance.operations}
    terminalreporter.write_line(
        f"OpenAPI conformance: {Conformance.checked} answers of {len(operations)} operations "
        f"({len(Conformance.operations)} operation/status pairs) checked against docs/openapi.json, "
        f"{len(Conformance.problems)} mismatches"
    )
    for problem in dict.fromkeys(Conformance.problems):
        terminalreporter.write_line(f"  OpenAPI mismatch: {problem}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if Conformance.problems and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
                received = ApiResponse(answer.status, dict(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            with error:
                received = ApiResponse(error.code, dict(error.headers.items()), error.read())
        Conformance.check(method, path, received)
        return received

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, body, **kwargs)


def basic_auth(api_key: str) -> dict[str, str]:
    username, _, secret = api_key.partition(".")
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


@contextmanager
def running_stack(environment: dict[str, str] | None = None, **options: Any) -> Iterator[LocalStack]:
    """A local stack of a module's own, with `environment` (its POSTHORN_* settings) set while it runs and
    `options` for LocalStack; moto emptied after it (moto keeps its resources process-wide, across servers,
    so the next module's stack can create the template's resources again)."""
    saved = {name: os.environ.get(name) for name in environment or {}}
    os.environ.update(environment or {})
    try:
        with LocalStack(port=0, admin_key=ADMIN_KEY, event_delay_seconds=0.2, **options) as running:
            yield running
            # The stack's own loopback moto server (always http://127.0.0.1).
            reset = urllib.request.Request(running.moto_url + "/moto-api/reset", method="POST")  # noqa: S310
            urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack() as running:
        yield running


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
