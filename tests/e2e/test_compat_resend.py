"""Resend's own SDKs against the Resend-compatible routes of a running local stack: npm `resend` (a script in
tests/e2e/clients/sdk-resend, run as a subprocess; `make sdk-clients` installs it from its lock) and PyPI
`resend` (the dev extras), each pointed at `<api>/resend` the way its docs allow (Node: the `baseUrl`
option or RESEND_BASE_URL; Python: `resend.api_url`) with a Posthorn api_key as the key.

What matters: what the SDK was told arrives at the local SES (envelope, names, Reply-To, custom headers,
attachment bytes, the inline image), the id the SDK returns works with `GET /v1/messages/{id}`, a batch
queues each email, an Idempotency-Key replays, and refusals (a bad key, a bad field, the rate limit) come
back as each SDK surfaces Resend's errors: `{data: null, error: {statusCode, name, message}}` in Node, a
`ResendError` subclass in Python."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http
from tests.e2e.sdk_clients import run_sdk
from tests.e2e.test_smtp_clients import copies, files_of, png, posthorn_id, wait_for_record

pytestmark = pytest.mark.e2e

TO = '"Müller, Jürgen" <juergen@example.net>'
CC = "team@example.net"
BCC = "hidden@example.org"
REPORT = b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n.\r\n"


def node(config: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """What `resend.emails.send` / `resend.batch.send` resolved to: `{data, error, headers}`."""
    return cast(dict[str, Any], run_sdk("resend", "resend", config, env=env))


@pytest.fixture(scope="module")
def resend_url(stack: LocalStack) -> str:
    return stack.api_url + "/resend"


@pytest.fixture
def python_sdk(resend_url: str, sender_key: str) -> Iterator[Any]:
    """PyPI `resend`, configured through its module attributes as its README shows."""
    resend = pytest.importorskip("resend")
    saved = resend.api_key, resend.api_url
    resend.api_key, resend.api_url = sender_key, resend_url
    yield resend
    resend.api_key, resend.api_url = saved


def header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def credential(http: Http, rate: int) -> str:
    body = {"name": "resend", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"]}
    created = http.post("/v1/credentials", {**body, "rate_limit_per_second": rate}, api_key=ADMIN_KEY)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def subject(what: str) -> str:
    return f"Grüße über Resends SDK — {what} {uuid.uuid4().hex[:8]}"


def the_copy(stack: LocalStack, message_id: str) -> Any:
    found = copies(stack, lambda parsed: posthorn_id(parsed) == message_id)
    assert len(found) == 1, f"the local SES received {len(found)} copies of {message_id}"
    return found[0]


# ------------------------------------------------------------------------------------------- Node SDK
def test_node_sdk_sends_recipients_headers_attachments_and_tags(
    stack: LocalStack, http: Http, sender_key: str, resend_url: str
) -> None:
    title = subject("Node")
    payload = {
        "from": "Zoë's Café <hello@example.com>",
        "to": [TO],
        "cc": CC,
        "bcc": [BCC],
        "replyTo": "Support <support@example.com>",
        "subject": title,
        "text": "Hallo Jürgen,\nschöne Grüße ✉\n",
        "html": '<p>Hallo Jürgen</p><img src="cid:logo" alt="logo">',
        "headers": {"X-Entity-Ref-ID": "123456789"},
        "attachments": [
            {"filename": "Rechnung März.pdf", "content": base64.b64encode(REPORT).decode()},
            {"filename": "logo.png", "content": base64.b64encode(png()).decode(), "contentId": "logo"},
        ],
        "tags": [{"name": "category", "value": "confirm_email"}],
    }
    result = node(
        {"api_key": sender_key, "base_url": resend_url, "call": "send", "payload": payload, "buffers": True}
    )

    assert result["error"] is None, result
    message_id = result["data"]["id"]
    record = wait_for_record(http, sender_key, message_id, recipients=3)
    assert record["subject"] == title
    assert record["metadata"] == {"category": "confirm_email"}
    assert sorted((r["email"], r["type"]) for r in record["recipients"]) == sorted(
        [("juergen@example.net", "to"), (CC, "cc"), (BCC, "bcc")]
    )
    outboxed, copy = the_copy(stack, message_id)
    assert outboxed.mail_from == "hello@example.com"
    assert sorted(outboxed.rcpt_to) == sorted(["juergen@example.net", CC, BCC])
    [sender] = copy["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë's Café", "hello@example.com")
    [to] = copy["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Müller, Jürgen", "juergen@example.net")
    [reply_to] = copy["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Support", "support@example.com")
    assert "Bcc" not in copy
    assert copy["X-Entity-Ref-ID"] == "123456789"
    parts = files_of(copy)
    assert parts["Rechnung März.pdf"].get_payload(decode=True) == REPORT
    assert parts["logo.png"].get_payload(decode=True) == png()
    assert parts["logo.png"]["Content-ID"] == "<logo>"


def test_node_sdk_takes_its_base_url_from_resend_base_url(
    stack: LocalStack, http: Http, sender_key: str, resend_url: str
) -> None:
    payload = {
        "from": "hello@example.com",
        "to": "success@simulator.amazonses.com",
        "subject": subject("env"),
    }
    result = node(
        {"api_key": sender_key, "call": "send", "payload": {**payload, "text": "Hi"}},
        env={"RESEND_BASE_URL": resend_url},
    )

    assert result["error"] is None, result
    assert (
        wait_for_record(http, sender_key, result["data"]["id"], recipients=1)["subject"] == payload["subject"]
    )


def test_node_sdk_batch_strict_and_permissive(
    stack: LocalStack, http: Http, sender_key: str, resend_url: str
) -> None:
    emails = [
        {
            "from": "hello@example.com",
            "to": f"success+{i}@simulator.amazonses.com",
            "subject": subject(f"batch {i}"),
            "text": "Hi",
        }
        for i in range(2)
    ]
    call = {"api_key": sender_key, "base_url": resend_url, "call": "batch"}

    strict = node({**call, "payload": emails})
    assert strict["error"] is None, strict
    ids = [item["id"] for item in strict["data"]["data"]]
    assert len(ids) == 2
    assert "errors" not in strict["data"]
    for message_id, email in zip(ids, emails, strict=True):
        assert wait_for_record(http, sender_key, message_id, recipients=1)["subject"] == email["subject"]

    bad = {**emails[0], "to": "not-an-address"}
    refused = node({**call, "payload": [emails[0], bad]})
    assert refused["data"] is None
    assert refused["error"]["statusCode"] == 422
    assert refused["error"]["name"] == "validation_error"
    assert refused["error"]["message"].startswith("emails[1]: to")

    permissive = node({**call, "payload": [bad, emails[1]], "options": {"batchValidation": "permissive"}})
    assert permissive["error"] is None, permissive
    assert len(permissive["data"]["data"]) == 1
    [error] = permissive["data"]["errors"]
    assert error["index"] == 0
    assert "not-an-address" in error["message"]


def test_node_sdk_refusals_come_back_in_resends_shape(http: Http, sender_key: str, resend_url: str) -> None:
    email = {
        "from": "hello@example.com",
        "to": "success@simulator.amazonses.com",
        "subject": "x",
        "text": "x",
    }
    call = {"base_url": resend_url, "call": "send"}

    bad_key = node({**call, "api_key": "re_not_a_posthorn_key", "payload": email})
    assert bad_key["data"] is None
    assert bad_key["error"]["statusCode"] == 403
    assert bad_key["error"]["name"] == "invalid_api_key"

    scheduled = node({**call, "api_key": sender_key, "payload": {**email, "scheduledAt": "in 1 min"}})
    assert scheduled["error"]["statusCode"] == 422
    assert scheduled["error"]["name"] == "validation_error"
    assert scheduled["error"]["message"].startswith("scheduled_at: not supported by Posthorn")

    remote = {"filename": "a.pdf", "path": "https://example.com/a.pdf"}
    fetched = node({**call, "api_key": sender_key, "payload": {**email, "attachments": [remote]}})
    assert fetched["error"]["name"] == "invalid_attachment"
    assert "attachments[0].path" in fetched["error"]["message"]

    two_replies = {**email, "replyTo": ["a@example.com", "b@example.com"]}
    refused = node({**call, "api_key": sender_key, "payload": two_replies})
    assert refused["error"]["message"].startswith("reply_to: Posthorn sets one Reply-To")

    slow = credential(http, rate=1)
    batch = [{**email, "to": f"success+{i}@simulator.amazonses.com"} for i in range(10)]
    assert node({**call, "api_key": slow, "call": "batch", "payload": batch})["error"] is None
    limited = node({**call, "api_key": slow, "payload": email})
    assert limited["data"] is None
    assert limited["error"]["statusCode"] == 429
    assert limited["error"]["name"] == "rate_limit_exceeded"
    assert int(limited["headers"]["retry-after"]) >= 1


def test_raw_requests_are_answered_in_resends_shape(http: Http, sender_key: str) -> None:
    """What no SDK sends: no key, a body that is not JSON, an array to the single route, an object to the
    batch route (each answer is also checked against the document, tests/e2e/conftest.py)."""
    email = {"from": "hello@example.com", "to": "a@example.net", "subject": "x", "text": "x"}
    missing = http.post("/resend/emails", email)
    assert missing.status == 401
    assert missing.json == {
        "statusCode": 401,
        "name": "missing_api_key",
        "message": "the Resend API key is missing",
    }

    not_json = http.post(
        "/resend/emails", b"{", api_key=sender_key, headers={"Content-Type": "application/json"}
    )
    assert (not_json.status, not_json.json["name"]) == (400, "validation_error")
    keyed = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}
    keyed_not_json = http.post("/resend/emails/batch", b"[", api_key=sender_key, headers=keyed)
    assert (keyed_not_json.status, keyed_not_json.json["name"]) == (400, "validation_error")
    text = http.post(
        "/resend/emails",
        json.dumps(email).encode(),
        api_key=sender_key,
        headers={"Content-Type": "text/plain"},
    )
    assert (text.status, text.json["name"]) == (400, "validation_error")
    array = http.post("/resend/emails", [email], api_key=sender_key)
    assert (array.status, array.json["name"]) == (400, "validation_error")
    one = http.post("/resend/emails/batch", email, api_key=sender_key)
    assert (one.status, one.json["message"]) == (400, "the request body must be a JSON array of emails")
    too_many = http.post("/resend/emails/batch", [email] * 101, api_key=sender_key)
    assert (too_many.status, too_many.json["name"]) == (422, "validation_error")
    mode = http.post(
        "/resend/emails/batch", [email], api_key=sender_key, headers={"x-batch-validation": "lax"}
    )
    assert (mode.status, mode.json["message"]) == (422, "x-batch-validation: must be strict or permissive")
    foreign = http.post("/resend/emails", {**email, "from": "hello@example.org"}, api_key=sender_key)
    assert (foreign.status, foreign.json["name"]) == (403, "invalid_from_address")
    foreign_item = http.post(
        "/resend/emails/batch", [email, {**email, "from": "hello@example.org"}], api_key=sender_key
    )
    assert (foreign_item.status, foreign_item.json["name"]) == (403, "invalid_from_address")
    assert foreign_item.json["message"].startswith("emails[1]: ")


# ----------------------------------------------------------------------------------------- Python SDK
def test_python_sdk_sends_bytes_and_an_inline_image(stack: LocalStack, http: Http, python_sdk: Any) -> None:
    title = subject("Python")
    sent = python_sdk.Emails.send(
        {
            "from": "Zoë <hello@example.com>",
            "to": ["success@simulator.amazonses.com", TO],
            "reply_to": ["support@example.com"],
            "subject": title,
            "html": '<p>Hallo</p><img src="cid:logo">',
            "headers": {"X-Entity-Ref-ID": "py-1"},
            "attachments": [
                {"filename": "report.pdf", "content": list(REPORT), "content_type": "application/pdf"},
                {
                    "filename": "logo.png",
                    "content": base64.b64encode(png()).decode(),
                    "inline_content_id": "logo",
                },
            ],
            "tags": [{"name": "source", "value": "python"}],
        }
    )

    message_id = sent["id"]
    record = wait_for_record(http, python_sdk.api_key, message_id, recipients=2)
    assert record["metadata"] == {"source": "python"}
    _, copy = the_copy(stack, message_id)
    assert copy["X-Entity-Ref-ID"] == "py-1"
    assert copy["Reply-To"].addresses[0].addr_spec == "support@example.com"
    parts = files_of(copy)
    assert parts["report.pdf"].get_payload(decode=True) == REPORT
    assert parts["report.pdf"].get_content_type() == "application/pdf"
    assert parts["logo.png"]["Content-ID"] == "<logo>"


def test_python_sdk_idempotency_key_replays_the_first_answer(
    stack: LocalStack, http: Http, python_sdk: Any
) -> None:
    key = f"welcome-email/{uuid.uuid4().hex}"
    email = {
        "from": "hello@example.com",
        "to": "success@simulator.amazonses.com",
        "subject": subject("once"),
        "text": "Hi",
    }

    first = python_sdk.Emails.send(email, {"idempotency_key": key})
    again = python_sdk.Emails.send(email, {"idempotency_key": key})
    assert again["id"] == first["id"]
    assert header(again["http_headers"], "Idempotent-Replayed") == "true"
    wait_for_record(http, python_sdk.api_key, first["id"], recipients=1)
    assert len(copies(stack, lambda parsed: posthorn_id(parsed) == first["id"])) == 1

    with pytest.raises(python_sdk.exceptions.ResendError) as raised:
        python_sdk.Emails.send({**email, "text": "another body"}, {"idempotency_key": key})
    assert (raised.value.code, raised.value.error_type) == (409, "invalid_idempotent_request")

    batch_key = f"batch-{uuid.uuid4().hex}"
    batch = [{**email, "subject": subject("batch once")}]
    queued = python_sdk.Batch.send(batch, {"idempotency_key": batch_key})
    assert python_sdk.Batch.send(batch, {"idempotency_key": batch_key})["data"] == queued["data"]


def test_python_sdk_raises_resends_errors(http: Http, python_sdk: Any) -> None:
    exceptions = python_sdk.exceptions
    email = {
        "from": "hello@example.com",
        "to": "success@simulator.amazonses.com",
        "subject": "x",
        "text": "x",
    }

    with pytest.raises(exceptions.MissingRequiredFieldsError) as missing:
        python_sdk.Emails.send({key: value for key, value in email.items() if key != "to"})
    assert (missing.value.code, missing.value.error_type) == (422, "missing_required_field")
    assert missing.value.message == "Missing `to` field."

    with pytest.raises(exceptions.ValidationError) as templated:
        python_sdk.Emails.send({**email, "template": {"id": "welcome"}})
    assert templated.value.message.startswith("template: not supported by Posthorn")

    python_sdk.api_key = "ph_nobody.wrong-secret"
    with pytest.raises(exceptions.InvalidApiKeyError) as bad_key:
        python_sdk.Emails.send(email)
    assert bad_key.value.code == 403

    python_sdk.api_key = credential(http, rate=1)
    python_sdk.Batch.send([{**email, "to": f"success+{i}@simulator.amazonses.com"} for i in range(10)])
    with pytest.raises(exceptions.RateLimitError) as limited:
        python_sdk.Emails.send(email)
    assert (limited.value.code, limited.value.error_type) == (429, "rate_limit_exceeded")
    assert int(header(limited.value.headers, "Retry-After")) >= 1
