"""Attachments: decoding, what a file's name, declared type and bytes must agree on, and message size.

Names are checked by the models (`models/files.py`: SES's blocked extensions, no paths). Here:
- base64 must decode (line breaks and spaces are allowed, as MIME tools wrap at 76 characters);
- a file must not be empty;
- a declared type must fit the name's extension when the extension is a well-known one (`photo.png` sent
  as `application/pdf` is refused; `application/octet-stream` fits any name);
- where a wrong type matters (images shown inline, PDFs, archives), the bytes must start with that type's
  signature, and bytes that are a program are refused whatever the name says;
- the encoded message must fit SES's 40 MB, which is estimated from sizes alone before anything is read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from posthorn.errors import FileUnavailable, PayloadTooLarge, ValidationFailed
from posthorn.logic.files.bodies import HEAD_BYTES
from posthorn.models.credentials import Credential
from posthorn.models.email import Attachment
from posthorn.models.files import FileRecord, extension_of
from posthorn.models.raw_message import MAX_MESSAGE_BYTES, FileBody, MimePart, encoded_size
from posthorn.ports import CachedFiles

OCTET_STREAM = "application/octet-stream"
# Room for the message's headers and MIME structure when estimating its size from its parts.
_MESSAGE_OVERHEAD = 16 * 1024
_PART_OVERHEAD = 1024


def _largest_attachment() -> int:
    """The largest file whose base64 encoding still fits in one message with its headers."""
    budget = MAX_MESSAGE_BYTES - _MESSAGE_OVERHEAD - _PART_OVERHEAD
    size = budget * 3 // 4
    while encoded_size(size) > budget:
        size -= 1024
    return size


MAX_FILE_BYTES = _largest_attachment()

_ZIP = ("application/zip", "application/x-zip-compressed")
_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
# Well-known extensions and the types that may describe them (the first is the one inferred).
EXTENSION_TYPES: dict[str, tuple[str, ...]] = {
    "pdf": ("application/pdf", "application/x-pdf"),
    "png": ("image/png",),
    "jpg": ("image/jpeg", "image/pjpeg"),
    "jpeg": ("image/jpeg", "image/pjpeg"),
    "jpe": ("image/jpeg",),
    "gif": ("image/gif",),
    "webp": ("image/webp",),
    "bmp": ("image/bmp", "image/x-bmp", "image/x-ms-bmp"),
    "tif": ("image/tiff",),
    "tiff": ("image/tiff",),
    "svg": ("image/svg+xml",),
    "ico": ("image/x-icon", "image/vnd.microsoft.icon"),
    "heic": ("image/heic",),
    "avif": ("image/avif",),
    "txt": ("text/plain",),
    "csv": ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"),
    "html": ("text/html",),
    "htm": ("text/html",),
    "ics": ("text/calendar",),
    "md": ("text/markdown", "text/plain"),
    "json": ("application/json", "text/plain"),
    "xml": ("application/xml", "text/xml"),
    "zip": (*_ZIP, "application/x-zip"),
    "gz": ("application/gzip", "application/x-gzip"),
    "doc": ("application/msword",),
    "docx": (_OOXML + "wordprocessingml.document",),
    "xls": ("application/vnd.ms-excel",),
    "xlsx": (_OOXML + "spreadsheetml.sheet",),
    "ppt": ("application/vnd.ms-powerpoint",),
    "pptx": (_OOXML + "presentationml.presentation",),
    "odt": (_ODF + "text",),
    "ods": (_ODF + "spreadsheet",),
    "odp": (_ODF + "presentation",),
    "rtf": ("application/rtf", "text/rtf"),
    "mp3": ("audio/mpeg",),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave"),
    "mp4": ("video/mp4", "audio/mp4"),
    "mov": ("video/quicktime",),
}


def _zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


# Types whose bytes are checked: what a reader would call them, and their signature.
SIGNATURES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "application/pdf": ("a PDF document", lambda head: b"%PDF-" in head[:1024]),
    "image/png": ("a PNG image", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "image/jpeg": ("a JPEG image", lambda head: head.startswith(b"\xff\xd8\xff")),
    "image/gif": ("a GIF image", lambda head: head[:6] in (b"GIF87a", b"GIF89a")),
    "image/webp": ("a WebP image", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    "image/bmp": ("a BMP image", lambda head: head.startswith(b"BM")),
    "image/tiff": ("a TIFF image", lambda head: head[:4] in (b"II*\x00", b"MM\x00*")),
    "application/gzip": ("a gzip file", lambda head: head.startswith(b"\x1f\x8b")),
    **{kind: ("a ZIP archive", _zip) for kind in _ZIP},
    **{
        EXTENSION_TYPES[extension][0]: (f"a .{extension} document (a ZIP container)", _zip)
        for extension in ("docx", "xlsx", "pptx", "odt", "ods", "odp")
    },
}
SIGNATURES["image/pjpeg"] = SIGNATURES["image/jpeg"]
SIGNATURES["application/x-pdf"] = SIGNATURES["application/pdf"]


class FileProblem(ValueError):
    """A file that cannot be attached; `field` is `name`, `content_type` or `content`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def decode_base64(content: str) -> bytes:
    """Strict base64; the whitespace of wrapped lines is allowed. FileProblem on `content` otherwise."""
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FileProblem("content", "is not valid base64") from None


def guess_type(name: str) -> str:
    known = EXTENSION_TYPES.get(extension_of(name))
    return known[0] if known else OCTET_STREAM


def check_type(name: str, declared: str | None) -> str:
    """The file's content type: the declared one if it fits the name, else inferred from the name."""
    if declared is None:
        return guess_type(name)
    declared = declared.lower()
    expected = EXTENSION_TYPES.get(extension_of(name))
    if expected is not None and declared != OCTET_STREAM and declared not in expected:
        raise FileProblem(
            "content_type",
            f"{declared} does not match the name {name!r} (a .{extension_of(name)} file is {expected[0]})",
        )
    return declared


def _program(head: bytes) -> str | None:
    if head.startswith(b"\x7fELF"):
        return "an ELF program"
    if head.startswith(b"MZ") and len(head) >= 0x40:
        offset = int.from_bytes(head[0x3C:0x40], "little")
        if head[offset : offset + 4] == b"PE\x00\x00":
            return "a Windows program"
    return None


def check_bytes(name: str, content_type: str, head: bytes, size: int) -> None:
    """The bytes against the name and type (`head`: the first HEAD_BYTES bytes). FileProblem on `content`."""
    if size == 0:
        raise FileProblem("content", "the file is empty")
    program = _program(head)
    if program is not None:
        raise FileProblem("content", f"the bytes are {program}; executables are not accepted")
    implied = EXTENSION_TYPES.get(extension_of(name), (content_type,))[0]
    for kind in dict.fromkeys((content_type, implied)):
        signature = SIGNATURES.get(kind)
        if signature is not None and not signature[1](head):
            what, _ = signature
            raise FileProblem("content", f"the bytes are not {what}, as {kind} for {name!r} says")


def check_file(name: str, declared: str | None, data: bytes) -> str:
    """Every check for a file about to be stored or attached; returns its content type."""
    content_type = check_type(name, declared)
    check_bytes(name, content_type, data[:HEAD_BYTES], len(data))
    return content_type


def check_file_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"the file is {size} bytes; a file over {MAX_FILE_BYTES} bytes cannot fit in a message once "
            f"encoded (SES accepts at most {MAX_MESSAGE_BYTES} bytes)"
        )


def estimated_message_size(body_bytes: int, attachment_sizes: Sequence[int]) -> int:
    """An upper estimate of the encoded message from its parts' sizes (bodies counted as base64)."""
    return (
        _MESSAGE_OVERHEAD
        + encoded_size(body_bytes)
        + sum(encoded_size(size) + _PART_OVERHEAD for size in attachment_sizes)
    )


@dataclass(frozen=True)
class _Planned:
    index: int
    name: str
    content_type: str
    content_id: str | None
    data: bytes | None = None
    record: FileRecord | None = None

    @property
    def size(self) -> int:
        return self.record.size if self.record is not None else len(self.data or b"")


def _fail(index: int, field: str, message: str) -> ValidationFailed:
    return ValidationFailed.on(f"attachments[{index}].{field}", message)


def _plan(
    index: int, attachment: Attachment, credential: Credential, files: CachedFiles | None, now: datetime
) -> _Planned:
    try:
        if attachment.file_key is None:
            assert attachment.content is not None
            assert attachment.name is not None
            data = decode_base64(attachment.content)
            content_type = check_file(attachment.name, attachment.content_type, data)
            return _Planned(index, attachment.name, content_type, attachment.content_id, data=data)
        if files is None:
            raise FileUnavailable("unknown file_key")
        record = files.usable(attachment.file_key, credential, now)
        name = attachment.name or record.name
        content_type = check_type(name, attachment.content_type or record.content_type)
        return _Planned(index, name, content_type, attachment.content_id, record=record)
    except FileProblem as problem:
        raise _fail(index, problem.field, problem.message) from None
    except FileUnavailable as unavailable:
        raise _fail(index, "file_key", str(unavailable)) from None


def _part(planned: _Planned, files: CachedFiles | None) -> MimePart:
    if planned.record is None:
        assert planned.data is not None
        return MimePart(planned.name, planned.content_type, planned.data, content_id=planned.content_id)
    assert files is not None
    try:
        content = files.content(planned.record)
        if (planned.name, planned.content_type) != (planned.record.name, planned.record.content_type):
            check_bytes(planned.name, planned.content_type, content.head, content.size)
    except (FileProblem, FileUnavailable) as problem:
        raise _fail(planned.index, "file_key", str(problem)) from None
    return MimePart(
        planned.name,
        planned.content_type,
        content_id=planned.content_id,
        base64_body=content.base64_body,
        source=FileBody(planned.record.file_key, planned.record.object_key, content.sha256),
    )


def resolve_attachments(
    attachments: Sequence[Attachment],
    credential: Credential,
    files: CachedFiles | None,
    now: datetime,
    *,
    body_bytes: int = 0,
) -> list[MimePart]:
    """The request's attachments as MIME parts: inline ones decoded and checked, file keys resolved for
    this credential. The message's size is checked from the sizes before any cached file is read."""
    planned = [_plan(index, a, credential, files, now) for index, a in enumerate(attachments)]
    content_ids: dict[str, int] = {}
    for item in planned:
        if item.content_id is not None:
            if item.content_id in content_ids:
                raise _fail(
                    item.index, "content_id", f"is used by attachments[{content_ids[item.content_id]}] too"
                )
            content_ids[item.content_id] = item.index
    estimate = estimated_message_size(body_bytes, [item.size for item in planned])
    if estimate > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"the message would be about {estimate} bytes once encoded; "
            f"SES accepts at most {MAX_MESSAGE_BYTES}"
        )
    return [_part(item, files) for item in planned]
