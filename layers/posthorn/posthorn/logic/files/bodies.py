"""Cached files' base64 bodies, read from storage at most once per process while they stay cached.

`ContentCache` is the bounded per-process cache the API's file cache (`logic/files/cache.py`) and the send
worker share the shape of, and `read_content` how both read a file: streamed from storage into its base64
body, hashed on the way (the object's bytes are never held whole beside their encoding).
`StoredFileBodies` is the send worker's side: a queued message names its cached attachments by `FileBody`
(object and sha256), and the worker reads each object once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from posthorn.errors import FileUnavailable
from posthorn.models.files import FileContent
from posthorn.models.raw_message import Base64Body, FileBody, encode_base64_chunks
from posthorn.ports import ObjectStore

# How much of a file the signature checks look at.
HEAD_BYTES = 4096


class ContentCache:
    """Least-recently-used file contents, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], FileContent] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def _cost(content: FileContent) -> int:
        return len(content.base64_body) + len(content.head)

    def get(self, file_key: str, sha256: str) -> FileContent | None:
        content = self._entries.get((file_key, sha256))
        if content is not None:
            self._entries.move_to_end((file_key, sha256))
        return content

    def put(self, file_key: str, content: FileContent) -> None:
        cost = self._cost(content)
        if cost > self.max_bytes:
            return
        self.discard(file_key)
        self._entries[(file_key, content.sha256)] = content
        self._bytes += cost
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= self._cost(evicted)

    def discard(self, file_key: str) -> None:
        for key in [key for key in self._entries if key[0] == file_key]:
            self._bytes -= self._cost(self._entries.pop(key))

    def __len__(self) -> int:
        return len(self._entries)


class StoredFileBodies:
    """`AttachmentBodies` for the send worker: a queued message's cached attachment, by the exact bytes it
    was accepted with. FileUnavailable when the object is gone (the key was deleted, or expired, while the
    message waited) or holds other bytes than those."""

    def __init__(self, objects: ObjectStore, contents: ContentCache) -> None:
        self.objects = objects
        self.contents = contents

    def body(self, ref: FileBody) -> Base64Body:
        cached = self.contents.get(ref.file_key, ref.sha256)
        if cached is not None:
            return cached.base64_body
        read = read_content(self.objects, ref.object_key)
        if read is None:
            raise FileUnavailable(
                f"{ref.file_key} is no longer stored (deleted or expired since it was queued)"
            )
        content, _ = read
        if content.sha256 != ref.sha256:
            raise FileUnavailable(f"{ref.file_key} holds other bytes than when the message was accepted")
        self.contents.put(ref.file_key, content)
        return content.base64_body


def read_content(objects: ObjectStore, key: str) -> tuple[FileContent, str] | None:
    """An object streamed into its base64 body (its bytes are never held whole beside their encoding), with
    its sha256, first bytes and size, and the content type it was stored with; None when there is none."""
    stored = objects.open(key)
    if stored is None:
        return None
    seen = Observed()
    try:
        body = encode_base64_chunks(seen.watch(stored.chunks), stored.size)
    except ValueError as short:
        raise FileUnavailable(f"the stored file could not be read whole: {short}") from None
    finally:
        stored.close()
    content = FileContent(base64_body=body, head=bytes(seen.head), size=seen.size, sha256=seen.sha256)
    return content, stored.content_type


class Observed:
    """What went through `watch`: its sha256, its first HEAD_BYTES and its size."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.head = bytearray()
        self.size = 0

    def watch(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The chunks as they are."""
        for chunk in chunks:
            self._digest.update(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            self.size += len(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()
