"""The local page's view of an outbox message: MIME parsed into JSON, links, inline images, the listing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from posthorn.logic.sending.mime import Mailbox, MessageContent, build_message
from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.models.raw_message import MimePart
from posthorn_local import outbox_view
from posthorn_local.ses_smtp_server import OutboxMessage
from tests.support.fakes import FakeMessageReader
from tests.support.records import message_record

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
HTML = (
    '<p>Hi <a href="https://example.com/a?x=1&amp;y=2">one</a> <a href="mailto:x@example.com">mail</a>'
    '<a href="https://example.com/a?x=1&amp;y=2">again</a> <img src="cid:logo@x"></p>'
)


def outbox_message(**overrides: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "message_id": "msg_01TEST",
        "sender": Mailbox("hello@example.com", "Zoë's Café"),
        "to": [Mailbox("user@example.net", "Jürgen")],
        "cc": [Mailbox("team@example.net", None)],
        "subject": "Grüße <b>&</b>",
        "date": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "text": "Hello, see https://example.com/text.",
        "html": HTML,
        "stamp": SesStamp("msg_01TEST"),
        "attachments": [
            MimePart(name="logo.png", data=PNG, content_type="image/png", content_id="logo@x"),
            MimePart(name="report.pdf", data=b"%PDF-1.4", content_type="application/pdf"),
        ],
    }
    values.update(overrides)
    raw = build_message(MessageContent(**values)).as_bytes()
    return OutboxMessage.create("hello@example.com", ("user@example.net", "hidden@example.org"), raw)


def test_message_view_decodes_headers_bodies_and_attachments() -> None:
    message = outbox_message()
    view = outbox_view.message_view(message)
    assert view["id"] == message.id
    assert view["subject"] == "Grüße <b>&</b>"
    assert view["from"] == ["Zoë's Café <hello@example.com>"]
    assert view["to"] == ["Jürgen <user@example.net>"]
    assert view["cc"] == ["team@example.net"]
    assert view["rcpt_to"] == ["user@example.net", "hidden@example.org"]
    assert view["posthorn_message_id"] == "msg_01TEST"
    assert view["text"].startswith("Hello, see")
    assert view["html"].startswith("<p>Hi")
    assert {"name": "Subject", "value": "Grüße <b>&</b>"} in view["headers"]
    attachments = {a["filename"]: a for a in view["attachments"]}
    assert attachments["logo.png"]["content_id"] == "logo@x"
    assert attachments["logo.png"]["size"] == len(PNG)
    assert attachments["report.pdf"]["content_type"] == "application/pdf"
    assert attachments["report.pdf"]["disposition"] == "attachment"


def test_links_are_the_http_links_of_html_then_text_each_once() -> None:
    view = outbox_view.message_view(outbox_message())
    assert view["links"] == ["https://example.com/a?x=1&y=2", "https://example.com/text."]
    assert outbox_view.links("<a href=' javascript:alert(1)'>x</a>", "ftp://x") == []


def test_preview_resolves_inline_images_to_data_urls() -> None:
    view = outbox_view.message_view(outbox_message())
    assert "cid:logo@x" in view["html"]
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in view["html_preview"]
    assert "cid:" not in view["html_preview"]


def test_part_returns_the_bytes_listed_at_that_index() -> None:
    message = outbox_message()
    listed = {a["filename"]: a["index"] for a in outbox_view.message_view(message)["attachments"]}
    found = outbox_view.part(message, listed["report.pdf"])
    assert found is not None
    assert found.data == b"%PDF-1.4"
    assert outbox_view.part(message, 99) is None


def test_unusual_media_types_download_as_octet_stream() -> None:
    part = outbox_view.Part(1, "x", "text/html\r\nx: y", None, None, b"")
    assert part.safe_content_type == "application/octet-stream"
    assert outbox_view.Part(1, "x", "application/pdf", None, None, b"").safe_content_type == "application/pdf"


def test_text_only_message_has_no_html() -> None:
    view = outbox_view.message_view(outbox_message(html=None, attachments=[], stamp=None))
    assert view["html"] is None
    assert view["html_preview"] is None
    assert view["attachments"] == []
    assert view["posthorn_message_id"] is None


def test_summary_reads_the_header_block() -> None:
    item = outbox_view.summary(outbox_message())
    assert item["subject"] == "Grüße <b>&</b>"
    assert item["to"] == ["Jürgen <user@example.net>"]
    assert item["posthorn_message_id"] == "msg_01TEST"


def test_timeline_puts_events_of_one_millisecond_in_lifecycle_order() -> None:
    record = message_record("msg_01TEST", username="u", status="clicked")
    same, later = "2026-01-01T00:00:00.001000+00:00", "2026-01-01T00:00:01+00:00"
    events: list[dict[str, Any]] = [  # as DynamoDB returns them: by sort key, i.e. by type name
        {"type": "click", "timestamp": later, "recipient": "a@example.net", "details": {"link": "x"}},
        {"type": "delivery", "timestamp": same, "recipient": "a@example.net", "details": {}},
        {"type": "send", "timestamp": same, "recipient": "a@example.net", "details": {}},
    ]
    store = FakeMessageReader({"msg_01TEST": (record, events)})

    view = outbox_view.record_view(store, "msg_01TEST")
    assert view is not None
    assert [e["type"] for e in view["events"]] == ["send", "delivery", "click"]
    assert view["recipients"] == [{"email": "a@example.net", "type": "to", "status": "clicked"}]


def _item(identifier: str, *, status: str | None, tags: list[str], to: str, ref: str | None = None) -> dict:
    return {
        "id": identifier,
        "subject": f"Subject {identifier}",
        "from": ["hello@example.com"],
        "to": [to],
        "rcpt_to": [to],
        "posthorn_message_id": f"msg_{identifier}",
        "status": status,
        "tags": tags,
        "client_reference": ref,
    }


def test_the_page_filters_by_status_tag_recipient_and_search_words() -> None:
    items = [
        _item("a", status="delivered", tags=["welcome"], to="ann@example.net", ref="order-7"),
        _item("b", status="bounced", tags=["receipt"], to="bob@example.net"),
    ]
    ids = lambda found: [item["id"] for item in found]  # noqa: E731
    assert ids(outbox_view.filtered(items, {"status": "bounced"})) == ["b"]
    assert ids(outbox_view.filtered(items, {"tag": "welcome"})) == ["a"]
    assert ids(outbox_view.filtered(items, {"recipient": "BOB@"})) == ["b"]
    assert ids(outbox_view.filtered(items, {"q": "order-7 subject"})) == ["a"]
    assert ids(outbox_view.filtered(items, {"q": "order-7", "status": "bounced"})) == []
    assert ids(outbox_view.filtered(items, {})) == ["a", "b"]
