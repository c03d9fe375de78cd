"""A message as pieces (models/raw_message.py), the base64 bodies it splices, and the send worker's reads of
cached files by reference (logic/files/bodies.py)."""

from __future__ import annotations

import hashlib
import os
import random
from datetime import UTC, datetime

import pytest

from posthorn.errors import FileUnavailable
from posthorn.logic.files.bodies import ContentCache, StoredFileBodies
from posthorn.logic.sending.mime import Mailbox, MessageContent, build_message
from posthorn.models.raw_message import (
    FileBody,
    MimePart,
    RawMessage,
    encode_base64_body,
    encode_base64_chunks,
    encoded_size,
)
from tests.support.fakes import FakeObjectStore

DATA = os.urandom(200_000)
FILE = FileBody("fk_" + "f" * 32, "files/ph_owner/abc", hashlib.sha256(DATA).hexdigest())


def chunked(data: bytes, seed: int) -> list[bytes]:
    """`data` cut at random places, as a stream arrives."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 20)) if len(data) > 21 else []
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 57 * 1024, 57 * 1024 + 1, 200_000])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_stream_in_any_chunks_encodes_like_the_whole(size: int, seed: int) -> None:
    data = DATA[:size]
    encoded = encode_base64_chunks(chunked(data, seed), size)
    assert encoded == encode_base64_body(data)
    assert len(encoded) == encoded_size(size)


@pytest.mark.parametrize("chunk", [1, 1000, 57 * 1024 - 1, 57 * 1024, 57 * 1024 + 1, 256 * 1024])
def test_chunks_of_any_fixed_size_encode_like_the_whole(chunk: int) -> None:
    """Chunks shorter than a block fill the carried block over several chunks; longer ones leave a carry."""
    data = DATA[:150_000]
    chunks = [data[start : start + chunk] for start in range(0, len(data), chunk)]
    assert encode_base64_chunks(chunks, len(data)) == encode_base64_body(data)


def test_a_stream_shorter_or_longer_than_announced_is_refused() -> None:
    with pytest.raises(ValueError, match="1000 bytes arrived"):
        encode_base64_chunks([DATA[:1000]], 2000)
    with pytest.raises(ValueError, match="2000 bytes arrived"):
        encode_base64_chunks([DATA[:1000], DATA[:1000]], 1000)


def test_a_built_message_holds_the_cached_body_itself_and_knows_which_file_it_is() -> None:
    body = encode_base64_body(DATA)
    content = MessageContent(
        message_id="m1", sender=Mailbox("a@example.com"), to=[Mailbox("b@example.net")], cc=[],
        subject="Report", date=datetime(2026, 1, 1, tzinfo=UTC), text="See attached", html=None,
        attachments=[
            MimePart("report.bin", "application/octet-stream", base64_body=body, source=FILE),
            MimePart("note.txt", "text/plain", b"inline bytes"),
        ],
    )  # fmt: skip
    raw = build_message(content)

    [(index, ref)] = raw.files.items()
    assert ref == FILE
    assert raw.pieces[index] is body
    assert len(raw.base64_bodies) == 2
    assert index in raw.base64_bodies
    assert len(raw) == len(raw.as_bytes())


def test_parts_and_assemble_give_back_the_same_message() -> None:
    raw = RawMessage((b"head\r\n", bytearray(b"QUJD"), b"\r\ntail\r\n"), {1: FILE}, frozenset({1}))
    parts = raw.parts()
    assert parts == [b"head\r\n", FILE, b"\r\ntail\r\n"]

    again = RawMessage.assemble(parts, lambda ref: b"QUJD")
    assert again.as_bytes() == raw.as_bytes()
    assert again.files == {1: FILE}
    assert again.base64_bodies == frozenset({1})


def test_the_worker_reads_a_cached_file_once_for_many_messages() -> None:
    objects = FakeObjectStore({FILE.object_key: (DATA, "application/octet-stream")})
    bodies = StoredFileBodies(objects, ContentCache(10 * 1024 * 1024))

    read = [bodies.body(FILE) for _ in range(100)]

    assert objects.reads == 1
    assert read[0] == encode_base64_body(DATA)
    assert all(body is read[0] for body in read)


def test_a_file_gone_or_changed_since_the_message_was_accepted_is_unavailable() -> None:
    objects = FakeObjectStore()
    bodies = StoredFileBodies(objects, ContentCache(10 * 1024 * 1024))
    with pytest.raises(FileUnavailable, match="no longer stored"):
        bodies.body(FILE)

    objects.put(FILE.object_key, b"other bytes", "application/octet-stream")
    with pytest.raises(FileUnavailable, match="other bytes"):
        bodies.body(FILE)
    assert len(bodies.contents) == 0  # nothing wrong is cached
