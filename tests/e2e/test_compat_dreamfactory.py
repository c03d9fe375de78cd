"""DreamFactory's email service against the local stack, driven as its users drive it: the curl lines of
DreamFactory's own documentation, run as written with only the host and the key changed (DreamFactory
publishes no SDK for its email service). Its bodies carry no From: the credential's sender_defaults give it.
A send reaches the local SES; a bad key, a refused field and a rate limit come back in DreamFactory's shape.
"""

from __future__ import annotations

import json
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http

pytestmark = pytest.mark.e2e

# docs.dreamfactory.com, "Email Services Overview", "API-Driven Email".
SEED_CURL = """curl -X POST "https://example.com/api/v2/email" \\
  -H "X-DreamFactory-API-Key: YOUR_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "to": [{"email": "user@example.com", "name": "John Doe"}],
    "subject": "Your Order Confirmation",
    "body_html": "<h1>Thank you for your order!</h1>",
    "body_text": "Thank you for your order!"
  }'"""
# wiki.dreamfactory.com, "Email Services": the test request, and the one with a stored template.
WIKI_CURL = """curl -X POST "https://example.com/api/v2/email" \\
  -H "X-DreamFactory-API-Key: YOUR_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
  "to": [
    {
      "name": "Joe Smith",
      "email": "joe@example.com"
    }
  ],
  "subject": "This is a test!",
  "body_text": "Test"
}'"""
TEMPLATE_CURL = """curl -X POST "https://example.com/api/v2/email" \\
  -H "X-DreamFactory-API-Key: YOUR_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "template": "test_template",
    "to": [
        {
            "name": "Joe Smith",
            "email": "joe@example.com"
        }
    ],
    "first_name": "Joe"
}'"""
DEFAULTS = {
    "from_email": "orders@example.com",
    "from_name": "Example Shop",
    "reply_to_email": "help@example.com",
}


def credential(http: Http, **fields: Any) -> str:
    http.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=ADMIN_KEY)
    body = {"name": "dreamfactory", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"], **fields}
    created = http.post("/v1/credentials", body, api_key=ADMIN_KEY)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture(scope="module")
def key(http: Http) -> str:
    return credential(http, sender_defaults=DEFAULTS, rate_limit_per_second=1000)


def curl(stack: LocalStack, command: str, key: str, *, path: str = "/api/v2/email") -> tuple[int, Any]:
    """Run a documented curl line as written, against the local stack with `key`; its status and body."""
    written = command.replace("https://example.com/api/v2/email", stack.api_url + path)
    written = written.replace("YOUR_API_KEY", key).replace("curl ", "curl -s -w '\\n%{http_code}' ", 1)
    run = subprocess.run(["bash", "-c", written], capture_output=True, text=True, timeout=30, check=True)  # noqa: S603,S607
    body, _, status = run.stdout.rpartition("\n")
    return int(status), json.loads(body)


def newest(stack: LocalStack, before: int) -> EmailMessage:
    [sent] = stack.ses.outbox.wait_for(before + 1, timeout=15)[:1]
    return cast(EmailMessage, message_from_bytes(sent.raw, policy=policy.default))


def test_the_documented_curl_sends_from_the_sender_defaults(stack: LocalStack, http: Http, key: str) -> None:
    before = len(stack.ses.outbox)
    status, body = curl(stack, SEED_CURL, key)
    assert (status, body) == (200, {"count": 1})
    sent = newest(stack, before)
    assert sent["From"] == "Example Shop <orders@example.com>"
    assert sent["Reply-To"] == "help@example.com"
    assert sent["To"] == "John Doe <user@example.com>"
    assert sent["Subject"] == "Your Order Confirmation"
    assert sent.get_body(("html",)).get_content().strip() == "<h1>Thank you for your order!</h1>"  # type: ignore[union-attr]
    listed = http.get("/v1/messages?recipient=user@example.com", api_key=key).json["messages"]
    assert [m["subject"] for m in listed][:1] == ["Your Order Confirmation"]


def test_any_service_name_is_the_credentials_email_service(stack: LocalStack, key: str) -> None:
    before = len(stack.ses.outbox)
    assert curl(stack, WIKI_CURL, key, path="/api/v2/mailer") == (200, {"count": 1})
    assert newest(stack, before)["To"] == "Joe Smith <joe@example.com>"


def test_a_stored_template_is_refused_naming_the_field_in_dreamfactorys_shape(
    stack: LocalStack, key: str
) -> None:
    before = len(stack.ses.outbox)
    status, body = curl(stack, TEMPLATE_CURL, key)
    assert status == 400
    assert body["error"]["code"] == body["error"]["status_code"] == 400
    assert body["error"]["context"]["field"] == "template"
    assert "template" in body["error"]["message"]
    assert len(stack.ses.outbox) == before


def test_a_bad_key_and_a_key_in_the_url_are_dreamfactorys_401(stack: LocalStack, key: str) -> None:
    username = key.partition(".")[0]
    status, body = curl(stack, SEED_CURL, f"{username}.wrong-secret")
    assert (status, body["error"]["code"], body["error"]["status_code"]) == (401, 401, 401)
    status, body = curl(stack, SEED_CURL, key, path=f"/api/v2/email?api_key={key}")
    assert status == 401
    assert "X-DreamFactory-API-Key" in body["error"]["message"]


def test_without_sender_defaults_a_body_without_from_is_400_naming_from_email(
    stack: LocalStack, http: Http
) -> None:
    status, body = curl(stack, SEED_CURL, credential(http))
    assert status == 400
    assert body["error"]["context"] == {
        "code": "validation_error",
        "field": "from_email",
        "error": body["error"]["context"]["error"],
    }


def test_over_the_rate_is_dreamfactorys_429_with_retry_after(stack: LocalStack, http: Http) -> None:
    slow = credential(http, sender_defaults=DEFAULTS, rate_limit_per_second=1)
    answers = [
        http.post(
            "/api/v2/email",
            json.loads(SEED_CURL.partition("-d '")[2].rstrip("'")),
            headers={"X-DreamFactory-API-Key": slow},
        )
        for _ in range(4)
    ]
    limited = [answer for answer in answers if answer.status == 429]
    assert limited, [answer.status for answer in answers]
    assert limited[0].json["error"]["code"] == limited[0].json["error"]["status_code"] == 429
    assert limited[0].json["error"]["context"]["code"] == "rate_limited"
    assert int(limited[0].headers["Retry-After"]) >= 1


def test_an_idempotency_key_replays_the_first_answer_and_sends_once(
    stack: LocalStack, http: Http, key: str
) -> None:
    body = {**json.loads(SEED_CURL.partition("-d '")[2].rstrip("'")), "subject": "Once"}
    headers = {"X-DreamFactory-API-Key": key, "Idempotency-Key": "dreamfactory-once"}
    before = len(stack.ses.outbox)
    first = http.post("/api/v2/email", body, headers=headers)
    again = http.post("/api/v2/email", body, headers=headers)
    assert (first.status, first.json) == (again.status, again.json) == (200, {"count": 1})
    newest(stack, before)
    assert len(stack.ses.outbox) == before + 1
