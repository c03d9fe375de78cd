"""Header injection through RFC 2047 encoded words: the rule of header text also holds once they are decoded,
in every field that becomes header text, and what the model accepts never adds a line to the MIME."""

from __future__ import annotations

from datetime import UTC, datetime
from email.header import decode_header, make_header
from typing import Any

import pytest
from pydantic import ValidationError

from posthorn.errors import ValidationFailed
from posthorn.logic.sending.mime import Mailbox, MessageContent, build_message
from posthorn.logic.sending.templating import render_fields
from posthorn.models.addresses import header_text_problem, normalize_address
from posthorn.models.email import SendEmailRequest
from posthorn.models.encoded_words import MAX_ENCODED_WORD, encoded_word_problem
from posthorn.models.raw_message import MimePart
from tests.support.bodies import email_body as request

# Each decodes, in some reading a decoder makes, to a CR, an LF, a NUL or another control character.
INJECTIONS = [
    "=?utf-8?q?a=0D=0AFrom:_ceo@b.test?=",
    "=?UTF-8?Q?a=0d=0aBcc:_x@evil.test?=",
    "=?utf-8?b?YQ0KQmNjOiB4QGV2aWwudGVzdA==?=",  # b, padded
    "=?utf-8?B?YQ0KQmNjOiB4QGV2aWwudGVzdA?=",  # b, padding missing
    "=?utf-8?b?YQ0K!QmNj?=",  # b, a stray character
    "=?utf-8?b?YQ==DQo=?=",  # b, padding in the middle
    "=?x-no-such-charset?q?a=0AX-SES-CONFIGURATION-SET:_other?=",  # unknown charset: read as ASCII
    "=?utf-8*en?q?a=00b?=",  # RFC 2231 language
    "=?utf-7?q?a+AA0ACg-Bcc:_x@evil.test?=",  # UTF-7 spells CR LF without those bytes
    "=?utf 7?q?+AAo-?=",  # a name Python normalizes to utf_7
    "=?utf-7?q?+AA?= =?utf-7?q?o-?=",  # split over two adjacent words
    "=?unicode_escape?q?a\\r\\nBcc:_x@evil.test?=",
    "=?cp037?q?a%b?=",  # EBCDIC: % is LF
    "=?utf-16-le?b?CgA=?=",
    "=?utf-8?q?a=1B[31m?=",  # ESC, as the plain rule refuses
    "=?utf-8?q?a=09b?=",  # TAB, as the plain rule refuses
    "Dear x=?utf-8?q?=0A?=y",  # glued to other text
    '"=?utf-8?q?=0A?="',  # in quotes
    "=?utf-8?q?a?=0A?=",  # text read to the second ?=
    "=?utf-8?q?=0A",  # never closed: the email package reads `?=0A` as q text to the end
    "=?utf-8?q?" + "a" * (MAX_ENCODED_WORD + 1) + "?=",  # too long to check
]
# Encoded words and look-alikes that decode to clean text: still accepted.
CLEAN = [
    "=?utf-8?q?caf=C3=A9?=",
    "=?utf-8?b?Y2Fmw6k=?=",
    "=?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_cr=E8me?=",
    "=?utf-8?q?=D1=85?=",  # U+0445; as Latin-1 its second byte would be NEL
    "=?utf-16-le?b?YQBiAA==?=",  # UTF-16 has NUL bytes, not NUL characters
    "=?hex?q?0a?=",  # a codec, but not for text: read as ASCII
    "Save 50% =? today",
    "Why?=because",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_encoded_word_decoding_to_a_control_character_is_header_text_problem(value: str) -> None:
    assert encoded_word_problem(value) is not None
    assert header_text_problem(value) is not None


@pytest.mark.parametrize("value", CLEAN)
def test_encoded_word_decoding_to_clean_text_is_accepted(value: str) -> None:
    assert header_text_problem(value) is None


def test_the_stdlib_decodes_the_classic_payload_to_a_line_break() -> None:
    """The oracle: what email.header decodes the first payload to (so these tests test something)."""
    assert "\r\n" in str(make_header(decode_header(INJECTIONS[0])))


def test_a_long_value_full_of_word_starts_is_checked_in_linear_time() -> None:
    value = ("=?a?b?" * 150 + "?=") * 300  # ~270,000 characters, 45,000 word starts
    assert encoded_word_problem(value) is None


# --- every field that becomes header text names itself -----------------------------------------------
PAYLOAD = INJECTIONS[0]
FIELDS = [
    ({"subject": PAYLOAD}, ("subject",)),
    ({"from_name": PAYLOAD}, ("from_name",)),
    ({"reply_to_email": "r@example.com", "reply_to_name": PAYLOAD}, ("reply_to_name",)),
    ({"to": [{"email": "a@example.net", "name": PAYLOAD}]}, ("to", 0, "name")),
    ({"cc": [f'"{PAYLOAD}" <c@example.net>']}, ("cc", 0, "name")),
    ({"headers": {"X-Ref": PAYLOAD}}, ("headers", "X-Ref")),
    ({"list_unsubscribe": "<mailto:u@example.com?subject==?utf-8?q?=0A?=>"}, ("list_unsubscribe",)),
    (
        {"attachments": [{"name": "=?utf-8?q?a=0A?=.pdf", "content": "eA==", "content_type": "image/png"}]},
        ("attachments", 0, "name"),
    ),
    ({"to": ["=?utf-8?q?=0ABcc=3A_x=40evil.test?=@example.net"]}, ("to", 0, "email")),
    ({"from_email": "=?utf-8?q?=0D=0A?=@example.com"}, ("from_email",)),
]


@pytest.mark.parametrize(("overrides", "location"), FIELDS)
def test_encoded_line_break_in_header_text_is_refused_naming_the_field(
    overrides: dict[str, Any], location: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        SendEmailRequest.model_validate(request(**overrides))
    [error] = caught.value.errors()
    assert error["loc"] == location
    assert "encoded word" in error["msg"]


def test_encoded_word_in_an_address_local_part_is_refused() -> None:
    with pytest.raises(ValueError, match="encoded word"):
        normalize_address("=?utf-8?q?=0ABcc=3A_x=40evil.test?=@example.net")
    assert normalize_address("=?utf-8?q?ok?=@Example.NET") == "=?utf-8?q?ok?=@example.net"


def test_template_value_that_completes_an_encoded_word_in_the_subject_is_refused() -> None:
    fields = {"subject": "=?utf-8?q?{x}?=", "body_text": "Hi", "body_html": None}
    with pytest.raises(ValidationFailed) as caught:
        render_fields(fields, {"x": "a=0D=0ABcc:_x@evil.test"}, html_fields={"body_html"})
    assert caught.value.details[0]["field"] == "subject"


def test_template_value_that_is_an_encoded_word_is_refused_naming_it() -> None:
    fields = {"subject": "Hi {x}", "body_text": "Hi", "body_html": None}
    with pytest.raises(ValidationFailed) as caught:
        render_fields(fields, {"x": PAYLOAD}, html_fields={"body_html"})
    assert caught.value.details[0]["field"] == "template_data.x"


# --- what the model accepts never adds a line to the MIME --------------------------------------------
def _header_names(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]


@pytest.mark.parametrize("value", INJECTIONS + CLEAN)
def test_header_text_the_model_accepts_never_adds_a_header_line(value: str) -> None:
    """Every payload in every header-text field of the JSON API: refused by the model, or built into a
    MIME whose header lines are exactly the ones Posthorn writes, with no raw CR, NUL or other control."""
    body = request(
        subject=value,
        from_name=value,
        to=[{"email": "user@example.net", "name": value}],
        headers={"X-Ref": value},
        attachments=[{"name": f"{value}.pdf", "content": "eA==", "content_type": "application/pdf"}],
    )
    try:
        parsed = SendEmailRequest.model_validate(body)
    except ValidationError:
        assert value in INJECTIONS
        return
    assert parsed.from_name is not None
    assert parsed.to[0].name is not None
    content = MessageContent(
        message_id="msg_01TEST",
        sender=Mailbox(parsed.from_email, parsed.from_name),
        to=[Mailbox(parsed.to[0].email, parsed.to[0].name)],
        cc=[],
        subject=parsed.subject,
        date=datetime(2026, 1, 2, tzinfo=UTC),
        text="Hello",
        html=None,
        headers=parsed.headers,
        attachments=[MimePart(name=f"{value}.pdf", content_type="application/pdf", data=b"x")],
    )
    raw = build_message(content).as_bytes()
    top = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"x-ref", b"content-type"]
    assert _header_names(raw)[: len(top)] == top
    for forbidden in (b"bcc", b"x-ses-configuration-set", b"cc", b"reply-to"):
        assert forbidden not in _header_names(raw)
    assert not any(byte in raw.replace(b"\r\n", b"") for byte in b"\r\n\x00\x1b")
    assert value in CLEAN
