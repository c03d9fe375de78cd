"""`POST /v1/email` through the real handler: validation and error mapping, the MIME as the local SES
receives it over SMTP, Idempotency-Key, suppression, and malformed bodies that must never be a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest

from posthorn_local.ses_smtp_server import FaultPlan, LocalSes, OutboxMessage
from posthorn_local.tls import TlsMaterial
from tests.conftest import ADMIN_KEY, SENDER_DOMAIN, SMTP, Stack, moto_stack
from tests.support.api import ApiClient, ApiResponse
from tests.support.bodies import email_body as message
from tests.support.queue import make_queue_unavailable

PATH = "/v1/email"


# One stack for the whole module: these tests only add data, so sharing it keeps them fast (a fresh moto
# stack costs ~0.4 s). Each test starts with an empty outbox, no queued faults, and its own keys.
@pytest.fixture(scope="module")
def local_ses(tls: TlsMaterial) -> Iterator[LocalSes]:
    with LocalSes(username=SMTP.username, password=SMTP.password, tls=tls, faults=FaultPlan(seed=1)) as ses:
        yield ses


@pytest.fixture(scope="module")
def stack(local_ses: LocalSes, tls: TlsMaterial) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch, moto_stack(local_ses, tls, patch) as made:
        yield made


@pytest.fixture(scope="module")
def admin(stack: Stack) -> str:
    from posthorn import wiring
    from posthorn.logic.accounts.credentials import seed_credential
    from posthorn.models.credentials import Permission

    store, pepper, now = wiring.credentials(), wiring.pepper(), datetime.now(UTC)
    seed_credential(
        store, pepper, ADMIN_KEY, name="admin", permissions=[Permission.ADMIN], domains=[], now=now
    )
    return ADMIN_KEY


@pytest.fixture(scope="module")
def api(stack: Stack) -> ApiClient:
    return ApiClient()


@pytest.fixture(scope="module")
def sender_key(api: ApiClient, admin: str) -> str:
    assert api.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=admin).status == 201
    body = {"name": "app", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"]}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture(autouse=True)
def _fresh_outbox(local_ses: LocalSes) -> Iterator[None]:
    local_ses.outbox.clear()
    local_ses.faults.script.clear()
    yield
    local_ses.faults.script.clear()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parse(received: OutboxMessage) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(received.raw, policy=policy.default))


def text_of(part: EmailMessage) -> str:
    return str(part.get_content()).replace("\r\n", "\n")


def assert_error(response: ApiResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    error = response.json["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    return dict(error)


def fields_of(response: ApiResponse) -> list[str]:
    return [detail.get("field", "") for detail in response.json["error"].get("details", [])]


def suppress(stack: Stack, domain: str, address: str) -> None:
    stack.session.client("dynamodb").put_item(
        TableName=stack.table,
        Item={
            "pk": {"S": f"SUPP#{domain}"},
            "sk": {"S": address.lower()},
            "email": {"S": address.lower()},
            "domain": {"S": domain},
            "reason": {"S": "manual"},
            "created_at": {"S": "2026-01-01T00:00:00+00:00"},
        },
    )


# --- validation → 422 / 400 ------------------------------------------------------------------------
def test_send_with_bad_address_is_422_naming_its_index(api: ApiClient, sender_key: str) -> None:
    to = ["a@example.net", "b@example.net", {"email": "c@example.net"}, {"email": "not-an-address"}]
    response = api.post(PATH, message(to=to), api_key=sender_key)
    assert_error(response, 422, "validation_error")
    assert fields_of(response) == ["to[3].email"]


def test_send_over_50_recipients_is_422(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    body = message(
        to=[f"t{i}@example.net" for i in range(30)],
        cc=[f"c{i}@example.net" for i in range(15)],
        bcc=[f"b{i}@example.net" for i in range(6)],
    )
    response = api.post(PATH, body, api_key=sender_key)
    assert "50" in assert_error(response, 422, "validation_error")["message"]
    assert len(local_ses.outbox) == 0


def test_send_without_to_is_422(api: ApiClient, sender_key: str) -> None:
    response = api.post(PATH, message(to=...), api_key=sender_key)
    assert_error(response, 422, "validation_error")
    assert fields_of(response) == ["to"]


def test_send_without_any_body_is_422(api: ApiClient, sender_key: str) -> None:
    response = api.post(PATH, message(body_text=...), api_key=sender_key)
    assert "body_text" in assert_error(response, 422, "validation_error")["message"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "Hi\r\nBcc: evil@x.test"}, "subject"),
        ({"from_name": "Evil\nBcc: evil@x.test"}, "from_name"),
        ({"to": [{"email": "a@example.net", "name": "A\u2028B"}]}, "to[0].name"),
        ({"headers": {"X-Ref": "a\r\nBcc: evil@x.test"}}, "headers.X-Ref"),
        ({"headers": {"X-SES-CONFIGURATION-SET": "other"}}, "headers"),
        ({"headers": {"Content-Type": "text/html"}}, "headers"),
        ({"headers": {"MIME-Version": "2.0"}}, "headers"),
        ({"headers": {"bcc": "evil@x.test"}}, "headers"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"tags": ["bad tag"]}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"metadata": {f"k{i}": "v" for i in range(21)}}, "metadata"),
        ({"list_unsubscribe": "https://example.com/unsub"}, "list_unsubscribe"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"attachments": [{"name": "a.exe", "content": "eA=="}]}, "attachments[0].name"),
    ],
)  # fmt: skip
def test_send_with_invalid_field_is_422_with_its_path(
    api: ApiClient, sender_key: str, overrides: dict[str, Any], field: str
) -> None:
    response = api.post(PATH, message(**overrides), api_key=sender_key)
    assert_error(response, 422, "validation_error")
    assert field in fields_of(response)


def test_send_with_bad_base64_attachment_is_422(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    attachment = {"name": "a.pdf", "content": "not base64!", "content_type": "application/pdf"}
    response = api.post(PATH, message(attachments=[attachment]), api_key=sender_key)
    assert_error(response, 422, "validation_error")
    assert fields_of(response) == ["attachments[0].content"]
    assert len(local_ses.outbox) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'"text"', b"42", b"true"])
def test_send_with_body_that_is_not_a_json_object_is_400(api: ApiClient, sender_key: str, raw: bytes) -> None:
    assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")


def test_send_with_json_array_of_messages_is_400_and_sends_nothing(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    raw = json.dumps([message(), message(to=["second@example.net"])]).encode()
    response = api.request("POST", PATH, raw=raw, api_key=sender_key)
    assert len(local_ses.outbox) == 0
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("raw", [b"", b"null"])
def test_send_with_empty_or_null_body_is_400(api: ApiClient, sender_key: str, raw: bytes) -> None:
    assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")


def test_send_with_wrong_content_type_is_400(api: ApiClient, sender_key: str) -> None:
    response = api.request(
        "POST",
        PATH,
        raw=json.dumps(message()).encode(),
        api_key=sender_key,
        headers={"Content-Type": "text/plain"},
    )
    assert_error(response, 400, "invalid_json")


def test_send_with_placeholder_without_value_is_422_naming_it(api: ApiClient, sender_key: str) -> None:
    body = message(subject="Welcome, {first_name}!", body_text="Order {order_id}", template_data={"x": "1"})
    response = api.post(PATH, body, api_key=sender_key)
    error = assert_error(response, 422, "missing_template_data")
    assert "first_name" in error["message"]
    assert "order_id" in error["message"]
    assert set(fields_of(response)) == {"template_data.first_name", "template_data.order_id"}


def test_send_with_line_break_in_template_value_for_subject_is_422(api: ApiClient, sender_key: str) -> None:
    body = message(subject="Hi {name}", template_data={"name": "x\r\nBcc: evil@x.test"})
    response = api.post(PATH, body, api_key=sender_key)
    assert_error(response, 422, "validation_error")
    assert fields_of(response) == ["template_data.name"]


def test_send_from_a_domain_not_on_the_credential_is_403(api: ApiClient, sender_key: str) -> None:
    response = api.post(PATH, message(from_email="hello@other.example"), api_key=sender_key)
    assert_error(response, 403, "sender_not_allowed")


# --- the message as SES receives it -------------------------------------------------------------------
def test_send_returns_200_with_recipients_and_reaches_ses(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    response = api.post(
        PATH, message(to=["Jane <jane@example.net>"], cc=["c@example.net"]), api_key=sender_key
    )
    assert response.status == 200, response.body
    assert response.json["status"] == "sent"
    assert response.json["count"] == 2
    assert response.json["message_id"].startswith("msg_")
    assert response.json["recipients"] == [
        {"email": "jane@example.net", "type": "to", "status": "sent"},
        {"email": "c@example.net", "type": "cc", "status": "sent"},
    ]
    [received] = local_ses.outbox.list()
    assert received.mail_from == "hello@example.com"
    assert received.rcpt_to == ("jane@example.net", "c@example.net")


def test_both_bodies_arrive_as_multipart_alternative_with_template_data_escaped_in_html_only(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    body = message(
        subject="Welcome, {first_name}!",
        body_text="Hello {first_name}",
        body_html="<p>Hello {first_name}</p>",
        template_data={"first_name": "<Tom & Jerry>"},
    )
    assert api.post(PATH, body, api_key=sender_key).status == 200
    mime = parse(local_ses.outbox.list()[0])
    assert mime.get_content_type() == "multipart/alternative"
    text, html = list(mime.iter_parts())
    assert mime["Subject"] == "Welcome, <Tom & Jerry>!"
    assert text_of(text) == "Hello <Tom & Jerry>\n"
    assert text_of(html) == "<p>Hello &lt;Tom &amp; Jerry&gt;</p>\n"


def test_utf8_subject_and_names_are_encoded_and_decode_exactly(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    subject = "Grüße aus Köln — 你好 ✉"
    body = message(
        subject=subject,
        from_name="Zoë Åström",
        to=[{"email": "user@example.net", "name": "山田 太郎"}],
        reply_to_email="support@example.com",
        reply_to_name="Équipe",
    )
    assert api.post(PATH, body, api_key=sender_key).status == 200
    received = local_ses.outbox.list()[0]
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert b"=?utf-8?" in headers
    mime = parse(received)
    assert mime["Subject"] == subject
    assert mime["From"].addresses[0].display_name == "Zoë Åström"
    assert mime["To"].addresses[0].display_name == "山田 太郎"
    assert mime["Reply-To"].addresses[0].display_name == "Équipe"


def test_custom_headers_and_ses_tags_are_in_the_mime(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    body = message(headers={"X-Entity-Ref-ID": "abc-123"}, tags=["welcome", "onboarding"])
    response = api.post(PATH, body, api_key=sender_key)
    mime = parse(local_ses.outbox.list()[0])
    assert mime["X-Entity-Ref-ID"] == "abc-123"
    tags = dict(
        pair.strip().split("=", 1) for pair in " ".join(str(mime["X-SES-MESSAGE-TAGS"]).split()).split(",")
    )
    assert tags == {
        "posthorn_message_id": response.json["message_id"],
        "welcome": "true",
        "onboarding": "true",
    }


def test_tracking_flags_choose_the_configuration_set(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack
) -> None:
    expected = {
        (False, False): stack.env["CONFIGURATION_SET_PLAIN"],
        (True, False): stack.env["CONFIGURATION_SET_OPENS"],
        (False, True): stack.env["CONFIGURATION_SET_CLICKS"],
        (True, True): stack.env["CONFIGURATION_SET_OPENS_CLICKS"],
    }
    assert len(set(expected.values())) == 4
    for (opens, clicks), configuration_set in expected.items():
        body = message(track_opens=opens, track_clicks=clicks)
        assert api.post(PATH, body, api_key=sender_key).status == 200
        mime = parse(local_ses.outbox.list()[0])
        assert mime["X-SES-CONFIGURATION-SET"] == configuration_set, (opens, clicks)


def test_list_unsubscribe_post_only_with_an_https_uri(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    both = "<mailto:unsub@example.com>, <https://example.com/unsub?u=1>"
    assert api.post(PATH, message(list_unsubscribe=both), api_key=sender_key).status == 200
    with_https = parse(local_ses.outbox.list()[0])
    assert (
        api.post(PATH, message(list_unsubscribe="<mailto:u@example.com>"), api_key=sender_key).status == 200
    )
    mailto_only = parse(local_ses.outbox.list()[0])
    assert api.post(PATH, message(), api_key=sender_key).status == 200
    neither = parse(local_ses.outbox.list()[0])

    assert with_https["List-Unsubscribe"] == both
    assert with_https["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mailto_only["List-Unsubscribe"] == "<mailto:u@example.com>"
    assert mailto_only["List-Unsubscribe-Post"] is None
    assert neither["List-Unsubscribe"] is None


def test_metadata_and_client_reference_are_stored_not_written_into_the_mime(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    body = message(metadata={"order_id": "ORDER-77731"}, client_reference="REF-55519", tags=["welcome"])
    response = api.post(PATH, body, api_key=sender_key)
    raw = local_ses.outbox.list()[0].raw
    assert b"ORDER-77731" not in raw
    assert b"REF-55519" not in raw
    assert b"order_id" not in raw

    view = api.get(f"/v1/messages/{response.json['message_id']}", api_key=sender_key)
    assert view.status == 200, view.body
    assert view.json["metadata"] == {"order_id": "ORDER-77731"}
    assert view.json["client_reference"] == "REF-55519"
    assert view.json["tags"] == ["welcome"]
    assert view.json["status"] == "sent"
    assert view.json["ses_message_id"] == local_ses.outbox.list()[0].ses_message_id


def test_bcc_is_in_rcpt_but_not_in_the_headers(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    body = message(to=["to@example.net"], bcc=["hidden@example.org"])
    response = api.post(PATH, body, api_key=sender_key)
    assert response.json["recipients"][1] == {"email": "hidden@example.org", "type": "bcc", "status": "sent"}
    [received] = local_ses.outbox.list()
    assert received.rcpt_to == ("to@example.net", "hidden@example.org")
    assert b"hidden@example.org" not in received.raw
    assert parse(received)["Bcc"] is None


def test_duplicated_recipient_is_sent_once(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    body = message(to=["dup@example.net", "DUP@Example.NET"], cc=["dup@example.net"], bcc=["dup@EXAMPLE.net"])
    response = api.post(PATH, body, api_key=sender_key)
    assert response.status == 200, response.body
    assert response.json["count"] == 1
    assert [r["type"] for r in response.json["recipients"]] == ["to"]
    assert local_ses.outbox.list()[0].rcpt_to == ("dup@example.net",)


def test_body_lines_starting_with_a_dot_arrive_intact(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    text = "first\n.\n.single dot\n..two dots\n. spaced\nlast"
    assert api.post(PATH, message(body_text=text), api_key=sender_key).status == 200
    assert text_of(parse(local_ses.outbox.list()[0])) == text + "\n"


def test_a_2000_character_line_arrives_intact_and_wrapped_on_the_wire(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(2000))
    html = f"<p>{line}</p>"
    assert api.post(PATH, message(body_text=line, body_html=html), api_key=sender_key).status == 200
    raw = local_ses.outbox.list()[0].raw
    assert max(len(wire_line) for wire_line in raw.split(b"\r\n")) <= 998
    text, rich = list(parse(local_ses.outbox.list()[0]).iter_parts())
    assert text_of(text) == line + "\n"
    assert text_of(rich) == html + "\n"


def test_inline_image_and_attachment_arrive_decoded(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    png, pdf = b"\x89PNG\r\n\x1a\n\x00\x01", b"%PDF-1.7\n\x00\xff"
    body = message(
        body_html='<img src="cid:logo">',
        attachments=[
            {"name": "invoice.pdf", "content": b64(pdf), "content_type": "application/pdf"},
            {"name": "logo.png", "content": b64(png), "content_type": "image/png", "content_id": "logo"},
        ],
    )
    assert api.post(PATH, body, api_key=sender_key).status == 200
    mime = parse(local_ses.outbox.list()[0])
    assert mime.get_content_type() == "multipart/mixed"
    parts = {part.get_content_type(): part for part in mime.walk()}
    assert "multipart/related" in parts
    assert parts["application/pdf"].get_content() == pdf
    assert parts["image/png"].get_content() == png
    assert parts["image/png"]["Content-ID"] == "<logo>"


# --- Idempotency-Key ----------------------------------------------------------------------------------
def test_same_idempotency_key_and_body_replays_the_first_response(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    headers = {"Idempotency-Key": "order-1"}
    first = api.post(PATH, message(), api_key=sender_key, headers=headers)
    second = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert first.status == second.status == 200
    assert second.json == first.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(local_ses.outbox) == 1


@pytest.mark.parametrize("failures", [1, 10])
def test_a_record_write_failing_after_ses_took_the_message_answers_200_and_a_retry_never_sends_again(
    api: ApiClient, sender_key: str, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    """SES said 250, then writing its id failed: the message is sent, so the answer is 200 and the key
    remembers it. (Before: 500 internal_error, the key released, and the client's retry sent it again.)"""
    from posthorn.adapters.dynamodb.messages import MessageRepository

    real = MessageRepository.mark_sent
    left = [failures]

    def flaky(self: MessageRepository, *args: Any, **kwargs: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise ConnectionError("DynamoDB is unreachable")
        real(self, *args, **kwargs)

    monkeypatch.setattr(MessageRepository, "mark_sent", flaky)
    headers = {"Idempotency-Key": f"after-ses-{failures}"}
    first = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert first.status == 200, first.body
    again = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert (again.status, again.json) == (200, first.json)
    assert len(local_ses.outbox) == 1
    stored = api.get(f"/v1/messages/{first.json['message_id']}", api_key=sender_key).json
    assert stored["status"] == ("sent" if failures == 1 else "queued")  # the retried write landed, or not


def test_same_idempotency_key_with_a_different_body_is_409(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    headers = {"Idempotency-Key": "order-2"}
    assert api.post(PATH, message(), api_key=sender_key, headers=headers).status == 200
    response = api.post(PATH, message(subject="Other"), api_key=sender_key, headers=headers)
    assert_error(response, 409, "idempotency_conflict")
    assert len(local_ses.outbox) == 1


def test_idempotency_key_ignores_json_key_order_and_whitespace(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    headers = {"Idempotency-Key": "order-3"}
    compact = json.dumps(message(), separators=(",", ":")).encode()
    spread = json.dumps(dict(reversed(list(message().items()))), indent=4).encode()
    first = api.request("POST", PATH, raw=compact, api_key=sender_key, headers=headers)
    second = api.request("POST", PATH, raw=spread, api_key=sender_key, headers=headers)
    assert first.status == 200
    assert second.json == first.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(local_ses.outbox) == 1


def test_idempotency_key_over_256_characters_is_422(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    response = api.post(PATH, message(), api_key=sender_key, headers={"Idempotency-Key": "k" * 257})
    assert_error(response, 422, "validation_error")
    assert len(local_ses.outbox) == 0


def test_idempotency_keys_are_per_credential(
    api: ApiClient, sender_key: str, admin: str, local_ses: LocalSes
) -> None:
    other = api.post(
        "/v1/credentials",
        {"name": "other", "domains": ["example.com"], "permissions": ["send"]},
        api_key=admin,
    ).json["api_key"]
    headers = {"Idempotency-Key": "shared-key"}
    first = api.post(PATH, message(), api_key=sender_key, headers=headers)
    second = api.post(PATH, message(), api_key=other, headers=headers)
    assert first.status == second.status == 200
    assert first.json["message_id"] != second.json["message_id"]
    assert "Idempotent-Replayed" not in second.headers
    assert len(local_ses.outbox) == 2


def test_idempotency_key_is_released_after_an_upstream_failure_so_a_retry_sends(
    api: ApiClient, sender_key: str, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_queue_unavailable(monkeypatch)  # SES down and no queue to fall back to: a 503
    headers = {"Idempotency-Key": "retry-me"}
    local_ses.faults.force(*["454"] * 40)
    failed = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert_error(failed, 503, "upstream_unavailable")
    assert len(local_ses.outbox) == 0
    local_ses.faults.script.clear()

    retried = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert retried.status == 200, retried.body
    assert "Idempotent-Replayed" not in retried.headers
    assert len(local_ses.outbox) == 1


def test_idempotent_request_that_fails_keeps_its_error_status_and_replays_it(
    api: ApiClient, sender_key: str
) -> None:
    headers = {"Idempotency-Key": "bad-template"}
    body = message(subject="Hi {name}")
    body["template_data"] = {}
    first = api.post(PATH, body, api_key=sender_key, headers=headers)
    assert_error(first, 422, "missing_template_data")
    second = api.post(PATH, body, api_key=sender_key, headers=headers)
    assert_error(second, 422, "missing_template_data")
    assert second.headers.get("Idempotent-Replayed") == "true"


def test_idempotent_send_that_hits_ses_throttling_is_queued_and_replays_the_202(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    local_ses.faults.force(*["454"] * 40)
    headers = {"Idempotency-Key": "throttled"}
    first = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert first.status == 202, first.body
    assert first.json["status"] == "queued"
    second = api.post(PATH, message(), api_key=sender_key, headers=headers)
    assert second.status == 202
    assert second.json == first.json
    assert second.headers.get("Idempotent-Replayed") == "true"


# --- suppression --------------------------------------------------------------------------------------
def test_suppressed_recipient_is_listed_and_not_sent_to(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack
) -> None:
    suppress(stack, "example.com", "gone@example.net")
    body = message(to=["Gone@example.net", "fine@example.net"], bcc=["also-fine@example.net"])
    response = api.post(PATH, body, api_key=sender_key)
    assert response.status == 200, response.body
    assert response.json["count"] == 2
    assert {r["email"]: r["status"] for r in response.json["recipients"]} == {
        "Gone@example.net": "suppressed",
        "fine@example.net": "sent",
        "also-fine@example.net": "sent",
    }
    assert local_ses.outbox.list()[0].rcpt_to == ("fine@example.net", "also-fine@example.net")


def test_suppression_is_per_sending_domain(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack
) -> None:
    suppress(stack, "other.example", "user@example.net")
    assert api.post(PATH, message(), api_key=sender_key).status == 200
    assert local_ses.outbox.list()[0].rcpt_to == ("user@example.net",)


def test_all_recipients_suppressed_is_422(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack
) -> None:
    for address in ("a@example.net", "b@example.net"):
        suppress(stack, "example.com", address)
    response = api.post(PATH, message(to=["a@example.net"], cc=["B@example.net"]), api_key=sender_key)
    assert_error(response, 422, "all_recipients_suppressed")
    assert len(local_ses.outbox) == 0


# --- no client error is a 500 ------------------------------------------------------------------------
MALFORMED: list[Any] = [
    {"from_email": 1, "to": ["a@example.net"], "subject": "s", "body_text": "x"},
    {"from_email": None, "to": ["a@example.net"], "subject": "s", "body_text": "x"},
    {"from_email": ["hello@example.com"], "to": ["a@example.net"], "subject": "s", "body_text": "x"},
    message(to=None),
    message(to="user@example.net"),
    message(to=[1, 2]),
    message(to=[None]),
    message(to=[[]]),
    message(to=[{"email": None}]),
    message(to=[{"email": 123}]),
    message(to=[{"name": "x"}]),
    message(to=[{"email": "a@example.net", "name": 5}]),
    message(to={"email": "a@example.net"}),
    message(cc=None),
    message(bcc="x"),
    message(subject=None),
    message(subject=""),
    message(subject=12),
    message(subject="x" * 100_000),
    message(subject={"a": 1}),
    message(body_text=123),
    message(body_text=None, body_html=None),
    message(body_html=["x"]),
    message(template_data=[]),
    message(template_data={"a": None}),
    message(template_data={"a": {"b": 1}}),
    message(template_data="x"),
    message(headers=[]),
    message(headers={"X-A": 1}),
    message(headers={"X-A": None}),
    message(headers={"X-A": ["v"]}),
    message(headers={"X-A": "\u2028"}),
    message(headers={"X" * 10_000: "v"}),
    message(tags="welcome"),
    message(tags=[None]),
    message(tags=[1]),
    message(metadata=[]),
    message(metadata={"k": None}),
    message(metadata={"k": 1}),
    message(metadata={"": "v"}),
    message(client_reference=5),
    message(track_opens="yes-please"),
    message(track_clicks={"x": 1}),
    message(list_unsubscribe=1),
    message(reply_to_email="not-an-address"),
    message(reply_to_name="x"),
    message(attachments={}),
    message(attachments=[None]),
    message(attachments=[{"name": None, "content": "eA=="}]),
    message(attachments=[{"name": "a.pdf", "content": 5}]),
    message(attachments=[{"name": "a.pdf", "content": "eA==", "content_type": 7}]),
    message(attachments=[{"name": "a.pdf", "content": "eA==", "content_type": "application/pdf; x=y"}]),
    message(
        attachments=[{"name": "a.png", "content": "eA==", "content_type": "image/png", "content_id": "<x>"}]
    ),
    message(attachments=[{"file_key": "no-such-file"}]),
    message(from_email="hello@" + "a" * 300 + ".com"),
    message(to=["a" * 1000 + "@example.net"]),
    message(from_name="\u2029"),
    message(body_text="\udfff"),
    message(body_html="<p>\ud800</p>"),
    message(subject="Hi {n}", template_data={"n": "\ud800"}),
    message(headers={"X-A": "\udc00"}),
    message(list_unsubscribe="<https://example.com/\ud800>"),
]


def test_malformed_bodies_are_400_or_422_never_500(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    failures = []
    for index, body in enumerate(MALFORMED):
        response = api.post(PATH, body, api_key=sender_key)
        error = response.json.get("error") if response.status in (400, 422) else None
        if (
            error is None
            or not isinstance(error.get("code"), str)
            or not isinstance(error.get("message"), str)
        ):
            failures.append((index, response.status, response.body[:200]))
    assert failures == []
    assert len(local_ses.outbox) == 0


def test_deeply_nested_json_is_400_not_500(api: ApiClient, sender_key: str) -> None:
    raw = b'{"to": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")


# --- input that must be refused: bodies that are not one JSON object, control characters in header text
def test_send_with_integer_over_python_digit_limit_is_400_not_500(api: ApiClient, sender_key: str) -> None:
    raw = b'{"to": ["a@example.net"], "subject": "Hi", "body_text": "x", "n": ' + b"9" * 4301 + b"}"
    error = assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")
    assert "digits" in error["message"]


def test_send_with_integer_over_digit_limit_and_no_credential_is_401_not_500(api: ApiClient) -> None:
    raw = b'{"n": ' + b"9" * 5000 + b"}"
    assert_error(api.request("POST", PATH, raw=raw), 401, "unauthorized")


def test_send_with_json_array_whose_first_item_is_invalid_is_400_not_422(
    api: ApiClient, sender_key: str
) -> None:
    raw = json.dumps([message(to=["not an address"])]).encode()
    error = assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")
    assert "array" in error["message"]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (b'"subject": "a", "subject": "b"', 'key "subject"'),
        (b'"subject": "Hi", "headers": {"X-A": "1", "X-A": "2"}', 'key "X-A"'),
        (b'"subject": "Hi {n}", "template_data": {"n": NaN}', "NaN"),
        (b'"subject": "Hi {n}", "template_data": {"n": Infinity}', "Infinity"),
        (b'"subject": "Hi {n}", "template_data": {"n": -Infinity}', "-Infinity"),
        (b'"subject": "Hi {n}", "template_data": {"n": 1e999}', "1e999"),
    ],
    ids=["repeated_key", "repeated_nested_key", "nan", "infinity", "minus_infinity", "overflowing_float"],
)
def test_send_with_repeated_key_or_non_finite_number_is_400_saying_which(
    api: ApiClient, sender_key: str, local_ses: LocalSes, fields: bytes, said: str
) -> None:
    raw = b'{"from_email": "hello@example.com", "to": ["a@example.net"], "body_text": "x", ' + fields + b"}"
    error = assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")
    assert said in error["message"]
    assert len(local_ses.outbox) == 0


def test_send_with_the_same_key_in_different_objects_is_sent(api: ApiClient, sender_key: str) -> None:
    body = message(to=[{"email": "one@example.net", "name": "A"}, {"email": "two@example.net", "name": "B"}])
    assert api.request("POST", PATH, raw=json.dumps(body).encode(), api_key=sender_key).status == 200


def test_send_with_invalid_utf8_is_400_and_sends_nothing(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    raw = json.dumps(message(subject="caf\u00e9"), ensure_ascii=False).encode().replace(b"\xc3\xa9", b"\xe9")
    error = assert_error(api.request("POST", PATH, raw=raw, api_key=sender_key), 400, "invalid_json")
    assert "UTF-8" in error["message"]
    assert len(local_ses.outbox) == 0


def test_send_with_replacement_character_escaped_is_sent(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    response = api.post(PATH, message(subject="\ufffd marks a lost byte"), api_key=sender_key)
    assert response.status == 200, response.body
    assert parse(local_ses.outbox.list()[0])["Subject"] == "\ufffd marks a lost byte"


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_send_with_media_type_in_other_case_is_accepted(
    api: ApiClient, sender_key: str, content_type: str
) -> None:
    raw = json.dumps(message()).encode()
    response = api.request("POST", PATH, raw=raw, api_key=sender_key, headers={"Content-Type": content_type})
    assert response.status == 200, response.body


def test_send_of_valid_json_as_text_plain_says_which_content_type_to_send(
    api: ApiClient, sender_key: str
) -> None:
    raw = json.dumps(message()).encode()
    response = api.request("POST", PATH, raw=raw, api_key=sender_key, headers={"Content-Type": "text/plain"})
    error = assert_error(response, 400, "invalid_json")
    assert "not valid JSON" not in error["message"]
    assert "Content-Type: application/json" in error["message"]
    assert "text/plain" in error["message"]


CONTROLS = ["\x00", "\x1b[31m", "\x07", "\x7f", "\x01", "\x1f", "\t"]


@pytest.mark.parametrize("control", CONTROLS, ids=[f"{ord(c[0]):#04x}" for c in CONTROLS])
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (lambda c: {"subject": f"Hi{c}"}, "subject"),
        (lambda c: {"from_name": f"App{c}"}, "from_name"),
        (lambda c: {"reply_to_email": "s@example.com", "reply_to_name": f"S{c}"}, "reply_to_name"),
        (lambda c: {"to": [{"email": "a@example.net", "name": f"A{c}"}]}, "to[0].name"),
        (lambda c: {"cc": [f"C{c}D <c@example.net>"]}, "cc[0].name"),
        (lambda c: {"headers": {"X-Ref": f"abc{c}"}}, "headers.X-Ref"),
        (lambda c: {"subject": "Hi {n}", "template_data": {"n": f"x{c}"}}, "template_data.n"),
        (lambda c: {"list_unsubscribe": f"<mailto:u@example.com?subject=x{c}>"}, "list_unsubscribe"),
    ],
    ids=["subject", "from_name", "reply_to_name", "to_name", "cc_string", "header", "template", "unsub"],
)
def test_send_with_control_character_in_header_text_is_422_naming_the_field(
    api: ApiClient, sender_key: str, local_ses: LocalSes, overrides: Any, field: str, control: str
) -> None:
    response = api.post(PATH, message(**overrides(control)), api_key=sender_key)
    assert_error(response, 422, "validation_error")
    assert fields_of(response) == [field]
    assert len(local_ses.outbox) == 0


def test_send_with_control_character_in_body_template_value_is_sent(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    body = message(subject="Hi", body_text="Code:\t{code}", template_data={"code": "a\tb"})
    assert api.post(PATH, body, api_key=sender_key).status == 200


def test_only_the_top_level_of_a_message_carries_mime_version(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    attachment = {"name": "a.pdf", "content": b64(b"%PDF-1.4 x"), "content_type": "application/pdf"}
    body = message(body_html="<p>Hello</p>", attachments=[attachment])
    assert api.post(PATH, body, api_key=sender_key).status == 200
    [received] = local_ses.outbox.list()
    assert received.raw.count(b"MIME-Version:") == 1
    top = parse(received)
    assert top["MIME-Version"] == "1.0"
    assert [part.get_content_type() for part in top.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"
    ]  # fmt: skip


# RFC 2047 encoded words that decode to a line break: on CPython 3.11.7 each became a header line of its own.
ENCODED_INJECTION = "=?utf-8?q?a=0D=0AFrom:_ceo@b.test=0D=0AX-SES-CONFIGURATION-SET:_x?="


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": ENCODED_INJECTION}, "subject"),
        ({"from_name": ENCODED_INJECTION}, "from_name"),
        ({"reply_to_email": "s@example.com", "reply_to_name": ENCODED_INJECTION}, "reply_to_name"),
        ({"to": [{"email": "a@example.net", "name": ENCODED_INJECTION}]}, "to[0].name"),
        ({"cc": [f'"{ENCODED_INJECTION}" <c@example.net>']}, "cc[0].name"),
        ({"headers": {"X-Ref": "=?utf-8?b?YQ0KQmNjOiB4QGV2aWwudGVzdA==?="}}, "headers.X-Ref"),
        ({"subject": "Hi {n}", "template_data": {"n": ENCODED_INJECTION}}, "template_data.n"),
        ({"subject": "=?utf-8?q?{n}?=", "template_data": {"n": "a=0ABcc:_x@evil.test"}}, "subject"),
        ({"list_unsubscribe": "<mailto:u@example.com?subject==?utf-8?q?=0A?=>"}, "list_unsubscribe"),
        ({"to": ["=?utf-8?q?=0ABcc=3A_x=40evil.test?=@example.net"]}, "to[0].email"),
        ({"attachments": [{"name": "=?utf-8?q?=0A?=.pdf", "content": "eA==", "content_type": "image/png"}]},
         "attachments[0].name"),
    ],
    ids=["subject", "from_name", "reply_to_name", "to_name", "cc_string", "header_b", "template", "rendered",
         "unsub", "local_part", "attachment"],
)  # fmt: skip
def test_send_with_encoded_word_hiding_a_line_break_is_422_naming_the_field(
    api: ApiClient, sender_key: str, local_ses: LocalSes, overrides: dict[str, Any], field: str
) -> None:
    response = api.post(PATH, message(**overrides), api_key=sender_key)
    assert "encoded word" in assert_error(response, 422, "validation_error")["message"]
    assert fields_of(response) == [field]
    assert len(local_ses.outbox) == 0


def test_send_with_clean_encoded_words_arrives_decoded_without_extra_header_lines(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    word = "=?utf-8?q?caf=C3=A9?="
    body = message(subject=word, from_name=word, headers={"X-Ref": word})
    assert api.post(PATH, body, api_key=sender_key).status == 200
    [received] = local_ses.outbox.list()
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]
    assert names.count(b"from") == 1
    assert b"bcc" not in names
    assert (parse(received)["Subject"], parse(received)["X-Ref"]) == ("café", "café")
