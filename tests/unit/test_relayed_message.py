"""The SMTP relay's header policy (logic/submission/relayed_message.py): what a client's header block keeps,
loses and
gains, how control headers read, and how cached files join the client's MIME without re-encoding it."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

import pytest

from posthorn.errors import PayloadTooLarge, ValidationFailed
from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.logic.submission.relayed_message import parse_client_message, read_controls, relayed
from posthorn.models.raw_message import FileBody, MimePart, encode_base64_body

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OWN_DATE = "Mon, 30 Nov 2026 10:00:00 +0000"
STAMP = SesStamp("msg_01TEST", tags=("welcome",), configuration_set="posthorn-opens")


def client_bytes(*headers: str, body: str = "Hello\r\n", newline: str = "\r\n") -> bytes:
    lines = ["From: App <hello@example.com>", "To: user@example.net", "Subject: Hi", *headers]
    return (newline.join(lines) + newline + newline + body.replace("\r\n", newline)).encode()


def delivered(raw: bytes, *, attachments: list[MimePart] | None = None) -> tuple[bytes, EmailMessage]:
    message = parse_client_message(raw)
    out = relayed(message, read_controls(message), STAMP, now=NOW, attachments=attachments or [])
    data = out.as_bytes()
    return data, cast(EmailMessage, message_from_bytes(data, policy=policy.SMTP))


# --- the header block ---------------------------------------------------------------------------------
def test_the_body_and_kept_headers_travel_byte_for_byte() -> None:
    raw = client_bytes(
        "X-Custom: keep me", "Message-ID: <own@example.com>", "Date: Mon, 30 Nov 2026 10:00:00 +0000"
    )
    data, _ = delivered(raw)
    head, _, body = data.partition(b"\r\n\r\n")
    assert body == b"Hello\r\n"
    assert head.startswith(raw.partition(b"\r\n\r\n")[0])  # the client's fields first, unchanged


def test_control_headers_x_ses_headers_and_bcc_are_removed_and_ses_stamp_added() -> None:
    raw = client_bytes(
        "X-SES-CONFIGURATION-SET: client-choice",
        "x-ses-message-tags: evil=true",
        "Bcc: hidden@example.org",
        "X-Posthorn-Tags: a",
        "X-PM-Metadata-order: 42",
        "X-Posthorn-Idempotency-Key: k1",
    )
    _, message = delivered(raw)
    assert message.get_all("X-SES-CONFIGURATION-SET") == ["posthorn-opens"]
    assert message.get_all("X-SES-MESSAGE-TAGS") == ["posthorn_message_id=msg_01TEST, welcome=true"]
    for gone in ("Bcc", "X-Posthorn-Tags", "X-PM-Metadata-order", "X-Posthorn-Idempotency-Key"):
        assert message[gone] is None, gone


def test_message_id_and_date_are_added_only_where_missing() -> None:
    _, added = delivered(client_bytes())
    assert added["Message-ID"] == "<msg_01TEST@example.com>"
    assert added["Date"] == "Tue, 01 Dec 2026 09:00:00 +0000"
    _, kept = delivered(
        client_bytes("Message-ID: <own@example.com>", "Date: Mon, 30 Nov 2026 10:00:00 +0000")
    )
    assert kept.get_all("Message-ID") == ["<own@example.com>"]
    assert kept.get_all("Date") == ["Mon, 30 Nov 2026 10:00:00 +0000"]


def test_folded_headers_are_one_field() -> None:
    message = parse_client_message(client_bytes("X-Posthorn-Tags: one,\r\n two"))
    assert read_controls(message).tags == ["one", "two"]


def test_a_client_writing_lf_line_ends_gets_lf_line_ends_for_the_added_fields() -> None:
    data, message = delivered(client_bytes(newline="\n"))
    assert b"\r\n" not in data
    assert message["X-SES-MESSAGE-TAGS"]


def test_a_header_block_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="malformed"):
        parse_client_message(b"this is not a header\r\n\r\nbody")
    with pytest.raises(ValidationFailed, match="folded"):
        parse_client_message(b" folded first: x\r\n\r\nbody")


def test_x_list_unsubscribe_becomes_list_unsubscribe_with_one_click_for_https() -> None:
    _, message = delivered(client_bytes("X-List-Unsubscribe: <https://example.com/u?x=1>"))
    assert message["List-Unsubscribe"] == "<https://example.com/u?x=1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-List-Unsubscribe"] is None
    _, mailto = delivered(client_bytes("X-List-Unsubscribe: <mailto:u@example.com>"))
    assert mailto["List-Unsubscribe-Post"] is None


# --- what the header block may hold --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        # Python's parser (and others) end the header block at `\r\r\n`: the stamp would land in the body.
        (b"From: hello@example.com\r\nSubject: Hi\r\r\nTo: user@example.net\r\n\r\nHello\r\n", "CR"),
        (b"From: hello@example.com\nSubject: Hi\r\nTo: user@example.net\n\nHello\n", "CR"),
        (b"From: hello@example.com\r\nSubject: Hi\nTo: user@example.net\r\n\r\nHello\r\n", "line ends"),
        (b"From: hello@example.com\r\nSubject: Hi\r\n\n\r\nHello\r\n", "line ends"),
        (b"From: hello@example.com\r\nSubject: a\x00b\r\n\r\nHello\r\n", "NUL"),
        (b"From: hello@example.com\r\nSubject: \xff\xfe caf\xe9\r\n\r\nHello\r\n", "UTF-8"),
    ],
    ids=["CR CR LF", "CR LF in an LF message", "LF in a CRLF message", "LF blank line", "NUL", "Latin-1"],
)
def test_a_header_block_a_parser_could_read_otherwise_is_refused(raw: bytes, says: str) -> None:
    with pytest.raises(ValidationFailed, match=says):
        delivered(raw)


def test_utf8_header_text_is_kept_as_written() -> None:
    data, message = delivered(client_bytes("X-Note: Grüße"))
    assert "X-Note: Grüße\r\n".encode() in data
    assert message["X-SES-MESSAGE-TAGS"]


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?a=0D=0AFrom:_ceo@b.test?=",
        "=?utf-8?b?" + base64.b64encode(b"a\nBcc: x@b.test").decode() + "?=",
        "=?UTF-8?Q?a=00b?=",
        "=?utf-7?q?a+AA0ACg-From:_ceo@b.test?=",  # UTF-7 writes CR LF without their octets
        "Hi=?iso-8859-1?q?=0A?=there",  # no space around it: decoders find it all the same
    ],
)
def test_an_encoded_word_that_decodes_to_cr_lf_or_nul_is_refused_naming_the_header(value: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_client_message(client_bytes(f"X-Note: {value}"))
    assert refused.value.details[0]["field"] == "X-Note"
    with pytest.raises(ValidationFailed, match=r"^Subject: "):
        parse_client_message(client_bytes().replace(b"Subject: Hi", f"Subject: {value}".encode()))


def test_ordinary_encoded_words_pass() -> None:
    message = parse_client_message(
        client_bytes("X-Note: =?utf-8?b?R3LDvMOfZQ==?= =?utf-8?q?Gr=C3=BC=C3=9Fe?=")
    )
    assert message.first("x-note") == "GrüßeGrüße"
    # An unknown charset, or a codec that is no charset (hex: never run), is read as written.
    for value in ("=?x-unknown?q?a=41?=", "=?hex?q?0a?="):
        assert parse_client_message(client_bytes(f"X-Note: {value}")).first("x-note") == value


def with_sender(*fields: str) -> bytes:
    return ("\r\n".join([*fields, "To: user@example.net", "Subject: Hi"]) + "\r\n\r\nHello\r\n").encode()


@pytest.mark.parametrize(
    "fields",
    [
        # Read as hi@a.test by `getaddresses`, as ceo@b.test by a mail program that decodes first.
        [r"From: =?utf-8?q?ceo=40b.test?=\<hi@a.test"],
        [r"From: hi@a.test,=?utf-8?q?ceo=40b.test?=\@"],
        [r"Sender: =?utf-8?q?ceo=40b.test?=\<hi@a.test", "From: hi@a.test"],
        ["From: =?utf-8?q?ceo?=@a.test"],
        ["From: ceo@b.test <hi@a.test>"],
        ["From: alice@a.test)<bob@b.test>"],
        ["From: @a.test"],
        ["From: <@a.test>"],
        ["From: hi@a.test", "From: ceo@b.test"],
    ],
    ids=[
        "encoded @ then \\<",
        "encoded @ then \\@",
        "Sender",
        "encoded local part",
        "two readings",
        "parenthesis",
        "empty local part",
        "empty route",
        "two From fields",
    ],
)
def test_a_sender_mail_programs_could_read_otherwise_is_refused(fields: list[str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_client_message(with_sender(*fields))
    assert refused.value.details[0]["field"] in ("From", "Sender")


@pytest.mark.parametrize(
    ("value", "addresses"),
    [
        ("=?utf-8?q?ceo=40b.test?= <hi@a.test>", ["hi@a.test"]),  # a display name may say anything
        ('"=?utf-8?q?ceo=40b.test?=" <hi@a.test>', ["hi@a.test"]),
        ("hi@a.test (=?utf-8?q?ceo=40b.test?=)", ["hi@a.test"]),
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?= <hi@a.test>", ["hi@a.test"]),
        ("Grüße <hi@a.test>", ["hi@a.test"]),
        ('"Doe, John" <hi@a.test>', ["hi@a.test"]),
        ("J. Doe <hi@a.test>", ["hi@a.test"]),
        ("Hi <hi@a.test>, Other <x@a.test>", ["hi@a.test", "x@a.test"]),
        ("undisclosed-recipients:;", []),
    ],
)
def test_senders_every_reader_agrees_on_are_read(value: str, addresses: list[str]) -> None:
    assert parse_client_message(with_sender(f"From: {value}")).addresses("from") == addresses


def test_addresses_nested_too_deep_for_pythons_parsers_are_refused_not_a_crash() -> None:
    with pytest.raises(ValidationFailed, match=r"^From: nests comments or groups too deep"):
        parse_client_message(with_sender("From: " + "(" * 1000 + "hi@a.test"))
    message = parse_client_message(client_bytes("Cc: " + "a:" * 2000 + "x@a.test"))
    with pytest.raises(ValidationFailed, match=r"^Cc: nests comments or groups too deep"):
        message.addresses("cc")


def test_a_10_mb_folded_header_is_refused_before_it_is_parsed() -> None:
    folded = b" " + b"a" * 76 + b"\r\n"
    raw = bytearray(client_bytes("X-Long: x").replace(b"\r\n\r\n", b"\r\n" + folded * 130_000 + b"\r\n", 1))
    assert len(raw) > 10_000_000
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match=r"^X-Long: the header field is over 65536 bytes"):
        parse_client_message(raw)
    print(f"a 10 MB folded header refused in {time.perf_counter() - started:.4f} s")


def test_a_header_block_over_1_mib_is_refused_and_long_fields_within_the_bounds_pass() -> None:
    many = [f"X-Field-{index}: " + "v" * 60 for index in range(20_000)]
    with pytest.raises(PayloadTooLarge, match="header block is over 1048576 bytes"):
        parse_client_message(client_bytes(*many))
    references = "References: " + "\r\n ".join(f"<m{index}@example.com>" for index in range(3000))
    assert len(references) > 50_000
    message = parse_client_message(client_bytes(references))
    assert message.first("references") is not None
    with pytest.raises(ValidationFailed, match=r"^From: is over 4096 bytes"):
        parse_client_message(with_sender("From: " + "\r\n ".join(["A <a@a.test>,"] * 400) + " b@a.test"))


# --- control headers ------------------------------------------------------------------------------------
def test_every_vendors_control_headers_read_as_the_api_fields() -> None:
    controls = read_controls(
        parse_client_message(
            client_bytes(
                "X-MailPace-Tags: a, b",
                "X-OMS-Tags: c",
                "X-OhMySMTP-Tags: d",
                "X-PM-Tag: e",
                "X-Posthorn-Metadata-user: 7",
                "X-Pm-Metadata-Plan: pro",  # as Nodemailer writes header names
                "X-TM-CLIENT-REF: order-9",
                "X-TM-OPEN-TRACK: yes",
                "X-PM-TrackLinks: HtmlAndText",
                "X-TM-FILE-KEY: fk_1:Invoice.pdf, fk_2",
                "X-Posthorn-Idempotency-Key: retry-1",
            )
        )
    )
    assert controls.tags == ["a", "b", "c", "d", "e"]
    assert controls.metadata == {"user": "7", "plan": "pro"}
    assert controls.client_reference == "order-9"
    assert (controls.track_opens, controls.track_clicks) == (True, True)
    assert [(f.file_key, f.name) for f in controls.file_keys] == [("fk_1", "Invoice.pdf"), ("fk_2", None)]
    assert controls.idempotency_key == "retry-1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("X-Posthorn-Track-Clicks: true", True),
        ("X-TM-CLICK-TRACK: 0", False),
        ("X-PM-TrackLinks: None", False),
        ("X-PM-TrackOpens: false", False),
        ("X-Posthorn-Track-Opens: NO", False),
    ],
)
def test_tracking_flags(header: str, expected: bool) -> None:
    controls = read_controls(parse_client_message(client_bytes(header)))
    assert (
        controls.track_clicks if "Click" in header or "Links" in header else controls.track_opens
    ) is expected


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("X-Posthorn-Track-Opens: maybe", "X-Posthorn-Track-Opens"),
        ("X-PM-Tag: not a tag!", "X-PM-Tag"),
        ("X-Posthorn-Tags: posthorn_message_id", "X-Posthorn-Tags"),
        ("X-List-Unsubscribe: https://no-brackets.example", "X-List-Unsubscribe"),
        ("X-TM-CLIENT-REF: " + "x" * 300, "X-TM-CLIENT-REF"),
        ("X-Posthorn-Tags: " + ",".join(f"t{i}" for i in range(11)), "X-Posthorn-Tags"),
        # The API's one rule for header text: no C0 control character or DEL in what becomes a header.
        ("X-List-Unsubscribe: <mailto:u@example.com?subject=\x1b[31m>", "X-List-Unsubscribe"),
        ("X-List-Unsubscribe: <mailto:u@example.com?subject=a\x07b>", "X-List-Unsubscribe"),
        ("X-Posthorn-File-Key: fk_1:bad\x7fname.pdf", "X-Posthorn-File-Key"),
        ("x-tm-open-track: maybe", "x-tm-open-track"),  # as written, not as CONTROL_HEADERS spells it
        ("X-PM-Metadata-a: ok\r\nx-posthorn-metadata-b: " + "x" * 1100, "x-posthorn-metadata-b"),
    ],
)
def test_a_bad_control_header_is_refused_naming_it(header: str, named: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        read_controls(parse_client_message(client_bytes(header)))
    assert refused.value.details[0]["field"] == named


def test_control_header_names_the_header_that_set_a_field_as_the_client_wrote_it() -> None:
    message = parse_client_message(
        client_bytes("x-tm-File-Key: fk_1", "X-Posthorn-File-Key: fk_2", "x-pm-metadata-plan: pro")
    )
    assert message.control_header("file_keys") == "x-tm-File-Key"
    assert message.control_header("metadata") == "x-pm-metadata-plan"
    assert message.control_header("tags") is None


# --- cached files ---------------------------------------------------------------------------------------
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 20
REF = FileBody(file_key="fk_1", object_key="files/u/abc", sha256="abc")


def cached(name: str = "Rechnung März.pdf") -> MimePart:
    return MimePart(name, "application/pdf", base64_body=encode_base64_body(PDF), source=REF)


def test_a_single_part_message_is_wrapped_in_multipart_mixed_with_its_own_content_headers() -> None:
    raw = client_bytes(
        "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", body="Grüße\r\n"
    )
    data, message = delivered(raw, attachments=[cached()])
    assert message.get_content_type() == "multipart/mixed"
    text, attachment = message.iter_parts()
    assert text["Content-Transfer-Encoding"] == "8bit"
    assert "Grüße".encode() in data  # the client's part is not re-encoded
    assert attachment.get_filename() == "Rechnung März.pdf"
    assert attachment.get_payload(decode=True) == PDF


def test_a_multipart_mixed_message_gains_the_files_as_its_last_parts() -> None:
    boundary = "client-boundary"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n"
        f"--{boundary}\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\n"
        f"x,y\r\n--{boundary}--\r\n"
    )
    raw = client_bytes(
        "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', body=body
    )
    _, message = delivered(raw, attachments=[cached("b.pdf")])
    assert message.get_boundary() == boundary
    names = [part.get_filename() for part in message.iter_parts()]
    assert names == [None, "a.csv", "b.pdf"]
    assert list(message.iter_parts())[2].get_payload(decode=True) == PDF


def test_a_cached_files_body_stays_the_shared_buffer_and_the_queue_carries_it_by_reference() -> None:
    part = cached()
    message = parse_client_message(client_bytes())
    out = relayed(message, read_controls(message), STAMP, now=NOW, attachments=[part])
    [(index, ref)] = out.files.items()
    assert ref == REF
    assert out.pieces[index] is part.base64_body
    assert index in out.base64_bodies
    assert isinstance(out.parts()[index], FileBody)
    assert base64.b64decode(bytes(out.pieces[index])) == PDF
