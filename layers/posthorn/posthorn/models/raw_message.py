"""A message's bytes as pieces, the base64 bodies of attachments, an attachment as a part (`MimePart`), and
SES's size limit.

`RawMessage` is a built message kept in the pieces it was built from: the text the stdlib wrote (headers,
structure, text and HTML bodies) and, between them, each attachment's base64 body. A file-cache
attachment's body is one buffer shared by every message that attaches the file, so a batch of 100 messages
sharing a 5 MB file holds that file once, not 100 times; the pieces go to SMTP one after another and are
never joined. Where a piece is a cached file's body, the message also knows which file it is (`FileBody`):
the send queue carries that reference instead of the bytes, and the send worker reads the file once per
process (`logic/files/bodies.py`).

Free of the MIME builder on purpose: the send worker imports this, not `logic/sending/mime.py`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

Base64Body = bytes | bytearray

# RFC 2045: base64 lines of at most 76 characters, i.e. 57 bytes of input each.
_BASE64_LINE_BYTES = 57
_BLOCK_BYTES = _BASE64_LINE_BYTES * 1024


class FileBody(NamedTuple):
    """Which file-cache object a piece of a message is the base64 body of, and the exact bytes (sha256)
    the message was accepted with."""

    file_key: str
    object_key: str
    sha256: str


@dataclass(frozen=True)
class RawMessage:
    """The message, byte for byte, as `pieces` in order. `files[i]` says piece i is that cached file's
    body. Pieces in `base64_bodies` are attachment bodies from `encode_base64_body`: CRLF-separated lines
    of the base64 alphabet, so SMTP can send them as they are (no line end to fix, no line starting with
    ".") without scanning megabytes for what cannot be there."""

    pieces: tuple[Base64Body, ...]
    files: dict[int, FileBody] = field(default_factory=dict)
    base64_bodies: frozenset[int] = frozenset()

    @classmethod
    def of(cls, data: bytes) -> RawMessage:
        return cls((data,))

    @classmethod
    def assemble(
        cls, parts: Sequence[Base64Body | FileBody], body: Callable[[FileBody], Base64Body]
    ) -> RawMessage:
        """The message again from `parts()`: each file reference replaced by `body(reference)`."""
        files = {index: part for index, part in enumerate(parts) if isinstance(part, FileBody)}
        pieces = tuple(body(part) if isinstance(part, FileBody) else part for part in parts)
        return cls(pieces, files, frozenset(files))

    def parts(self) -> list[Base64Body | FileBody]:
        """The pieces, with each cached file's body given as its reference (what the send queue carries)."""
        return [self.files.get(index, piece) for index, piece in enumerate(self.pieces)]

    def __len__(self) -> int:
        return sum(len(piece) for piece in self.pieces)

    def as_bytes(self) -> bytes:
        """One copy of the whole message (for tests and tools; sending never needs it)."""
        return b"".join(self.pieces)


def encode_base64_body(data: bytes) -> Base64Body:
    """`data` as a base64 MIME body: 76-character lines separated (not ended) by CRLF."""
    return encode_base64_chunks([data], len(data))


def encode_base64_chunks(chunks: Iterable[bytes], size: int) -> Base64Body:
    """`size` bytes arriving in chunks of any length (a stream from S3, say) as a base64 MIME body, written
    block by block into one buffer of the final size: encoding holds the result, the chunk at hand and less
    than one block carried over from the previous chunk (never the whole input, a list of lines, or a chunk
    joined to the carry: that copy was the largest transient of the send worker's read). The buffer is
    shared by every message that attaches it and never modified. Raises ValueError when the chunks do not
    add up to `size`."""
    body = bytearray(encoded_size(size) + 2)  # room for the last line's CRLF, removed at the end
    position = 0
    carry = bytearray()  # less than one block: the end of the previous chunk
    received = 0
    for chunk in chunks:
        received += len(chunk)
        view = memoryview(chunk)
        start = 0
        if carry:  # fill the carried block from this chunk's start
            start = min(len(view), _BLOCK_BYTES - len(carry))
            carry += view[:start]
            if len(carry) < _BLOCK_BYTES:
                continue
            position = _encode_block(body, position, carry)
            carry = bytearray()
        whole = start + (len(view) - start) // _BLOCK_BYTES * _BLOCK_BYTES
        for block in range(start, whole, _BLOCK_BYTES):
            position = _encode_block(body, position, view[block : block + _BLOCK_BYTES])
        carry += view[whole:]
    if carry:
        position = _encode_block(body, position, carry)
    if received != size:
        raise ValueError(f"{received} bytes arrived; {size} were expected")
    del body[max(0, position - 2) :]  # the last line's CRLF
    return body


def _encode_block(body: bytearray, position: int, block: bytes | bytearray | memoryview) -> int:
    encoded = base64.encodebytes(block).replace(b"\n", b"\r\n")
    body[position : position + len(encoded)] = encoded
    return position + len(encoded)


def encoded_size(size: int) -> int:
    """The length of `encode_base64_body` of `size` bytes, without encoding anything."""
    lines = -(-size // _BASE64_LINE_BYTES)
    return 4 * -(-size // 3) + 2 * max(lines - 1, 0)


# SES's limit is 40 MB for the whole message after encoding.
MAX_MESSAGE_BYTES = 40 * 1024 * 1024


class MimePart(NamedTuple):
    """An attachment. `content_id` makes it an inline part of the HTML body. `base64_body`, when given, is
    `encode_base64_body(data)` already (shared by every message that attaches the same cached file), and
    `data` may then be left empty."""

    name: str
    content_type: str
    data: bytes = b""
    content_id: str | None = None
    base64_body: Base64Body | None = None
    source: FileBody | None = None  # the cached file `base64_body` is the body of

    def body(self) -> Base64Body:
        return self.base64_body if self.base64_body is not None else encode_base64_body(self.data)
