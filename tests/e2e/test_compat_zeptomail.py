"""ZeptoMail's own npm SDK (`zeptomail`, `SendMailClient`, pinned in tests/e2e/clients/sdk-zeptomail) sends
through Posthorn's ZeptoMail surface of a running local stack, configured as ZeptoMail's README shows it:
`new SendMailClient({url, token})`, `url` the stack's `<api>/zeptomail/` and `token` `Zoho-enczapikey
<api_key>` (plus the SDK's own `{useHttps: false}`, as the local stack speaks http). `make sdk-clients`
installs it.

What matters is checked where it lands: the copy the local SES received (envelope, headers, attachments,
the inline image, a file from the file cache), the record `GET /v1/messages/{request_id}` shows, a batch's
one message per recipient with its merge fields, and a bad key, a bad field and a rate limit in ZeptoMail's
error shape and status."""

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
from tests.e2e.test_smtp_clients import copies, files_of, png, posthorn_id

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 15
FROM = {"address": f"hello@{SENDER_DOMAIN}", "name": "Zoë's Café"}
TO = {"address": "juergen@example.net", "name": "Müller, Jürgen"}
CC = {"address": "team@example.net", "name": "Team"}
BCC = {"address": "hidden@example.org", "name": "Heimlich"}
REPORT = b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n.\r\n"
NOTES = b"notes from the file cache\n"


def credential(http: Http, name: str, rate: int | None = None) -> str:
    assert http.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=ADMIN_KEY).status in (200, 201)
    body: dict[str, Any] = {
        "name": name,
        "domains": [SENDER_DOMAIN],
        "permissions": ["send", "read", "files"],
    }
    if rate is not None:
        body["rate_limit_per_second"] = rate
    created = http.post("/v1/credentials", body, api_key=ADMIN_KEY)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture(scope="module")
def key(http: Http) -> str:
    return credential(http, "zeptomail")


def zeptomail(stack: LocalStack, token: str, call: str, options: dict[str, Any]) -> dict[str, Any]:
    """What the SDK resolved (`{"answer": ...}`) or rejected with (`{"rejected": ...}`)."""
    config = {"url": f"{stack.api_url}/zeptomail/", "token": token, "use_https": False, "call": call}
    return cast(dict[str, Any], run_sdk("zeptomail", "zeptomail", {**config, "options": options}))


def landed(stack: LocalStack, message_id: str) -> tuple[Any, EmailMessage]:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := copies(stack, lambda parsed: posthorn_id(parsed) == message_id)):
        assert time.monotonic() < deadline, f"the local SES received no copy of {message_id}"
        time.sleep(0.1)
    assert len(found) == 1
    return found[0]


def record(http: Http, api_key: str, message_id: str) -> dict[str, Any]:
    answer = http.get(f"/v1/messages/{message_id}", api_key=api_key)
    assert answer.status == 200, answer.body
    return cast(dict[str, Any], answer.json)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_send_mail_reaches_ses_with_recipients_headers_attachments_inline_image_and_cached_file(
    stack: LocalStack, http: Http, key: str
) -> None:
    uploaded = http.post(
        "/v1/files", {"name": "notes.txt", "content": b64(NOTES), "content_type": "text/plain"}, api_key=key
    )
    assert uploaded.status == 201, uploaded.body
    reference = f"order-{uuid.uuid4().hex[:8]}"
    subject = f"Grüße über ZeptoMail {uuid.uuid4().hex[:8]}"
    answer = zeptomail(
        stack,
        f"Zoho-enczapikey {key}",
        "sendMail",
        {
            "from": FROM,
            "to": [{"email_address": TO}],
            "cc": [{"email_address": CC}],
            "bcc": [{"email_address": BCC}],
            "reply_to": [{"address": "support@example.com", "name": "Support"}],
            "subject": subject,
            "htmlbody": '<p>Hallo Jürgen</p><img src="cid:logo">',
            "textbody": "Hallo Jürgen",
            "track_opens": True,
            "client_reference": reference,
            "mime_headers": {"X-Order": "42"},
            "attachments": [
                {"content": b64(REPORT), "mime_type": "application/pdf", "name": "Rechnung März.pdf"},
                {"file_cache_key": uploaded.json["file_key"], "name": "notes.txt"},
            ],
            "inline_images": [{"content": b64(png()), "mime_type": "image/png", "cid": "logo"}],
        },
    )["answer"]

    assert answer["message"] == "OK"
    assert answer["object"] == "email"
    assert answer["data"] == [{"code": "EM_104", "additional_info": [], "message": "Email request received"}]
    message_id = answer["request_id"]
    outboxed, copy = landed(stack, message_id)
    assert outboxed.mail_from == FROM["address"]
    assert sorted(outboxed.rcpt_to) == sorted([TO["address"], CC["address"], BCC["address"]])
    assert str(copy["Subject"]) == subject
    [sender] = copy["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (FROM["name"], FROM["address"])
    [to] = copy["To"].addresses
    assert (to.display_name, to.addr_spec) == (TO["name"], TO["address"])
    assert [cc.addr_spec for cc in copy["Cc"].addresses] == [CC["address"]]
    assert "Bcc" not in copy
    assert [reply.addr_spec for reply in copy["Reply-To"].addresses] == ["support@example.com"]
    assert copy["X-Order"] == "42"
    parts = files_of(copy)
    assert parts["Rechnung März.pdf"].get_payload(decode=True) == REPORT
    assert parts["Rechnung März.pdf"].get_content_type() == "application/pdf"
    assert parts["notes.txt"].get_payload(decode=True) == NOTES
    [image] = [part for part in copy.walk() if part["Content-ID"] == "<logo>"]
    assert image.get_payload(decode=True) == png()
    assert image.get_content_type() == "image/png"

    shown = record(http, key, message_id)
    assert shown["client_reference"] == reference
    assert shown["subject"] == subject
    assert sorted((r["email"], r["type"]) for r in shown["recipients"]) == sorted(
        [(TO["address"], "to"), (CC["address"], "cc"), (BCC["address"], "bcc")]
    )


def test_batch_sends_each_recipient_its_own_message_with_its_merge_fields(
    stack: LocalStack, http: Http, key: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    recipients = [
        {"email_address": {"address": "ada@example.net", "name": "Ada"}, "merge_info": {"name": "Ada"}},
        {"email_address": {"address": "bob@example.net"}, "merge_info": {"name": "Bob <3"}},
        {"email_address": {"address": "carol@example.net", "name": "Carol"}},
    ]
    answer = zeptomail(
        stack,
        f"Zoho-enczapikey {key}",
        "sendBatchMail",
        {
            "from": FROM,
            "to": recipients,
            "merge_info": {"name": "there"},
            "subject": f"Hi {{{{name}}}} {tag}",
            "htmlbody": "<p>Hello {{name}}</p>",
            "textbody": "Hello {{name}}",
            "client_reference": "ref-{{name}}",
        },
    )["answer"]

    assert answer["message"] == "OK"
    assert [entry["code"] for entry in answer["data"]] == ["EM_104"] * 3
    ids = [entry["additional_info"][0]["message_id"] for entry in answer["data"]]
    assert [entry["additional_info"][0]["email_address"] for entry in answer["data"]] == [
        "ada@example.net",
        "bob@example.net",
        "carol@example.net",
    ]
    assert answer["request_id"] == ids[0]
    for message_id, address, name in zip(
        ids,
        ["ada@example.net", "bob@example.net", "carol@example.net"],
        ["Ada", "Bob <3", "there"],
        strict=True,
    ):
        outboxed, copy = landed(stack, message_id)
        assert outboxed.rcpt_to == (address,)
        assert str(copy["Subject"]) == f"Hi {name} {tag}"
        text, html = copy.get_body(("plain",)), copy.get_body(("html",))
        assert text is not None
        assert html is not None
        assert text.get_content().strip() == f"Hello {name}"
        # A merge value is HTML-escaped in the HTML body, as template_data's are.
        assert html.get_content().strip() == f"<p>Hello {name.replace('<', '&lt;')}</p>"
        assert record(http, key, message_id)["client_reference"] == f"ref-{name}"


def test_a_bad_key_is_zeptomails_401_access_denied(stack: LocalStack, http: Http) -> None:
    rejected = zeptomail(
        stack,
        "Zoho-enczapikey ph_nobody.wrong-secret",
        "sendMail",
        {"from": FROM, "to": [{"email_address": TO}], "subject": "x", "textbody": "x"},
    )["rejected"]
    assert rejected["error"]["code"] == "TM_4001"
    assert rejected["error"]["message"] == "Access Denied"
    assert [detail["code"] for detail in rejected["error"]["details"]] == ["SERR_157"]
    raw = http.post("/zeptomail/v1.1/email", {"from": FROM}, headers={"Authorization": "Zoho-enczapikey x"})
    assert raw.status == 401
    assert raw.json["error"]["code"] == "TM_4001"


def test_a_field_posthorn_cannot_honour_is_refused_naming_it(stack: LocalStack, key: str) -> None:
    base = {"from": FROM, "to": [{"email_address": TO}], "subject": "x", "textbody": "x"}
    rejected = zeptomail(stack, f"Zoho-enczapikey {key}", "sendMail", {**base, "template_key": "2d6f.1"})[
        "rejected"
    ]
    assert rejected["error"]["code"] == "TM_4001"
    [detail] = rejected["error"]["details"]
    assert (detail["code"], detail["target"]) == ("SM_113", "template_key")
    bad_address = {**base, "to": [{"email_address": {"address": "not-an-address"}}]}
    rejected = zeptomail(stack, f"Zoho-enczapikey {key}", "sendMail", bad_address)["rejected"]
    [detail] = rejected["error"]["details"]
    assert (detail["code"], detail["target"]) == ("SM_113", "to[0].email_address.address")
    unknown = zeptomail(stack, f"Zoho-enczapikey {key}", "sendMail", {**base, "schedule": "tomorrow"})
    assert [detail["target"] for detail in unknown["rejected"]["error"]["details"]] == ["schedule"]
    # Refused while the message is sent (the key is looked up then), still in ZeptoMail's field names.
    missing_key = {**base, "inline_images": [{"cid": "logo", "file_cache_key": "fk_0000000000000000000000"}]}
    rejected = zeptomail(stack, f"Zoho-enczapikey {key}", "sendMail", missing_key)["rejected"]
    [detail] = rejected["error"]["details"]
    assert detail["target"] == "inline_images[0].file_cache_key", rejected


def test_over_the_rate_is_429_in_zeptomails_shape(stack: LocalStack, http: Http) -> None:
    slow = credential(http, "zeptomail-slow", rate=1)
    # A batch over the rate is accepted and the credential then waits out its messages (README, "Rate
    # limits"): twenty recipients at one a second leave no room for another message for twenty seconds.
    batch = {
        "from": FROM,
        "to": [{"email_address": {"address": f"r{index}@example.net"}} for index in range(20)],
        "subject": "many",
        "textbody": "many",
    }
    assert zeptomail(stack, f"Zoho-enczapikey {slow}", "sendBatchMail", batch)["answer"]["message"] == "OK"
    single = {"from": FROM, "to": [{"email_address": TO}], "subject": "one more", "textbody": "x"}
    rejected = zeptomail(stack, f"Zoho-enczapikey {slow}", "sendMail", single)["rejected"]
    assert rejected["error"]["code"] == "TM_3601"
    assert [detail["code"] for detail in rejected["error"]["details"]] == ["SMI_115"]
    raw = http.post("/zeptomail/v1.1/email", single, headers={"Authorization": f"Zoho-enczapikey {slow}"})
    assert raw.status == 429
    assert int(raw.headers["Retry-After"]) >= 1


def test_a_batch_answers_each_recipient_a_suppressed_one_with_its_code(
    stack: LocalStack, http: Http, key: str
) -> None:
    suppressed = f"gone-{uuid.uuid4().hex[:8]}@example.net"
    assert http.post("/v1/suppressions", {"email": suppressed}, api_key=key).status in (200, 201)
    answer = zeptomail(
        stack,
        f"Zoho-enczapikey {key}",
        "sendBatchMail",
        {
            "from": FROM,
            "to": [
                {"email_address": {"address": suppressed}},
                {"email_address": {"address": "ok@example.net"}},
            ],
            "subject": "batch with a suppressed recipient",
            "textbody": "x",
        },
    )["answer"]
    gone, sent = answer["data"]
    assert gone["code"] == "SM_113"
    assert gone["additional_info"] == [{"email_address": suppressed}]
    assert sent["code"] == "EM_104"
    assert answer["request_id"] == sent["additional_info"][0]["message_id"]
    outboxed, _ = landed(stack, answer["request_id"])
    assert outboxed.rcpt_to == ("ok@example.net",)


def test_an_idempotency_key_answers_a_resend_with_the_first_request_id(http: Http, key: str) -> None:
    body = {"from": FROM, "to": [{"email_address": TO}], "subject": "once", "textbody": "once"}
    headers = {"Authorization": f"Zoho-enczapikey {key}", "Idempotency-Key": uuid.uuid4().hex}
    first = http.post("/zeptomail/v1.1/email", body, headers=headers)
    again = http.post("/zeptomail/v1.1/email", body, headers=headers)
    assert first.status == again.status == 201
    assert again.json["request_id"] == first.json["request_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
