"""End to end over HTTP against the local stack, written from docs/api.md: the API a client sees, the local
SES's outbox, and SES's events coming back through SNS into the events function."""

from __future__ import annotations

import json
import socket
import time
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from http.client import HTTPResponse
from pathlib import Path
from typing import Any, cast

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, Http, basic_auth

pytestmark = pytest.mark.e2e

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
SIMULATOR = "simulator.amazonses.com"

MESSAGE = {
    "from_email": "hello@example.com",
    "from_name": "Zoë's Café",
    "to": [{"email": f"success@{SIMULATOR}", "name": "Jürgen Müller"}],
    "cc": [{"email": "team@example.net", "name": "Ærøskøbing Team"}],
    "bcc": ["hidden@example.org"],
    "subject": "Grüße aus Köln — ✉ naïve test",
    "body_text": "Hallo Jürgen,\nschöne Grüße.",
    "body_html": "<p>Hallo Jürgen, <b>schöne</b> Grüße.</p>",
    "headers": {"X-Entity-Ref-ID": "e2e-123"},
    "tags": ["welcome", "e2e"],
    "metadata": {"order_id": "12345"},
}


def send(http: Http, key: str, **fields: Any) -> str:
    body = {"from_email": "hello@example.com", "subject": "Hi", "body_text": "Hello", **fields}
    response = http.post("/v1/email", body, api_key=key)
    assert response.status == 200, response.body
    return str(response.json["message_id"])


def canonical(text: str) -> str:
    return text.replace("\r\n", "\n").removesuffix("\n")


def label(kind: str) -> str:
    """A simulator address with a unique label: a bounce or complaint suppresses the address it names."""
    return f"{kind}+{uuid.uuid4().hex[:8]}@{SIMULATOR}"


def outbox_entry(http: Http, message_id: str) -> tuple[dict[str, Any], EmailMessage]:
    """The outbox summary and the parsed raw message whose X-SES-MESSAGE-TAGS carry `message_id`."""
    listing = http.get("/_local/outbox")
    assert listing.status == 200
    for summary in listing.json["messages"]:
        raw = http.get(f"/_local/outbox/{summary['id']}/raw")
        parsed = cast(EmailMessage, BytesParser(policy=default).parsebytes(raw.body))
        if message_id in str(parsed.get("X-SES-MESSAGE-TAGS", "")):
            return summary, parsed
    raise AssertionError(f"{message_id} is not in the local SES outbox")


def wait_for_statuses(
    http: Http, key: str, message_id: str, expected: dict[str, str], event_types: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Poll GET /v1/messages/{id} (up to 15 s) until each recipient has its expected status and the message
    lists events of every type in `event_types` (a status and its event need not appear at once)."""
    deadline = time.monotonic() + 15
    while True:
        message = http.get(f"/v1/messages/{message_id}", api_key=key)
        assert message.status == 200, message.body
        statuses = {r["email"]: r["status"] for r in message.json["recipients"]}
        types = {e["type"] for e in message.json["events"]}
        if all(statuses.get(email) == status for email, status in expected.items()) and event_types <= types:
            return cast(dict[str, Any], message.json)
        if time.monotonic() > deadline:
            raise AssertionError(f"recipients are {statuses} with events {types}; expected {expected}")
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------- the API
def test_health_needs_no_credential(http: Http) -> None:
    response = http.get("/v1/health")
    assert response.status == 200
    assert response.json == {"status": "ok"}


def test_unknown_route_is_json_404(http: Http) -> None:
    response = http.get("/v1/no-such-route", api_key=ADMIN_KEY)
    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.error_code == "not_found"


def test_invalid_json_is_400(http: Http, sender_key: str) -> None:
    response = http.post(
        "/v1/email", b'{"from_email": ', api_key=sender_key, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert response.error_code == "invalid_json"


def test_sending_without_credential_is_401(http: Http) -> None:
    response = http.post("/v1/email", {"from_email": "hello@example.com", "to": ["a@example.net"]})
    assert response.status == 401
    assert response.error_code == "unauthorized"


def test_sent_message_arrives_exactly_as_sent(http: Http, sender_key: str) -> None:
    sent = http.post("/v1/email", MESSAGE, api_key=sender_key)
    assert sent.status == 200, sent.body
    assert sent.json["status"] == "sent"
    assert sent.json["count"] == 3
    message_id = sent.json["message_id"]

    summary, parsed = outbox_entry(http, message_id)
    assert summary["mail_from"] == "hello@example.com"
    assert sorted(summary["rcpt_to"]) == sorted(
        [f"success@{SIMULATOR}", "team@example.net", "hidden@example.org"]
    )
    assert summary["size"] > 0
    assert parsed["Subject"] == MESSAGE["subject"]
    [sender] = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë's Café", "hello@example.com")
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
        ("Jürgen Müller", f"success@{SIMULATOR}")
    ]
    assert [(a.display_name, a.addr_spec) for a in parsed["Cc"].addresses] == [
        ("Ærøskøbing Team", "team@example.net")
    ]
    assert "Bcc" not in parsed
    assert b"hidden@example.org" not in http.get(f"/_local/outbox/{summary['id']}/raw").body
    assert parsed["X-Entity-Ref-ID"] == "e2e-123"
    text, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None
    assert html_part is not None
    # Text parts travel in canonical form (CRLF line ends, RFC 2045), with a final line end.
    assert canonical(text.get_content()) == MESSAGE["body_text"]
    assert canonical(html_part.get_content()) == MESSAGE["body_html"]
    tags = str(parsed["X-SES-MESSAGE-TAGS"])
    assert message_id in tags
    assert "welcome" in tags
    assert "e2e" in tags

    stored = http.get(f"/v1/messages/{message_id}", api_key=sender_key)
    assert stored.status == 200, stored.body
    assert stored.json["message_id"] == message_id
    assert stored.json["subject"] == MESSAGE["subject"]
    assert stored.json["from_email"] == "hello@example.com"
    assert stored.json["tags"] == ["welcome", "e2e"]
    assert stored.json["metadata"] == {"order_id": "12345"}
    assert stored.json["ses_message_id"] == summary["ses_message_id"]
    assert {(r["email"], r["type"]) for r in stored.json["recipients"]} == {
        (f"success@{SIMULATOR}", "to"),
        ("team@example.net", "cc"),
        ("hidden@example.org", "bcc"),
    }


def test_raw_message_is_served_as_rfc822(http: Http, sender_key: str) -> None:
    message_id = send(http, sender_key, to=["someone@example.net"])
    summary, _ = outbox_entry(http, message_id)
    raw = http.get(f"/_local/outbox/{summary['id']}/raw")
    assert raw.status == 200
    assert raw.headers["Content-Type"] == "message/rfc822"


def test_unknown_outbox_id_is_404(http: Http) -> None:
    assert http.get("/_local/outbox/nope/raw").error_code == "not_found"
    assert http.post("/_local/outbox/nope/open").error_code == "not_found"


def test_basic_auth_is_accepted_and_a_wrong_secret_is_401(http: Http, sender_key: str) -> None:
    message_id = send(http, sender_key, to=["someone@example.net"])
    accepted = http.get(f"/v1/messages/{message_id}", headers=basic_auth(sender_key))
    assert accepted.status == 200, accepted.body
    assert accepted.json["message_id"] == message_id

    username = sender_key.partition(".")[0]
    refused = http.get(f"/v1/messages/{message_id}", headers=basic_auth(f"{username}.wrong-secret"))
    assert refused.status == 401
    assert refused.error_code == "unauthorized"


def test_the_outbox_lists_a_message_with_its_subject_as_sent(http: Http, sender_key: str) -> None:
    """What the console's Local outbox view lists (it shows the subject as text)."""
    subject = '<Page> & "quotes" — ü'
    message_id = send(http, sender_key, to=["someone@example.net"], subject=subject)
    outbox = http.get("/_local/outbox").json["messages"]
    listed = [m for m in outbox if m["posthorn_message_id"] == message_id]
    assert [m["subject"] for m in listed] == [subject]


# ------------------------------------------------------------------------- SES events coming back
def test_bounce_simulator_ends_bounced(http: Http, sender_key: str) -> None:
    bounce = label("bounce")
    message_id = send(http, sender_key, to=[bounce])
    message = wait_for_statuses(http, sender_key, message_id, {bounce: "bounced"}, frozenset({"bounce"}))
    assert message["status"] == "bounced"
    assert any(e["type"] == "bounce" and e["recipient"] == bounce for e in message["events"])


def test_each_simulator_address_gets_its_outcome(http: Http, sender_key: str) -> None:
    recipients = {
        f"success@{SIMULATOR}": "delivered",
        label("ooto"): "delivered",
        "someone@example.net": "delivered",
        label("bounce"): "bounced",
        label("complaint"): "complained",
        label("suppressionlist"): "bounced",
    }
    message_id = send(http, sender_key, to=list(recipients))
    wait_for_statuses(
        http, sender_key, message_id, recipients, frozenset({"send", "delivery", "bounce", "complaint"})
    )


def test_open_and_click_move_the_status_up(http: Http, sender_key: str) -> None:
    recipient = f"success@{SIMULATOR}"
    message_id = send(http, sender_key, to=[recipient], track_opens=True, track_clicks=True)
    wait_for_statuses(http, sender_key, message_id, {recipient: "delivered"})
    summary, _ = outbox_entry(http, message_id)

    opened = http.post(f"/_local/outbox/{summary['id']}/open")
    assert opened.status == 200, opened.body
    wait_for_statuses(http, sender_key, message_id, {recipient: "opened"})

    clicked = http.post(f"/_local/outbox/{summary['id']}/click", {"link": "https://example.com/welcome"})
    assert clicked.status == 200, clicked.body
    wait_for_statuses(http, sender_key, message_id, {recipient: "clicked"}, frozenset({"open", "click"}))


def test_local_sns_delivers_a_lambda_sns_event_to_the_events_function(http: Http) -> None:
    event = json.loads((EVENTS_DIR / "sns_event_delivery.json").read_text())
    response = http.post("/_local/sns", event)
    assert response.status == 200, response.body
    assert response.headers["Content-Type"].startswith("application/json")


def test_click_needs_a_link(http: Http, sender_key: str) -> None:
    message_id = send(http, sender_key, to=["someone@example.net"])
    summary, _ = outbox_entry(http, message_id)
    response = http.post(f"/_local/outbox/{summary['id']}/click", {})
    assert response.status == 422
    assert response.error_code == "validation_error"


# ------------------------------------------------ requests API Gateway answers before any function runs
def exchange(stack: LocalStack, request: bytes, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte on a fresh connection, and the answer (the connection must
    carry one: a dropped connection fails here)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(request)
        answer = HTTPResponse(sock, method=method)
        answer.begin()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [("TRACE", "/v1/health", 405), ("TRACE", "/nowhere", 404), ("CONNECT", "example.com:443", 404)],
)
def test_methods_no_route_takes_are_json_404_or_405(
    stack: LocalStack, method: str, target: str, status: int
) -> None:
    code, headers, body = exchange(stack, f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), method)
    assert code == status
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] in ("not_found", "method_not_allowed")


def test_head_is_answered_with_headers_and_no_body(stack: LocalStack) -> None:
    code, headers, body = exchange(stack, b"HEAD /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD")
    assert code == 405
    assert headers["content-type"].startswith("application/json")
    assert int(headers["content-length"]) > 0
    assert body == b""


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: ten\r\n\r\n{}",
        b"Content-Length: -1\r\n\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ],
    ids=["non-numeric-length", "negative-length", "two-lengths", "bad-chunk-size"],
)
def test_body_that_cannot_be_delimited_is_json_400_and_answered(stack: LocalStack, framing: bytes) -> None:
    request = b"POST /v1/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing
    code, headers, body = exchange(stack, request, "POST")
    assert code == 400
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert headers["connection"] == "close"


def test_malformed_request_line_is_json_not_an_html_page(stack: LocalStack) -> None:
    code, headers, body = exchange(stack, b"GET /v1/health HTTP/9\r\n\r\n")
    assert code == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["message"]


def test_each_function_runs_with_its_own_environment_not_the_union(stack: LocalStack) -> None:
    """The process holds no function's variables; each function's settings come from its own block."""
    import os

    from posthorn.settings import EventsSettings, WebhookSenderSettings

    assert not {"TABLE_NAME", "SES_SMTP_SECRET_ID", "WEBHOOK_SECRETS_KEY_ID"} & set(os.environ)
    sender = stack.environments["WebhookSenderFunction"]
    assert "TABLE_NAME" not in sender
    assert "SES_SMTP_SECRET_ID" not in sender
    assert isinstance(stack.settings["WebhookSenderFunction"], WebhookSenderSettings)
    assert isinstance(stack.settings["EventsFunction"], EventsSettings)
    assert "PEPPER_SECRET_ID" not in stack.environments["SendWorkerFunction"]
