"""Edges of the compatible endpoints (issue 21) that a hostile pass found: Postmark's Idempotency-Key,
sender_defaults on every vendor route, error texts naming the vendor's field, nulls, Resend's strict batch,
SMTP control headers over HTTP. Each test states the contract it holds the stack to (docs/api.md, API.md or
the README's "Moving from another provider").

Raw HTTP on purpose (no vendor SDK, no OpenAPI conformance hook): what is checked is the wire answer a
vendor's SDK would receive."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN

pytestmark = pytest.mark.e2e

SUPPRESSED = "gone@example.net"


def call(
    stack: LocalStack, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(stack.api_url + path, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def key(stack: LocalStack) -> str:
    """A send+read key for example.com whose sender_defaults name a From and a Reply-To."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    status, _ = call(stack, "POST", "/v1/domains", {"domain": SENDER_DOMAIN}, admin)
    assert status == 201
    status, created = call(
        stack,
        "POST",
        "/v1/credentials",
        {
            "name": "hostile",
            "domains": [SENDER_DOMAIN],
            "permissions": ["send", "read"],
            "sender_defaults": {"from_email": f"noreply@{SENDER_DOMAIN}", "from_name": "Shop"},
        },
        admin,
    )
    assert status == 201, created
    api_key = str(created["api_key"])
    status, _ = call(
        stack, "POST", "/v1/suppressions", {"email": SUPPRESSED, "reason": "manual"}, bearer(api_key)
    )
    assert status == 201
    return api_key


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def outbox_subjects(stack: LocalStack) -> list[str]:
    _, listed = call(stack, "GET", "/_local/outbox")
    return [str(m["subject"]) for m in listed["messages"]]


def wait_for_subject(stack: LocalStack, subject: str, copies: int) -> list[str]:
    """The outbox's copies of `subject` once at least `copies` arrived (or what arrived in 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        found = [s for s in outbox_subjects(stack) if s == subject]
        if len(found) >= copies or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


# --- Postmark honours Idempotency-Key like every other entry point ----------------------------------------
def test_postmark_replays_an_idempotency_key_instead_of_sending_twice(stack: LocalStack, key: str) -> None:
    """API.md, "Guarantees (HTTPS, SMTP and every compatible endpoint alike)": "A resend is sent once. (HTTP:
    the same Idempotency-Key)". The Postmark surface reads no Idempotency-Key: the same key and body twice
    are two messages and two copies at SES."""
    subject = f"pm-idem-{uuid.uuid4().hex[:8]}"
    body = {"From": f"hello@{SENDER_DOMAIN}", "To": "success@simulator.amazonses.com", "Subject": subject,
            "TextBody": "once"}  # fmt: skip
    headers = {"X-Postmark-Server-Token": key, "Idempotency-Key": f"order-{subject}"}
    first_status, first = call(stack, "POST", "/postmark/email", body, headers)
    second_status, second = call(stack, "POST", "/postmark/email", body, headers)
    assert (first_status, second_status) == (200, 200)
    assert second["MessageID"] == first["MessageID"]
    assert len(wait_for_subject(stack, subject, copies=2)) == 1


# --- sender_defaults on every compatible endpoint ---------------------------------------------------------
DEFAULTED = [
    ("resend", "/resend/emails", "Authorization", "Bearer {key}",
     {"to": "success@simulator.amazonses.com", "text": "x"}),
    ("postmark", "/postmark/email", "X-Postmark-Server-Token", "{key}",
     {"To": "success@simulator.amazonses.com", "TextBody": "x"}),
    ("zeptomail", "/zeptomail/v1.1/email", "Authorization", "Zoho-enczapikey {key}",
     {"to": [{"email_address": {"address": "success@simulator.amazonses.com"}}], "textbody": "x"}),
    ("mailpace", "/mailpace/api/v1/send", "MailPace-Server-Token", "{key}",
     {"to": "success@simulator.amazonses.com", "textbody": "x"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("vendor", "path", "header", "value", "body"), DEFAULTED, ids=[d[0] for d in DEFAULTED]
)
def test_a_send_without_from_uses_the_credentials_sender_defaults(
    stack: LocalStack, key: str, vendor: str, path: str, header: str, value: str, body: dict[str, Any]
) -> None:
    """API.md, Administration: "A message that omits a field gets the default, on every entry point that can
    omit it (`POST /v1/email`, batch items, every compatible endpoint)". /v1/email and DreamFactory do; the
    other four refuse a missing `from` as a missing field although the credential has a default."""
    subject = f"{vendor}-default-{uuid.uuid4().hex[:8]}"
    subject_field = "Subject" if vendor == "postmark" else "subject"
    status, answer = call(
        stack, "POST", path, {**body, subject_field: subject}, {header: value.format(key=key)}
    )
    assert status in (200, 201), answer
    assert wait_for_subject(stack, subject, copies=1) == [subject]


# --- error texts that name the wrong thing ----------------------------------------------------------------
def test_resend_names_the_recipient_limit_for_51_recipients(stack: LocalStack, key: str) -> None:
    """README, Resend: "at most 50 recipients in all". A list of 51 is answered "to: Input should be a valid
    string" (the string branch of the union), which tells the user nothing; the other surfaces name the
    limit."""
    to = [f"success+{i}@simulator.amazonses.com" for i in range(51)]
    status, answer = call(
        stack, "POST", "/resend/emails",
        {"from": f"hello@{SENDER_DOMAIN}", "to": to, "subject": "51", "text": "x"}, bearer(key),
    )  # fmt: skip
    assert status == 422
    assert "50" in answer["message"], answer


def test_zeptomail_names_the_header_in_target(stack: LocalStack, key: str) -> None:
    """README, ZeptoMail: a bad field is `TM_4001/SM_113` "naming it in `target`". A line break in a
    mime_headers value is reported with target "mime_headersX-A" (no separator)."""
    status, answer = call(
        stack,
        "POST",
        "/zeptomail/v1.1/email",
        {"from": {"address": f"hello@{SENDER_DOMAIN}"},
         "to": [{"email_address": {"address": "a@example.net"}}], "subject": "s", "textbody": "x",
         "mime_headers": {"X-A": "a\r\nBcc: evil@example.org"}},
        {"Authorization": f"Zoho-enczapikey {key}"},
    )  # fmt: skip
    assert status == 400
    assert answer["error"]["details"][0]["target"] in ("mime_headers.X-A", "mime_headers"), answer


def test_mailpace_takes_a_null_attachments_like_every_other_null(stack: LocalStack, key: str) -> None:
    """Every other optional MailPace field sent as JSON null (cc, bcc, replyto, tags, htmlbody,
    list_unsubscribe, inreplyto, references) is taken as absent; `"attachments": null` alone is a 400
    "Input should be a valid list". Clients in languages that serialise an unset field as null (PHP, Go
    structs without omitempty) trip on it."""
    subject = f"mp-null-{uuid.uuid4().hex[:8]}"
    status, answer = call(
        stack, "POST", "/mailpace/api/v1/send",
        {"from": f"hello@{SENDER_DOMAIN}", "to": "success@simulator.amazonses.com", "subject": subject,
         "textbody": "x", "attachments": None},
        {"MailPace-Server-Token": key},
    )  # fmt: skip
    assert status == 200, answer


# --- Resend's strict batch is all or nothing --------------------------------------------------------------
def test_a_strict_resend_batch_with_an_email_refused_at_storage_sends_nothing(
    stack: LocalStack, key: str
) -> None:
    """Resend's batch validation modes: strict (the default) "sends the batch only if all emails in the
    request are valid". An email whose every recipient is suppressed refuses the whole batch, and the good
    email beside it is not sent."""
    subject = f"rs-strict-{uuid.uuid4().hex[:8]}"
    good = {"from": f"hello@{SENDER_DOMAIN}", "to": "success@simulator.amazonses.com", "subject": subject,
            "text": "x"}  # fmt: skip
    status, answer = call(
        stack, "POST", "/resend/emails/batch", [good, {**good, "to": SUPPRESSED}], bearer(key)
    )
    assert status == 422, answer
    assert answer["message"].startswith("emails[1]: "), answer
    permissive_subject = subject + "-permissive"
    status, answer = call(
        stack, "POST", "/resend/emails/batch",
        [{**good, "subject": permissive_subject}, {**good, "to": SUPPRESSED}],
        {**bearer(key), "x-batch-validation": "permissive"},
    )  # fmt: skip
    assert status == 200, answer
    assert [error["index"] for error in answer["errors"]] == [1]
    assert wait_for_subject(stack, permissive_subject, copies=1) == [permissive_subject]
    assert subject not in outbox_subjects(stack)  # the strict batch's good email was never sent


# --- SMTP control headers are not custom headers over HTTP ------------------------------------------------
CONTROL_HEADER = "X-Posthorn-Idempotency-Key"
WITH_CONTROL_HEADER = [
    ("v1", "/v1/email", "Authorization", "Bearer {key}", 422,
     {"from_email": f"hello@{SENDER_DOMAIN}", "to": ["a@example.net"], "subject": "h", "body_text": "x",
      "headers": {CONTROL_HEADER: "k"}}),
    ("resend", "/resend/emails", "Authorization", "Bearer {key}", 422,
     {"from": f"hello@{SENDER_DOMAIN}", "to": "a@example.net", "subject": "h", "text": "x",
      "headers": {CONTROL_HEADER: "k"}}),
    ("postmark", "/postmark/email", "X-Postmark-Server-Token", "{key}", 422,
     {"From": f"hello@{SENDER_DOMAIN}", "To": "a@example.net", "Subject": "h", "TextBody": "x",
      "Headers": [{"Name": CONTROL_HEADER, "Value": "k"}]}),
    ("zeptomail", "/zeptomail/v1.1/email", "Authorization", "Zoho-enczapikey {key}", 400,
     {"from": {"address": f"hello@{SENDER_DOMAIN}"}, "to": [{"email_address": {"address": "a@example.net"}}],
      "subject": "h", "textbody": "x", "mime_headers": {CONTROL_HEADER: "k"}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("surface", "path", "header", "value", "expected", "body"),
    WITH_CONTROL_HEADER,
    ids=[w[0] for w in WITH_CONTROL_HEADER],
)
def test_an_smtp_control_header_is_refused_on_every_http_entry_point(
    stack: LocalStack, key: str, surface: str, path: str, header: str, value: str, expected: int,
    body: dict[str, Any],
) -> None:  # fmt: skip
    """API.md, "SMTP relay": the control headers are read and removed there. Over HTTP they were mailed to
    the recipient as they stood (an idempotency key, a file key); every HTTP entry point now refuses them,
    naming the header, in its own shape."""
    status, answer = call(stack, "POST", path, body, {header: value.format(key=key)})
    assert status == expected, answer
    assert CONTROL_HEADER in json.dumps(answer), answer
