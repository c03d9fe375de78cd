"""The file cache: upload once, attach by `file_key` in any number of messages.

- A file key is a random handle (`fk_` + 192 bits). The file's metadata is stored under it with the
  uploader's username and domains; a credential sharing one of those domains (or the uploader itself) may
  read, delete and attach it. Anyone else learns nothing: 404 from the API, 422 when sending.
- Objects live under `files/<owner>/`: `files/<owner>/<sha256>` for bytes uploaded through the API (the
  same bytes from the same owner share one object, counted by reference), `files/<owner>/uploads/<key>`
  for presigned uploads. The owner is the uploading credential.
- Expiry: `expires_at` is enforced here on every use; DynamoDB's TTL and the bucket's lifecycle rule
  (same number of days, counted from the upload) remove the records and objects later.
- A presigned upload is `pending` until its bytes have been checked (size, type, signature) on first use;
  then `ready` with its sha256, or `rejected` with the reason (and its object deleted).
- `content()` keeps the base64 body of recently attached files in a bounded per-process cache keyed by
  (file_key, sha256): a file attached to many messages in one invocation is read from S3 once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from posthorn.errors import FileUnavailable, NotFound, ValidationFailed
from posthorn.logic.files.attachments import (
    FileProblem,
    check_bytes,
    check_file,
    check_file_size,
    check_type,
)
from posthorn.logic.files.bodies import ContentCache, Observed, read_content
from posthorn.models.credentials import Credential
from posthorn.models.files import FileContent, FileRecord, PresignedUpload
from posthorn.ports import Clock, FileStore, ObjectStore

FILE_KEY = re.compile(r"^fk_[A-Za-z0-9_-]{32}$")
UNKNOWN = "unknown file_key (never uploaded, deleted, expired, or not shared with this credential's domains)"


def new_file_key() -> str:
    return "fk_" + secrets.token_urlsafe(24)


def may_use(record: FileRecord, credential: Credential) -> bool:
    return record.owner == credential.username or any(credential.owns_domain(d) for d in record.domains)


def _validation(problem: FileProblem, fields: dict[str, str]) -> ValidationFailed:
    return ValidationFailed.on(fields.get(problem.field, problem.field), problem.message)


@dataclass
class FileCache:
    files: FileStore
    objects: ObjectStore
    clock: Clock
    retention_days: int
    upload_url_seconds: int = 3600
    contents: ContentCache = field(default_factory=lambda: ContentCache(96 * 1024 * 1024))

    # --- the API ----------------------------------------------------------------------------------
    def upload(
        self,
        credential: Credential,
        name: str,
        declared_type: str | None,
        data: bytes,
        *,
        fields: dict[str, str] | None = None,
    ) -> FileRecord:
        """Store checked bytes. `fields` renames problem fields for the caller's request shape."""
        check_file_size(len(data))
        try:
            content_type = check_file(name, declared_type, data)
        except FileProblem as problem:
            raise _validation(problem, fields or {}) from None
        sha256 = hashlib.sha256(data).hexdigest()
        now = self.clock.now()
        expires_at = now + timedelta(days=self.retention_days)
        object_key = f"files/{credential.username}/{sha256}"
        # Count the reference first: a concurrent delete of another key to these bytes then keeps the object.
        self.files.reference_blob(credential.username, sha256, expires_at=int(expires_at.timestamp()))
        # Written again even when shared: the bucket's lifecycle counts from the last write.
        self.objects.put(object_key, data, content_type)
        record = FileRecord(
            file_key=new_file_key(),
            name=name,
            content_type=content_type,
            size=len(data),
            sha256=sha256,
            owner=credential.username,
            domains=list(credential.domains),
            object_key=object_key,
            shared=True,
            created_at=now,
            expires_at=expires_at,
        )
        self.files.put_file(record)
        return record

    def create_upload(
        self, credential: Credential, name: str, declared_type: str | None, size: int
    ) -> PresignedUpload:
        """A presigned PUT for exactly `size` bytes of the file's content type."""
        check_file_size(size)
        try:
            content_type = check_type(name, declared_type)
        except FileProblem as problem:
            raise _validation(problem, {}) from None
        now = self.clock.now()
        file_key = new_file_key()
        object_key = f"files/{credential.username}/uploads/{file_key}"
        url = self.objects.presign_put(
            object_key, content_type=content_type, size=size, expires_in=self.upload_url_seconds
        )
        record = FileRecord(
            file_key=file_key,
            name=name,
            content_type=content_type,
            size=size,
            owner=credential.username,
            domains=list(credential.domains),
            object_key=object_key,
            status="pending",
            created_at=now,
            expires_at=now + timedelta(days=self.retention_days),
        )
        self.files.put_file(record)
        return PresignedUpload(
            record=record,
            url=url,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
            url_expires_at=now + timedelta(seconds=self.upload_url_seconds),
        )

    def get(self, credential: Credential, file_key: str) -> FileRecord:
        """The file's metadata; a pending upload that has arrived is checked first."""
        record = self._visible(credential, file_key)
        if record.status == "pending":
            record = self._check_stream(record)
        return record

    def delete(self, credential: Credential, file_key: str) -> None:
        record = self._visible(credential, file_key)
        if self.files.delete_file(file_key) is None:
            raise NotFound(f"no file {file_key}")
        self.contents.discard(file_key)
        if not record.shared:
            self.objects.delete(record.object_key)
            return
        assert record.sha256 is not None
        # The object goes with the last key that references it. (A concurrent upload of the same bytes
        # between the release and the delete below is the one case where a new key loses its object;
        # attaching it is then a 422, never another tenant's bytes.)
        if self.files.release_blob(record.owner, record.sha256) <= 0 and self.files.forget_blob(
            record.owner, record.sha256
        ):
            self.objects.delete(record.object_key)

    def _visible(self, credential: Credential, file_key: str) -> FileRecord:
        record = self.files.get_file(file_key) if FILE_KEY.match(file_key) else None
        if record is None or not may_use(record, credential) or record.expires_at <= self.clock.now():
            raise NotFound(f"no file {file_key}")
        return record

    # --- sending (the CachedFiles port) -------------------------------------------------------------
    def usable(self, file_key: str, credential: Credential, now: datetime) -> FileRecord:
        record = self.files.get_file(file_key) if FILE_KEY.match(file_key) else None
        if record is None or not may_use(record, credential):
            raise FileUnavailable(UNKNOWN)
        if record.expires_at <= now:
            raise FileUnavailable(f"the file expired at {record.expires_at.isoformat()}")
        if record.status == "rejected":
            raise FileUnavailable(f"the upload was rejected: {record.rejection}")
        return record

    def content(self, record: FileRecord) -> FileContent:
        if record.sha256 is not None:
            cached = self.contents.get(record.file_key, record.sha256)
            if cached is not None:
                return cached
        read = read_content(self.objects, record.object_key)
        if read is None:
            if record.status == "pending":
                raise FileUnavailable("the presigned upload for this file_key has not arrived yet")
            raise FileUnavailable("the file is no longer stored")
        content, content_type = read
        if record.status == "pending":
            problem = self._upload_problem(record, content_type, content.head, content.size)
            record = self._settle(record, content.sha256, problem)
        elif content.sha256 != record.sha256:
            # A presigned URL stays valid for a while after its upload was checked: bytes PUT later are
            # never sent under the checked file's name.
            raise FileUnavailable("the stored bytes changed after the upload was checked")
        self.contents.put(record.file_key, content)
        return content

    # --- checking presigned uploads -----------------------------------------------------------------
    @staticmethod
    def _upload_problem(record: FileRecord, content_type: str, head: bytes, size: int) -> str | None:
        if size != record.size:
            return f"{size} bytes arrived; the upload was created for {record.size}"
        if content_type.split(";")[0].strip().lower() != record.content_type:
            return f"it was uploaded as {content_type}; the upload was created for {record.content_type}"
        try:
            check_bytes(record.name, record.content_type, head, size)
        except FileProblem as problem:
            return problem.message
        return None

    def _settle(self, record: FileRecord, sha256: str, problem: str | None) -> FileRecord:
        """Record the outcome of checking a pending upload; raise FileUnavailable when it failed."""
        if problem is not None:
            self.files.settle_upload(record.file_key, "rejected", rejection=problem)
            self.objects.delete(record.object_key)
            raise FileUnavailable(f"the upload was rejected: {problem}")
        settled = self.files.settle_upload(record.file_key, "ready", sha256=sha256)
        if settled is None:  # settled concurrently: trust what was stored
            settled = self.files.get_file(record.file_key)
            if settled is None or settled.status != "ready" or settled.sha256 != sha256:
                raise FileUnavailable(UNKNOWN)
        return settled

    def _check_stream(self, record: FileRecord) -> FileRecord:
        """Check a pending upload without holding it in memory; unchanged while nothing has arrived."""
        stored = self.objects.open(record.object_key)
        if stored is None:
            return record
        seen = Observed()
        try:
            if stored.size != record.size:
                problem: str | None = f"{stored.size} bytes arrived; the upload was created for {record.size}"
            else:
                for _ in seen.watch(stored.chunks):
                    pass
                problem = self._upload_problem(record, stored.content_type, bytes(seen.head), seen.size)
        finally:
            stored.close()
        try:
            return self._settle(record, seen.sha256, problem)
        except FileUnavailable:
            return self.files.get_file(record.file_key) or record
