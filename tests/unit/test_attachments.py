"""Attachment rules without AWS: base64, names, declared types against names and bytes, size estimates, and
resolving a request's attachments (inline and file_key) with an in-memory file cache."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from posthorn.errors import PayloadTooLarge, ValidationFailed
from posthorn.logic.files.attachments import (
    MAX_FILE_BYTES,
    FileProblem,
    check_bytes,
    check_file,
    check_type,
    decode_base64,
    estimated_message_size,
    resolve_attachments,
)
from posthorn.logic.sending.mime import Mailbox, MessageContent, build_message
from posthorn.models.credentials import Credential, CredentialStatus, Permission
from posthorn.models.email import Attachment
from posthorn.models.files import FileRecord, UploadFileRequest
from posthorn.models.raw_message import MAX_MESSAGE_BYTES, MimePart, encode_base64_body
from posthorn.models.raw_message import encoded_size as mime_encoded_size
from tests.support.fakes import FakeCachedFiles

PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)
PDF = b"%PDF-1.7\n" + bytes(40)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CREDENTIAL = Credential(
    username="ph_app",
    secret_hash="x",
    name="app",
    domains=["example.com"],
    permissions=[Permission.SEND],
    status=CredentialStatus.ACTIVE,
    created_at=NOW,
)


# --- base64 -------------------------------------------------------------------------------------------
def test_base64_decodes_and_allows_the_whitespace_of_wrapped_lines() -> None:
    data = os.urandom(300)
    assert decode_base64(base64.b64encode(data).decode()) == data
    assert decode_base64(base64.encodebytes(data).decode().replace("\n", "\r\n ")) == data


@pytest.mark.parametrize("content", ["not base64!", "eA=", "eA", "-_-_", "eA==eA=="])
def test_invalid_base64_is_a_content_problem(content: str) -> None:
    with pytest.raises(FileProblem) as caught:
        decode_base64(content)
    assert caught.value.field == "content"


# --- names (models) -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../x.pdf", "dir\\x.pdf", "a\x00.pdf", "a\tb.pdf", "...", " . ", "x.scr"])
def test_bad_file_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        UploadFileRequest.model_validate({"name": name, "content": "eA=="})
    assert [error["loc"] for error in caught.value.errors()] == [("name",)]


def test_media_types_are_lower_cased() -> None:
    body = {"name": "a.pdf", "content": "eA==", "content_type": "Application/PDF"}
    assert UploadFileRequest.model_validate(body).content_type == "application/pdf"


# --- declared type against the name -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("invoice.pdf", None, "application/pdf"),
        ("PHOTO.JPG", None, "image/jpeg"),
        ("data.unknownext", None, "application/octet-stream"),
        ("noextension", None, "application/octet-stream"),
        ("invoice.pdf", "application/octet-stream", "application/octet-stream"),
        ("photo.jpg", "image/pjpeg", "image/pjpeg"),
        ("table.csv", "application/vnd.ms-excel", "application/vnd.ms-excel"),
        ("thing.custom", "application/x-custom", "application/x-custom"),
    ],
)
def test_type_is_inferred_or_must_fit_the_name(name: str, declared: str | None, expected: str) -> None:
    assert check_type(name, declared) == expected


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("invoice.pdf", "image/png"),
        ("logo.png", "application/pdf"),
        ("a.docx", "text/html"),
        ("a.txt", "image/gif"),
    ],
)
def test_type_that_does_not_fit_the_name_is_refused(name: str, declared: str) -> None:
    with pytest.raises(FileProblem) as caught:
        check_type(name, declared)
    assert caught.value.field == "content_type"
    assert declared in caught.value.message


# --- bytes against the type -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content_type", "data"),
    [
        ("a.png", "image/png", PNG),
        ("a.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(20)),
        ("a.gif", "image/gif", b"GIF87a" + bytes(20)),
        ("a.webp", "image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        ("a.pdf", "application/pdf", b"\xef\xbb\xbf garbage then %PDF-1.4"),
        ("a.docx", "application/octet-stream", b"PK\x03\x04" + bytes(20)),
        ("a.txt", "text/plain", b"MZ is how this text starts, and it is no program"),
        ("a.bin", "application/octet-stream", os.urandom(100)),
        ("a.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ],
)
def test_bytes_that_are_what_they_say_pass(name: str, content_type: str, data: bytes) -> None:
    check_bytes(name, content_type, data, len(data))


@pytest.mark.parametrize(
    ("name", "content_type", "data", "words"),
    [
        ("a.png", "image/png", b"GIF89a" + bytes(20), "not a PNG image"),
        ("a.png", "application/octet-stream", b"<html>", "not a PNG image"),
        ("a.jpg", "image/jpeg", PNG, "not a JPEG image"),
        ("a.pdf", "application/pdf", bytes(1024) + b"%PDF-", "not a PDF document"),
        ("a.xlsx", "application/octet-stream", PDF, "ZIP container"),
        ("a.txt", "text/plain", b"MZ" + bytes(58) + b"\x40\x00\x00\x00PE\x00\x00", "Windows program"),
        ("a", "application/octet-stream", b"\x7fELF\x02\x01", "ELF program"),
        ("a.pdf", "application/pdf", b"", "empty"),
    ],
)
def test_bytes_that_lie_are_refused(name: str, content_type: str, data: bytes, words: str) -> None:
    with pytest.raises(FileProblem) as caught:
        check_bytes(name, content_type, data, len(data))
    assert caught.value.field == "content"
    assert words in caught.value.message


def test_check_file_returns_the_type_it_settled_on() -> None:
    assert check_file("logo.png", None, PNG) == "image/png"


# --- sizes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 2, 3, 56, 57, 58, 114, 1000, 57 * 1000, 57 * 1000 + 1])
def test_encoded_size_is_the_length_of_the_encoded_body(size: int) -> None:
    assert mime_encoded_size(size) == len(encode_base64_body(os.urandom(size)))


def test_encoded_body_is_76_character_base64_lines_separated_by_crlf() -> None:
    data = os.urandom(1000)
    lines = encode_base64_body(data).split(b"\r\n")
    assert all(len(line) == 76 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 76
    assert base64.b64decode(b"".join(lines)) == data


def test_largest_file_fits_a_40_mb_message_and_a_little_more_would_not() -> None:
    assert estimated_message_size(0, [MAX_FILE_BYTES]) <= MAX_MESSAGE_BYTES
    assert estimated_message_size(0, [MAX_FILE_BYTES + 8 * 1024]) > MAX_MESSAGE_BYTES
    assert 30_000_000 < MAX_FILE_BYTES < 31_000_000


def test_estimate_is_never_below_the_built_message() -> None:
    text, html = "Grüße " * 5000, "<p>Grüße</p>" * 3000
    sizes = [0, 1, 57, 100_000, 333_333]
    parts = [MimePart(f"f{size}.bin", "application/octet-stream", os.urandom(size)) for size in sizes]
    content = MessageContent(
        message_id="m", sender=Mailbox("a@example.com"), to=[Mailbox("b@example.net")], cc=[], subject="s",
        date=NOW, text=text, html=html, attachments=parts,
    )  # fmt: skip
    built = len(build_message(content))
    estimate = estimated_message_size(len(text.encode()) + len(html.encode()), sizes)
    assert built <= estimate < built + 32 * 1024


# --- resolving a request's attachments ----------------------------------------------------------------
def record(file_key: str, name: str, content_type: str, size: int) -> FileRecord:
    return FileRecord(
        file_key=file_key, name=name, content_type=content_type, size=size, sha256="0" * 64,
        owner="ph_app", domains=["example.com"], object_key=f"files/ph_app/{file_key}",
        created_at=NOW, expires_at=NOW + timedelta(days=30),
    )  # fmt: skip


def attachments(*items: dict[str, Any]) -> list[Attachment]:
    return [Attachment.model_validate(item) for item in items]


def fields(error: ValidationFailed) -> list[str]:
    return [detail["field"] for detail in error.details]


def test_inline_and_cached_attachments_become_parts_in_order() -> None:
    files = FakeCachedFiles({"k1": record("k1", "logo.png", "image/png", len(PNG))}, {"k1": PNG})
    parts = resolve_attachments(
        attachments(
            {"name": "a.pdf", "content": base64.b64encode(PDF).decode()},
            {"file_key": "k1", "content_id": "logo"},
        ),
        CREDENTIAL,
        files,
        NOW,
    )
    assert [(p.name, p.content_type, p.content_id) for p in parts] == [
        ("a.pdf", "application/pdf", None),
        ("logo.png", "image/png", "logo"),
    ]
    assert parts[0].data == PDF
    assert parts[1].base64_body == encode_base64_body(PNG)


def test_file_key_without_a_file_cache_is_unknown() -> None:
    with pytest.raises(ValidationFailed) as caught:
        resolve_attachments(attachments({"file_key": "k1"}), CREDENTIAL, None, NOW)
    assert fields(caught.value) == ["attachments[0].file_key"]


def test_size_is_refused_before_any_cached_file_is_read() -> None:
    big = record("big", "big.pdf", "application/pdf", 35 * 1024 * 1024)
    files = FakeCachedFiles({"big": big}, {})
    inline = {"name": "a.pdf", "content": base64.b64encode(PDF + bytes(3 * 1024 * 1024)).decode()}
    with pytest.raises(PayloadTooLarge):
        resolve_attachments(attachments({"file_key": "big"}, inline), CREDENTIAL, files, NOW)
    assert files.reads == []


def test_bodies_count_towards_the_size() -> None:
    near = record("near", "near.pdf", "application/pdf", MAX_FILE_BYTES)
    files = FakeCachedFiles({"near": near}, {"near": PDF})
    with pytest.raises(PayloadTooLarge):
        resolve_attachments(attachments({"file_key": "near"}), CREDENTIAL, files, NOW, body_bytes=100_000)


def test_renaming_a_cached_file_rechecks_its_bytes() -> None:
    files = FakeCachedFiles(
        {"k1": record("k1", "doc.bin", "application/octet-stream", len(PDF))}, {"k1": PDF}
    )
    with pytest.raises(ValidationFailed) as caught:
        resolve_attachments(attachments({"file_key": "k1", "name": "photo.png"}), CREDENTIAL, files, NOW)
    assert fields(caught.value) == ["attachments[0].file_key"]
    [part] = resolve_attachments(attachments({"file_key": "k1", "name": "x.pdf"}), CREDENTIAL, files, NOW)
    assert (part.name, part.content_type) == ("x.pdf", "application/octet-stream")


def test_a_content_id_used_twice_is_refused_at_the_second() -> None:
    image = {"name": "a.png", "content": base64.b64encode(PNG).decode(), "content_id": "x"}
    with pytest.raises(ValidationFailed) as caught:
        resolve_attachments(attachments(image, image), CREDENTIAL, None, NOW)
    assert fields(caught.value) == ["attachments[1].content_id"]
