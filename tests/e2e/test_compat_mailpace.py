"""MailPace's own npm SDK (`@mailpace/mailpace.js`, `DomainClient`, pinned in tests/e2e/clients/sdk-mailpace)
sends through Posthorn's MailPace surface of a running local stack: `new DomainClient(<api_key>,
{requestHost: "<host>/mailpace/api/v1/"})`, then `sendEmail({...})`. The SDK always builds
`https://<requestHost>` (a deployed Posthorn is https); the local stack is http, so the client script checks
the URL the SDK built and swaps only its scheme on the SDK's public `httpClient` (see its send.js).
`make sdk-clients` installs it.

What matters is checked where it lands: the copy the local SES received (envelope, names, Reply-To,
In-Reply-To, References, List-Unsubscribe, attachments, the inline image, the tags), the record `GET
/v1/messages/{id}` shows, and a bad key, a bad field and a rate limit as MailPace answers them, through the
SDK's own error classes."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, cast

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import SENDER_DOMAIN, Http
from tests.e2e.sdk_clients import run_sdk
from tests.e2e.test_compat_zeptomail import credential, landed, record
from tests.e2e.test_smtp_clients import files_of, png

pytestmark = pytest.mark.e2e

REPORT = b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n.\r\n"


@pytest.fixture(scope="module")
def key(http: Http) -> str:
    return credential(http, "mailpace")


def mailpace(stack: LocalStack, token: str, email: dict[str, Any]) -> dict[str, Any]:
    """What `sendEmail` resolved (`{"answer": ...}`) or the SDK's error (`{"rejected": {name, message,
    statusCode}}`)."""
    host = stack.api_url.removeprefix("http://")
    config = {"request_host": f"{host}/mailpace/api/v1/", "token": token, "scheme": "http", "email": email}
    return cast(dict[str, Any], run_sdk("mailpace", "@mailpace/mailpace.js", config))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_send_email_reaches_ses_with_recipients_threading_unsubscribe_attachments_and_tags(
    stack: LocalStack, http: Http, key: str
) -> None:
    subject = f"Grüße über MailPace {uuid.uuid4().hex[:8]}"
    answer = mailpace(
        stack,
        key,
        {
            "from": f"Zoë's Café <hello@{SENDER_DOMAIN}>",
            "to": '"Müller, Jürgen" <juergen@example.net>, ada@example.net',
            "cc": "Team <team@example.net>",
            "bcc": "hidden@example.org",
            "replyto": "Support <support@example.com>",
            "subject": subject,
            "htmlbody": '<p>Hallo</p><img src="cid:logo">',
            "textbody": "Hallo",
            "inreplyto": "<first@example.com>",
            "references": "<first@example.com> <second@example.com>",
            "list_unsubscribe": "<https://example.com/unsubscribe?u=1>",
            "attachments": [
                {"name": "report.pdf", "content": b64(REPORT), "content_type": "application/pdf"},
                {"name": "logo.png", "content": b64(png()), "content_type": "image/png", "cid": "logo"},
            ],
            "tags": ["welcome", "receipt"],
        },
    )["answer"]

    assert answer["status"] == "queued"
    message_id = answer["id"]
    outboxed, copy = landed(stack, message_id)
    assert outboxed.mail_from == f"hello@{SENDER_DOMAIN}"
    assert sorted(outboxed.rcpt_to) == sorted(
        ["juergen@example.net", "ada@example.net", "team@example.net", "hidden@example.org"]
    )
    assert str(copy["Subject"]) == subject
    [sender] = copy["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë's Café", f"hello@{SENDER_DOMAIN}")
    assert [(to.display_name, to.addr_spec) for to in copy["To"].addresses] == [
        ("Müller, Jürgen", "juergen@example.net"),
        ("", "ada@example.net"),
    ]
    assert [cc.addr_spec for cc in copy["Cc"].addresses] == ["team@example.net"]
    assert "Bcc" not in copy
    assert [reply.addr_spec for reply in copy["Reply-To"].addresses] == ["support@example.com"]
    assert copy["In-Reply-To"] == "<first@example.com>"
    assert copy["References"] == "<first@example.com> <second@example.com>"
    assert copy["List-Unsubscribe"] == "<https://example.com/unsubscribe?u=1>"
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert files_of(copy)["report.pdf"].get_payload(decode=True) == REPORT
    [image] = [part for part in copy.walk() if part["Content-ID"] == "<logo>"]
    assert image.get_payload(decode=True) == png()
    assert "welcome=true" in copy["X-SES-MESSAGE-TAGS"]

    shown = record(http, key, message_id)
    assert shown["tags"] == ["welcome", "receipt"]
    assert sorted((r["email"], r["type"]) for r in shown["recipients"]) == sorted(
        [
            ("juergen@example.net", "to"),
            ("ada@example.net", "to"),
            ("team@example.net", "cc"),
            ("hidden@example.org", "bcc"),
        ]
    )


def test_a_single_tag_as_a_string(stack: LocalStack, http: Http, key: str) -> None:
    email = {
        "from": f"hello@{SENDER_DOMAIN}",
        "to": "ada@example.net",
        "subject": "one tag",
        "textbody": "x",
        "tags": "password-reset",
    }
    answer = mailpace(stack, key, email)["answer"]
    landed(stack, answer["id"])
    assert record(http, key, answer["id"])["tags"] == ["password-reset"]


def test_a_bad_or_missing_key_is_the_sdks_invalid_api_key(stack: LocalStack, http: Http) -> None:
    email = {"from": f"hello@{SENDER_DOMAIN}", "to": "ada@example.net", "subject": "x", "textbody": "x"}
    rejected = mailpace(stack, "ph_nobody.wrong-secret", email)["rejected"]
    assert rejected == {"name": "InvalidAPIKey", "message": "Invalid API Token", "statusCode": 401}
    missing = http.post("/mailpace/api/v1/send", email)
    assert (missing.status, missing.json) == (401, {"error": "Missing API Token"})


def test_a_bad_field_is_mailpaces_400_errors_naming_it(stack: LocalStack, key: str) -> None:
    base = {"from": f"hello@{SENDER_DOMAIN}", "to": "ada@example.net", "subject": "x", "textbody": "x"}
    rejected = mailpace(stack, key, {**base, "to": "not-an-address"})["rejected"]
    assert (rejected["name"], rejected["statusCode"]) == ("OmsError", 400)
    assert list(json.loads(rejected["message"])) == ["to"]
    unknown = mailpace(stack, key, {**base, "send_at": "tomorrow"})["rejected"]
    assert list(json.loads(unknown["message"])) == ["send_at"]
    two_replies = mailpace(stack, key, {**base, "replyto": "a@example.com, b@example.com"})["rejected"]
    assert list(json.loads(two_replies["message"])) == ["replyto"]


def test_over_the_rate_is_429(stack: LocalStack, http: Http) -> None:
    slow = credential(http, "mailpace-slow", rate=1)
    # A batch over the rate is accepted and the credential then waits out its messages (README, "Rate
    # limits"): twenty messages at one a second leave no room for another for twenty seconds.
    message = {
        "from_email": f"hello@{SENDER_DOMAIN}",
        "to": ["ada@example.net"],
        "subject": "x",
        "body_text": "x",
    }
    assert http.post("/v1/email/batch", {"messages": [message] * 20}, api_key=slow).status == 202
    email = {"from": f"hello@{SENDER_DOMAIN}", "to": "ada@example.net", "subject": "x", "textbody": "x"}
    rejected = mailpace(stack, slow, email)["rejected"]
    assert (rejected["name"], rejected["statusCode"]) == ("UnknownError", 429)
    assert "per second" in rejected["message"]
    raw = http.post("/mailpace/api/v1/send", email, headers={"MailPace-Server-Token": slow})
    assert raw.status == 429
    assert int(raw.headers["Retry-After"]) >= 1
    assert set(raw.json) == {"error"}
