"""Postmark's own Node.js SDK (`postmark`, pinned in tests/e2e/clients/sdk-postmark) against the running local
stack's Postmark surface, configured only with a base URL (`requestHost`) and a Posthorn api_key as its
server token: a send reaches the local SES with its recipients, headers and attachments; the MessageID it
returns is Posthorn's (`GET /v1/messages/{id}`); a batch answers per message; and a bad key, a bad field, a
foreign sender, a suppressed recipient and the rate limit come back as the SDK's own error classes with
Postmark's ErrorCodes. `make sdk-clients` installs the SDK."""

from __future__ import annotations

import base64
import time
import uuid
from email.message import EmailMessage
from typing import Any, cast

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http
from tests.e2e.sdk_clients import run_sdk
from tests.e2e.test_smtp_clients import files_of, normalized, parse, png, posthorn_id, subject_of

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 15
REPORT = b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n.\r\n"
LOGO = png()


def sdk(stack: LocalStack, token: str, *calls: tuple[str, Any]) -> list[dict[str, Any]]:
    """Run the SDK's calls in one process; each result is {"ok": answer} or {"error": the SDK's error}."""
    config = {
        "request_host": stack.api_url.removeprefix("http://") + "/postmark",
        "use_https": False,
        "token": token,
        "calls": [{"method": method, "body": body} for method, body in calls],
    }
    return cast(list[dict[str, Any]], run_sdk("postmark", "postmark", config, timeout=90)["results"])


def one(stack: LocalStack, token: str, method: str, body: Any) -> dict[str, Any]:
    [result] = sdk(stack, token, (method, body))
    return result


def message(**fields: Any) -> dict[str, Any]:
    return {
        "From": f"Zoë's Café <hello@{SENDER_DOMAIN}>",
        "To": "juergen@example.net",
        "Subject": f"Postmark SDK {uuid.uuid4().hex[:10]}",
        "TextBody": "Hallo Jürgen",
        "MessageStream": "outbound",
        **fields,
    }


def wait_for_record(http: Http, key: str, message_id: str, recipients: int) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = http.get(f"/v1/messages/{message_id}", api_key=key)
        assert response.status == 200, response.body
        record = cast(dict[str, Any], response.json)
        statuses = [r["status"] for r in record["recipients"]]
        if len(statuses) == recipients and set(statuses) == {"delivered"}:
            return record
        assert time.monotonic() < deadline, f"{message_id} is {record['status']}, recipients {statuses}"
        time.sleep(0.1)


def copy_of(stack: LocalStack, message_id: str) -> tuple[Any, EmailMessage]:
    found = [(o, parse(o.raw)) for o in stack.ses.outbox.list()]
    copies = [(o, parsed) for o, parsed in found if posthorn_id(parsed) == message_id]
    assert len(copies) == 1, f"the local SES received {len(copies)} copies of {message_id}"
    return copies[0]


@pytest.fixture
def limited_key(http: Http, sender_key: str) -> str:
    """A new send credential of one message per second, its bucket full (after `sender_key` registered
    the domain)."""
    created = http.post(
        "/v1/credentials",
        {
            "name": "postmark-limited",
            "domains": [SENDER_DOMAIN],
            "permissions": ["send"],
            "rate_limit_per_second": 1,
        },
        api_key=ADMIN_KEY,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


# ------------------------------------------------------------------------------------------------ sends
def test_sdk_send_reaches_ses_with_recipients_headers_attachments_and_its_message_id_is_posthorns(
    stack: LocalStack, http: Http, sender_key: str
) -> None:
    html = '<p>Hallo <b>Jürgen</b></p><img src="cid:logo@posthorn.test" alt="logo">'
    mail = message(
        To='"Müller, Jürgen" <juergen@example.net>, team@example.net',
        Cc="Ærøskøbing Team <cc@example.net>",
        Bcc="hidden@example.org",
        ReplyTo="Support <support@example.com>",
        HtmlBody=html,
        Headers=[{"Name": "X-Order-Id", "Value": "A-1234"}],
        Attachments=[
            {
                "Name": "Rechnung März.pdf",
                "Content": base64.b64encode(REPORT).decode(),
                "ContentType": "application/pdf",
                "ContentID": None,
            },
            {
                "Name": "logo.png",
                "Content": base64.b64encode(LOGO).decode(),
                "ContentType": "image/png",
                "ContentID": "cid:logo@posthorn.test",
            },
        ],
        Tag="receipt",
        Metadata={"order_id": "1234"},
        TrackOpens=True,
        TrackLinks="HtmlOnly",
    )
    result = one(stack, sender_key, "sendEmail", mail)
    assert "ok" in result, result
    answer = result["ok"]
    assert (answer["ErrorCode"], answer["Message"], answer["To"]) == (0, "OK", mail["To"])
    assert answer["SubmittedAt"]
    message_id = answer["MessageID"]

    record = wait_for_record(http, sender_key, message_id, recipients=4)
    assert record["message_id"] == message_id
    assert record["subject"] == mail["Subject"]
    assert record["from_email"] == f"hello@{SENDER_DOMAIN}"
    assert record["tags"] == ["receipt"]
    assert record["metadata"] == {"order_id": "1234"}
    assert sorted((r["email"], r["type"]) for r in record["recipients"]) == [
        ("cc@example.net", "cc"),
        ("hidden@example.org", "bcc"),
        ("juergen@example.net", "to"),
        ("team@example.net", "to"),
    ]

    outboxed, copy = copy_of(stack, message_id)
    assert outboxed.mail_from == f"hello@{SENDER_DOMAIN}"
    assert sorted(outboxed.rcpt_to) == [
        "cc@example.net",
        "hidden@example.org",
        "juergen@example.net",
        "team@example.net",
    ]
    assert subject_of(copy) == mail["Subject"]
    [sender] = copy["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë's Café", f"hello@{SENDER_DOMAIN}")
    assert [(a.display_name, a.addr_spec) for a in copy["To"].addresses] == [
        ("Müller, Jürgen", "juergen@example.net"),
        ("", "team@example.net"),
    ]
    [cc] = copy["Cc"].addresses
    assert (cc.display_name, cc.addr_spec) == ("Ærøskøbing Team", "cc@example.net")
    assert "Bcc" not in copy
    assert b"hidden@example.org" not in outboxed.raw.split(b"\r\n\r\n", 1)[0]
    [reply_to] = copy["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Support", "support@example.com")
    assert copy["X-Order-Id"] == "A-1234"
    assert "X-SES-CONFIGURATION-SET" in copy  # TrackOpens / TrackLinks pick the tracking configuration set

    plain, body = copy.get_body(("plain",)), copy.get_body(("html",))
    assert plain is not None
    assert body is not None
    assert normalized(plain.get_content()) == mail["TextBody"]
    assert normalized(body.get_content()) == html
    parts = files_of(copy)
    assert parts["Rechnung März.pdf"].get_payload(decode=True) == REPORT
    assert parts["Rechnung März.pdf"].get_content_type() == "application/pdf"
    assert parts["logo.png"].get_payload(decode=True) == LOGO
    assert parts["logo.png"]["Content-ID"] == "<logo@posthorn.test>"


def test_sdk_batch_answers_per_message_and_queues_the_good_ones(
    stack: LocalStack, http: Http, sender_key: str
) -> None:
    first, second = message(To="a@example.net"), message(To="B <b@example.net>", HtmlBody="<p>hi</p>")
    refused = message(TemplateId=1234)
    [result] = sdk(stack, sender_key, ("sendEmailBatch", [first, refused, second]))
    assert "ok" in result, result
    sent_first, not_sent, sent_second = result["ok"]
    assert (sent_first["ErrorCode"], sent_first["Message"], sent_first["To"]) == (0, "OK", "a@example.net")
    assert (sent_second["ErrorCode"], sent_second["To"]) == (0, "B <b@example.net>")
    assert not_sent["ErrorCode"] == 300
    assert "TemplateId" in not_sent["Message"]
    assert "MessageID" not in not_sent
    for sent, address in ((sent_first, "a@example.net"), (sent_second, "b@example.net")):
        record = wait_for_record(http, sender_key, sent["MessageID"], recipients=1)
        assert [r["email"] for r in record["recipients"]] == [address]
        outboxed, _ = copy_of(stack, sent["MessageID"])
        assert outboxed.rcpt_to == (address,)


# ------------------------------------------------------------------------------------------------ errors
def test_a_bad_key_is_the_sdks_invalid_api_key_error_with_code_10(stack: LocalStack, sender_key: str) -> None:
    wrong = sender_key.partition(".")[0] + ".not-the-secret"
    for token in (wrong, "ph_nobody.secret"):
        error = one(stack, token, "sendEmail", message())["error"]
        assert (error["class"], error["statusCode"], error["code"]) == ("InvalidAPIKeyError", 401, 10)


def test_a_field_posthorn_cannot_honour_is_the_sdks_invalid_email_request_naming_it(
    stack: LocalStack, sender_key: str
) -> None:
    results = sdk(
        stack,
        sender_key,
        ("sendEmail", message(TemplateAlias="welcome")),
        ("sendEmail", message(TrackLinks="TextOnly")),
        ("sendEmail", message(MessageStream="broadcast")),
        ("sendEmail", message(To="not-an-address")),
    )
    for result, field in zip(results, ("TemplateAlias", "TrackLinks", "MessageStream", "To"), strict=True):
        error = result["error"]
        assert (error["class"], error["statusCode"], error["code"]) == ("InvalidEmailRequestError", 422, 300)
        assert f"'{field}'" in error["message"]


def test_an_attachment_the_send_refuses_is_named_as_postmarks_field_alone_and_in_a_batch(
    stack: LocalStack, sender_key: str
) -> None:
    bad = message(Attachments=[{"Name": "a.pdf", "Content": "not base64!", "ContentType": "application/pdf"}])
    single, batch = sdk(stack, sender_key, ("sendEmail", bad), ("sendEmailBatch", [bad]))
    error = single["error"]
    assert (error["class"], error["statusCode"], error["code"]) == ("InvalidEmailRequestError", 422, 300)
    assert error["message"] == "Invalid 'Attachments[0].Content': is not valid base64"
    assert batch["ok"] == [{"ErrorCode": 300, "Message": error["message"]}]


def test_a_sender_off_the_credentials_domains_is_sender_signature_not_found(
    stack: LocalStack, sender_key: str
) -> None:
    error = one(stack, sender_key, "sendEmail", message(From="someone@example.org"))["error"]
    assert (error["class"], error["statusCode"], error["code"]) == ("ApiInputError", 422, 400)


def test_a_suppressed_recipient_is_the_sdks_inactive_recipients_error_listing_it(
    stack: LocalStack, http: Http, sender_key: str
) -> None:
    suppressed = f"gone-{uuid.uuid4().hex[:8]}@example.net"
    added = http.post("/v1/suppressions", {"email": suppressed, "domain": SENDER_DOMAIN}, api_key=sender_key)
    assert added.status in (200, 201), added.body
    error = one(stack, sender_key, "sendEmail", message(To=suppressed))["error"]
    assert (error["class"], error["statusCode"], error["code"]) == ("InactiveRecipientsError", 422, 406)
    assert error["recipients"] == [suppressed]


def test_over_the_rate_limit_is_the_sdks_rate_limit_exceeded_error(
    stack: LocalStack, limited_key: str
) -> None:
    # A batch of five refused messages still counts five against one per second: the bucket is then about
    # five seconds behind, so the send right after it is over the limit however slow the machine is.
    refused = [message(TemplateId=1)] * 5
    batch, send = sdk(stack, limited_key, ("sendEmailBatch", refused), ("sendEmail", message()))
    assert [item["ErrorCode"] for item in batch["ok"]] == [300] * 5
    error = send["error"]
    assert (error["class"], error["statusCode"], error["code"]) == ("RateLimitExceededError", 429, 429)


def test_the_answers_are_postmarks_json_with_retry_after_on_a_429(http: Http, limited_key: str) -> None:
    headers = {"X-Postmark-Server-Token": limited_key, "Accept": "application/json"}
    refused = [message(TemplateId=1)] * 5
    batch = http.post("/postmark/email/batch", refused, headers=headers)
    assert batch.status == 200, batch.body
    over = http.post("/postmark/email", message(), headers=headers)
    assert over.status == 429
    assert over.json["ErrorCode"] == 429
    assert int(over.headers["Retry-After"]) >= 1
    missing = http.post("/postmark/email", message())
    assert (missing.status, missing.json["ErrorCode"]) == (401, 10)
    not_json = http.post("/postmark/email", b"{not json", headers=headers)
    assert (not_json.status, not_json.json["ErrorCode"]) == (422, 402)
