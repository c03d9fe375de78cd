"""The MIME builder: structure, header encoding, SES headers, and line limits, parsed back with the stdlib."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, cast

import pytest

from posthorn.logic.sending.mime import Mailbox, MessageContent, build_message
from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.models.raw_message import MimePart

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def message_content(**overrides: Any) -> MessageContent:
    values: dict[str, Any] = {
        "message_id": "msg_01TEST",
        "sender": Mailbox("hello@example.com", "Your App"),
        "to": [Mailbox("user@example.net", "User")],
        "cc": [],
        "subject": "Hi",
        "date": WHEN,
        "text": "Hello",
        "html": None,
    }
    values.update(overrides)
    return MessageContent(**values)


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(raw, policy=policy.default))


def content(part: EmailMessage) -> Any:
    """A text part's decoded content with the CRLF line ends of the wire turned back into newlines."""
    value = part.get_content()
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def build(**overrides: Any) -> tuple[bytes, EmailMessage]:
    raw = build_message(message_content(**overrides)).as_bytes()
    return raw, parse(raw)


def test_text_only_is_a_single_text_plain_part() -> None:
    _, message = build()
    assert message.get_content_type() == "text/plain"
    assert content(message) == "Hello\n"


def test_html_only_is_a_single_text_html_part() -> None:
    _, message = build(text=None, html="<p>Hi</p>")
    assert message.get_content_type() == "text/html"


def test_both_bodies_make_multipart_alternative_text_first() -> None:
    _, message = build(text="Plain", html="<p>Rich</p>")
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[1].get_content().strip() == "<p>Rich</p>"


def test_utf8_subject_is_rfc2047_encoded_and_decodes_exactly() -> None:
    subject = "Grüße, 你好 — ✉ Ünïcödé " * 4
    raw, message = build(subject=subject.strip())
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header_block
    assert header_block.isascii()
    assert message["Subject"] == subject.strip()


def test_utf8_display_names_are_encoded_and_decode_exactly() -> None:
    _, message = build(
        sender=Mailbox("hello@example.com", "Zoë Åström"),
        to=[Mailbox("a@example.net", "山田 太郎"), Mailbox("b@example.net", 'Doe, "JD" John')],
        reply_to=Mailbox("support@example.com", "Soporte técnico"),
    )
    assert message["From"].addresses[0].display_name == "Zoë Åström"
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        ("山田 太郎", "a@example.net"),
        ('Doe, "JD" John', "b@example.net"),
    ]
    assert message["Reply-To"].addresses[0].display_name == "Soporte técnico"


def test_bcc_never_appears_and_cc_does() -> None:
    raw, message = build(cc=[Mailbox("c@example.net")])
    assert message["Bcc"] is None
    assert b"bcc" not in raw.lower()
    assert getaddresses([str(message["Cc"])]) == [("", "c@example.net")]


def test_custom_headers_are_written() -> None:
    _, message = build(headers={"X-Entity-Ref-ID": "abc-123", "X-Priority": "1"})
    assert message["X-Entity-Ref-ID"] == "abc-123"
    assert message["X-Priority"] == "1"


def test_ses_message_tags_carry_the_message_id_and_the_tags() -> None:
    _, message = build(stamp=SesStamp("msg_01TEST", tags=("welcome", "onboarding")))
    # Folded after the colon when long; unfolding leaves the leading space, which SES ignores.
    assert (
        message["X-SES-MESSAGE-TAGS"].strip()
        == "posthorn_message_id=msg_01TEST, welcome=true, onboarding=true"
    )


def test_configuration_set_header_only_when_given() -> None:
    _, with_set = build(stamp=SesStamp("msg_01TEST", configuration_set="posthorn-opens"))
    _, without = build(stamp=SesStamp("msg_01TEST", configuration_set=None))
    assert with_set["X-SES-CONFIGURATION-SET"] == "posthorn-opens"
    assert without["X-SES-CONFIGURATION-SET"] is None


def test_list_unsubscribe_with_one_click() -> None:
    value = "<mailto:unsub@example.com>, <https://example.com/unsub?u=1>"
    _, message = build(list_unsubscribe=value, one_click_unsubscribe=True)
    assert message["List-Unsubscribe"] == value
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_without_one_click_has_no_post_header() -> None:
    _, message = build(list_unsubscribe="<mailto:unsub@example.com>")
    assert message["List-Unsubscribe"] == "<mailto:unsub@example.com>"
    assert message["List-Unsubscribe-Post"] is None


def test_message_id_date_and_mime_version() -> None:
    _, message = build()
    assert message["Message-ID"] == "<msg_01TEST@example.com>"
    assert message["Date"].datetime == WHEN
    assert message.get_all("MIME-Version") == ["1.0"]


def test_every_line_ends_in_crlf_and_fits_998_octets() -> None:
    long_line = "word " * 500 + "x" * 2000
    raw, message = build(
        subject="s" * 900, text=long_line, html=f"<p>{long_line}</p>", headers={"X-Long": "v" * 3000}
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()
    text_part = next(iter(message.iter_parts()))
    assert content(text_part) == long_line + "\n"


def test_non_ascii_body_is_transfer_encoded_and_decodes_exactly() -> None:
    text = "Grüße\n.leading dot\n日本語, 世界 — ✉\n"
    raw, message = build(text=text)
    assert raw.isascii()
    assert message["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert content(message) == text


def test_regular_attachment_makes_multipart_mixed() -> None:
    pdf = b"%PDF-1.4 \x00\x01\xff"
    _, message = build(
        text="Plain", html="<p>Rich</p>", attachments=[MimePart("invoice.pdf", "application/pdf", pdf)]
    )
    assert message.get_content_type() == "multipart/mixed"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "invoice.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


def test_non_ascii_attachment_name_round_trips() -> None:
    _, message = build(attachments=[MimePart("Rechnung März.pdf", "application/pdf", b"x")])
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Rechnung März.pdf"


def test_inline_image_sits_in_multipart_related_with_the_html() -> None:
    _, message = build(
        text="Plain",
        html='<img src="cid:logo">',
        attachments=[MimePart("logo.png", "image/png", b"\x89PNG", content_id="logo")],
    )
    assert message.get_content_type() == "multipart/alternative"
    text, related = list(message.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = list(related.iter_parts())
    assert html.get_content_type() == "text/html"
    assert image["Content-ID"] == "<logo>"
    assert image.get_content() == b"\x89PNG"


def test_inline_image_with_a_text_only_body_is_attached_not_lost() -> None:
    _, message = build(
        text="Plain",
        html=None,
        attachments=[MimePart("logo.png", "image/png", b"\x89PNG", content_id="logo")],
    )
    assert message.get_content_type() == "multipart/mixed"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == b"\x89PNG"


@pytest.mark.parametrize("breaker", ["\r\n", "\u2028", "\x0b"])
def test_builder_refuses_line_breaks_in_headers_rather_than_injecting(breaker: str) -> None:
    # The request model refuses these first (tests/unit/test_email_request.py); this is the last line.
    with pytest.raises(ValueError, match="linefeed"):
        build(subject=f"Hi{breaker}Bcc: evil@x.test")


def test_pre_encoded_attachment_body_is_spliced_in_and_decodes_exactly() -> None:
    from posthorn.models.raw_message import encode_base64_body

    data = bytes(range(256)) * 50
    part = MimePart(
        "data.bin", "application/octet-stream", content_id=None, base64_body=encode_base64_body(data)
    )
    raw, message = build(text="Plain", html="<p>Rich</p>", attachments=[part])
    assert b"posthorn-attachment-" not in raw
    [attachment] = list(message.iter_attachments())
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content() == data
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))


def test_several_attachments_each_get_their_own_body() -> None:
    parts = [MimePart(f"{n}.bin", "application/octet-stream", bytes([n]) * (100 + n)) for n in range(5)]
    image = MimePart("logo.png", "image/png", b"\x89PNG" * 30, content_id="logo")
    _, message = build(text="t", html='<img src="cid:logo">', attachments=[*parts, image])
    assert [a.get_content() for a in message.iter_attachments()] == [p.data for p in parts]
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    assert cast(EmailMessage, related).get_payload()[1].get_content() == image.data
