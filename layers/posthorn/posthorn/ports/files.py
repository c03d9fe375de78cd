"""The file cache: file records, stored objects, and cached files' bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from datetime import datetime

    from posthorn.models.credentials import Credential
    from posthorn.models.files import FileContent, FileRecord, FileStatus, PresignedUpload, StoredObject
    from posthorn.models.raw_message import Base64Body, FileBody


class FileStore(Protocol):
    """File metadata (`FILE#<file_key>`), and reference counts of objects shared by identical uploads."""

    def put_file(self, record: FileRecord) -> None: ...
    def get_file(self, file_key: str) -> FileRecord | None: ...
    def delete_file(self, file_key: str) -> FileRecord | None: ...
    def settle_upload(
        self, file_key: str, status: FileStatus, *, sha256: str | None = None, rejection: str | None = None
    ) -> FileRecord | None:
        """Move a `pending` file to `ready` or `rejected`; None if it is no longer pending."""
        ...

    def reference_blob(self, owner: str, sha256: str, *, expires_at: int) -> int: ...
    def release_blob(self, owner: str, sha256: str) -> int: ...
    def forget_blob(self, owner: str, sha256: str) -> bool:
        """Drop the blob's record if nothing references it any more; True when it was dropped."""
        ...


class ObjectStore(Protocol):
    """The bucket (S3): private objects under keys that only the service hands around."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def open(self, key: str) -> StoredObject | None:
        """The object to read, or None when there is no such object."""
        ...

    def delete(self, key: str) -> None: ...
    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str: ...


class AttachmentBodies(Protocol):
    """What the send worker needs from the file cache: the bodies of a queued message's attachments."""

    def body(self, ref: FileBody) -> Base64Body:
        """The cached file's base64 body; FileUnavailable when it is gone or holds other bytes."""
        ...


class FileUploads(Protocol):
    """What the file routes need from the file cache (`FileCache`, `logic/files/cache.py`)."""

    def upload(
        self,
        credential: Credential,
        name: str,
        declared_type: str | None,
        data: bytes,
        *,
        fields: dict[str, str] | None = None,
    ) -> FileRecord: ...
    def create_upload(
        self, credential: Credential, name: str, declared_type: str | None, size: int
    ) -> PresignedUpload: ...
    def get(self, credential: Credential, file_key: str) -> FileRecord: ...
    def delete(self, credential: Credential, file_key: str) -> None: ...


class CachedFiles(Protocol):
    """What sending needs from the file cache."""

    def usable(self, file_key: str, credential: Credential, now: datetime) -> FileRecord:
        """The file if this credential may attach it now; FileUnavailable otherwise."""
        ...

    def content(self, record: FileRecord) -> FileContent:
        """Its bytes, read from storage at most once per process while they stay cached."""
        ...
