"""What the logic needs from the outside world. Adapters implement these; tests pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from posthorn.logic.raw_message import Base64Body, FileBody, RawMessage
from posthorn.models.credentials import Credential, CredentialStatus
from posthorn.models.domains import DomainRecord
from posthorn.models.files import FileRecord, FileStatus
from posthorn.models.messages import MessageRecord


class Clock(Protocol):
    def now(self) -> datetime: ...


class CredentialStore(Protocol):
    def get_credential(self, username: str) -> Credential | None: ...
    def put_credential(self, credential: Credential) -> None: ...
    def list_credentials(self) -> list[Credential]: ...
    def set_credential_status(self, username: str, status: CredentialStatus) -> Credential | None: ...


class DomainStore(Protocol):
    def get_domain(self, domain: str) -> DomainRecord | None: ...
    def put_domain(self, record: DomainRecord) -> None: ...


class MessageStore(Protocol):
    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]: ...
    def create_message(self, record: MessageRecord) -> None: ...
    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None: ...
    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None: ...
    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        """These recipients were suppressed after the message was accepted: they are not sent to."""
        ...

    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        """Store many new messages at once; returns the ids that could not be stored."""
        ...

    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        """Take the right to run the SMTP transaction for a queued message, for `lease_seconds`."""
        ...

    def release_claim(self, message_id: str) -> None: ...


@dataclass(frozen=True)
class SendClaim:
    """`claimed`: this worker may send (`record` is the message). `done`: SES already has it, or it failed
    for good. `busy`: another worker holds the claim for `busy_for` more seconds. `missing`: no record."""

    state: Literal["claimed", "done", "busy", "missing"]
    record: MessageRecord | None = None
    busy_for: float = 0.0


@dataclass(frozen=True)
class QueuedMessage:
    """What the send queue carries: a stored message's id and its MIME, cached attachments by reference
    (the record holds the rest)."""

    message_id: str
    raw: RawMessage


class SendQueue(Protocol):
    def enqueue(self, messages: list[QueuedMessage]) -> set[str]:
        """Queue messages for the send worker; returns the ids that could not be queued."""
        ...


# --- the send worker's queue (logic/worker.py; adapters/send_queue.py implements it) ---
class QueuedBodyMissing(Exception):
    """The queued MIME could not be read (its S3 object is gone or unreadable)."""


@dataclass(frozen=True)
class QueueItem:
    id: str  # the queue's id for this delivery
    message_id: str | None  # None: the queue message could not be read
    receive_count: int


class WorkQueue(Protocol):
    def load(self, item: QueueItem) -> list[Base64Body | FileBody]:
        """The queued MIME as `RawMessage.parts()` gave it: cached attachments still by reference."""
        ...

    def retry_after(self, item: QueueItem, seconds: int) -> None:
        """Make the item visible again after `seconds` (it is reported as failed, so not deleted)."""
        ...

    def finished(self, item: QueueItem) -> None:
        """The message's outcome is recorded; what was kept only for sending it can go."""
        ...

    def defer(self, item: QueueItem, seconds: int) -> None:
        """Queue the item again as a new message after `seconds`: it was not tried, so this delivery must
        not count as an attempt (the item is then acknowledged)."""
        ...


class RateStore(Protocol):
    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        """Atomically, for the timestamp `tat` stored under `key` (absent: 0): start = max(tat, now); when
        `latest_start_us` is None or start <= it, set tat = start + cost and return (True, the new tat);
        otherwise change nothing and return (False, tat)."""
        ...


@dataclass(frozen=True)
class DeliveryReceipt:
    """SES accepted the message: its id from `250 Ok <id>`, and any recipients it refused at RCPT."""

    ses_message_id: str
    refused: dict[str, str] = field(default_factory=dict)
    # True when an earlier attempt lost its connection after the final "." (SES may have the message twice).
    after_ambiguous_drop: bool = False


class DeliveryRejected(Exception):
    """SES refused the message permanently (a 5xx reply)."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply


class DeliveryUnavailable(Exception):
    """SES could not be reached, or kept answering with transient failures, within the time budget."""


class MailTransport(Protocol):
    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt: ...


@dataclass(frozen=True)
class IdentityStatus:
    verified: bool
    dkim_tokens: list[str]


class DomainIdentities(Protocol):
    """The email provider's record of a sending domain (SES identities deployed, auto-verified locally)."""

    def create(self, domain: str) -> IdentityStatus: ...
    def status(self, domain: str) -> IdentityStatus: ...


# --- the file cache ---------------------------------------------------------------------------------
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


@dataclass(frozen=True)
class StoredObject:
    """An object being read: `chunks` streams it; `close()` when done, read to the end or not."""

    content_type: str
    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None]


class ObjectStore(Protocol):
    """The bucket (S3): private objects under keys that only the service hands around."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def open(self, key: str) -> StoredObject | None:
        """The object to read, or None when there is no such object."""
        ...

    def delete(self, key: str) -> None: ...
    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str: ...


class FileUnavailable(Exception):
    """A file key this credential cannot attach: unknown, deleted, expired, foreign, unchecked."""


class StorageUnavailable(Exception):
    """The object store failed to answer, or broke off while an object was read: a retry may succeed."""


@dataclass(frozen=True)
class FileContent:
    """A cached file ready to attach: its base64 MIME body (encoded once), and its first bytes for checks."""

    base64_body: bytes | bytearray  # never modified: shared by every message that attaches the file
    head: bytes
    size: int
    sha256: str


class AttachmentBodies(Protocol):
    """What the send worker needs from the file cache: the bodies of a queued message's attachments."""

    def body(self, ref: FileBody) -> Base64Body:
        """The cached file's base64 body; FileUnavailable when it is gone or holds other bytes."""
        ...


class CachedFiles(Protocol):
    """What sending needs from the file cache."""

    def usable(self, file_key: str, credential: Credential, now: datetime) -> FileRecord:
        """The file if this credential may attach it now; FileUnavailable otherwise."""
        ...

    def content(self, record: FileRecord) -> FileContent:
        """Its bytes, read from storage at most once per process while they stay cached."""
        ...
