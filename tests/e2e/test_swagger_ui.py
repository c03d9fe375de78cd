"""Swagger UI (`GET /v1/docs`) in headless Chromium: "Try it out" calls the API that served the page, with
the example request of the document, wherever the page is served (the local stack, a stage URL, a custom
domain with or without a base path), because the document's server URL is relative to the page."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.browser import chromium, page  # noqa: F401 - the browser fixtures
from tests.e2e.conftest import Http

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def authorize(page: Any, api_key: str) -> None:  # noqa: F811
    page.click("button.authorize")
    page.fill("#auth-bearer-value", api_key)
    page.locator(".modal-ux .auth-container").first.locator("button.authorize").click()
    page.locator(".modal-ux button.btn-done").first.click()


def try_it_out(page: Any, operation_id: str) -> Any:  # noqa: F811
    operation = page.locator(f"#operations-{operation_id}")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    return operation, status.inner_text().strip()


def test_try_it_out_sends_the_example_message_to_the_local_stack(
    page: Any,  # noqa: F811
    stack: LocalStack,
    http: Http,
    sender_key: str,
) -> None:
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    page.goto(stack.api_url + "/v1/docs")
    authorize(page, sender_key)

    operation, status = try_it_out(page, "sending-send_email")

    assert status == "200"
    assert f"POST {stack.api_url}/v1/email" in sent
    answer = json.loads(operation.locator(".live-responses-table tbody .microlight").first.inner_text())
    assert answer["status"] == "sent"
    message = http.get(f"/v1/messages/{answer['message_id']}", api_key=sender_key)
    assert message.status == 200
    assert message.json["subject"] == "Your receipt"  # the document's example request, sent as it is


@pytest.mark.parametrize(
    "base_url",
    [
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod",  # the stage URL (output ApiUrl)
        "https://mail-api.example.org",  # a custom domain
        "https://example.org/posthorn",  # a custom domain with a base path mapping
    ],
)
def test_try_it_out_calls_the_api_under_the_url_the_page_was_served_from(
    page: Any,  # noqa: F811
    stack: LocalStack,
    base_url: str,
) -> None:
    with urllib.request.urlopen(stack.api_url + "/v1/docs", timeout=15) as answer:  # noqa: S310 - loopback
        swagger_page = answer.read()
    called: list[str] = []

    def serve(route: Any) -> None:
        url = route.request.url
        if url.split("?")[0] == f"{base_url}/v1/docs":
            route.fulfill(status=200, content_type="text/html", body=swagger_page)
            return
        called.append(url)
        route.fulfill(status=200, content_type="application/json", body='{"status": "ok"}')

    page.route("**/*", serve)
    page.goto(f"{base_url}/v1/docs")

    _, status = try_it_out(page, "health-get_health")

    assert status == "200"
    assert called == [f"{base_url}/v1/health"]
