"""What the logic needs from the outside world, one Protocol per consumer. The adapters implement them
(`adapters/dynamodb/` one repository per aggregate, `adapters/s3.py`, `adapters/ses_smtp.py`, ...); tests
pass the in-memory fakes of `tests/support/fakes.py`. Each port is as small as its consumer needs, so a fake
implements nothing it is not asked for. The values they exchange are NamedTuples: immutable like frozen
dataclasses, and ~0.07 ms to define instead of ~0.5 ms, which every function's cold start pays.

| port | consumer | implemented by |
|---|---|---|
| `CredentialStore` | credentials, authentication | `CredentialRepository` |
| `SenderDomains`, `DomainStore` | sending (the sender check), domains | `DomainRepository` |
| `SuppressionLookup` | sending, batches, the send worker | `SuppressionRepository` |
| `SuppressionSnapshots` | the SMTP relay's RCPT check | `SuppressionRepository` |
| `SuppressionStore` | the suppression routes | `SuppressionRepository` |
| `SuppressionRecorder` | recording SES events | `SuppressionRepository` |
| `DeliveryRecorder` | delivering (SES's id or the failure) | `MessageRepository` |
| `MessageRecorder` | sending, batches (new records) | `MessageRepository` |
| `SendClaims` | the send worker | `MessageRepository` |
| `EventRecorder` | recording SES events | `MessageRepository` |
| `MessageReader` | the message routes | `MessageRepository` |
| `RateStore` | rate limits, send pacing | `RateRepository` |
| `IdempotencyStore` | `Idempotency-Key` | `IdempotencyRepository` |
| `FileStore` | the file cache | `FileRepository` |
| `ObjectStore` | the file cache, the send worker | `S3Objects` |
| `MailTransport` | delivering | `SesSmtpTransport` |
| `SendQueue`, `WorkQueue` | sending, batches / the send worker | `SqsSendQueue` / `SqsWorkQueue` |
| `DomainIdentities` | domains | `SesIdentities`, `AutoVerifiedIdentities` |
| `CachedFiles`, `AttachmentBodies` | sending / the send worker | `FileCache` / `StoredFileBodies` |
| `FileUploads` | the file routes | `FileCache` |
| `MessageIndex` | `GET /v1/messages` | `MessageRepository` |
| `SuppressionIndex` | `GET /v1/suppressions` | `SuppressionRepository` |
| `StatsReader`, `GuardCounters` | `GET /v1/stats` / the deliverability guard | `StatsRepository` |
| `GuardDomains` | the deliverability guard | `DomainRepository` |
| `GuardAnnouncements` | the deliverability guard | `AlarmTopic` |
| `HeldMessages`, `QueueBodies` | the send worker and resume | `HeldMessageRepository` / `SqsSendQueue` |
| `WebhookStore`, `WebhookDirectory` | the webhook routes, event intake | `WebhookRepository` |
| `WebhookHealth` | the webhook sender | `WebhookRepository` |
| `DeliveryStore`, `DeliveryWriter` | the delivery routes, event intake | `DeliveryRepository` |
| `DeliveryClaims` | the webhook sender | `DeliveryRepository` |
| `DeliveryNotices` | event intake, the routes, the sender | `SqsDeliveryNotices` |
| `SecretBox` | the webhook routes / the sender | `KmsSecretBox` |
| `WebhookPoster` | the sender | `PinnedHttpPoster` |
| `Alarms` | the sender | `SnsAlarms` |
| `MessageRecords` | announcing message events | `MessageRepository` |
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

    from posthorn.logic.files.cache import PresignedUpload
    from posthorn.models.credentials import Credential
    from posthorn.models.domains import DomainRecord, Reputation, WindowStart
    from posthorn.models.events import RecipientEvent
    from posthorn.models.files import FileRecord, FileStatus
    from posthorn.models.messages import MessageRecord
    from posthorn.models.raw_message import Base64Body, FileBody, RawMessage
    from posthorn.models.suppressions import Suppression
    from posthorn.models.webhooks import DeliveryRecord, WebhookRecord


class Clock(Protocol):
    def now(self) -> datetime: ...


class ConfigurationSets(Protocol):
    """The SES configuration set for a message's tracking choices (`Settings.configuration_set`)."""

    def __call__(self, *, track_opens: bool, track_clicks: bool) -> str: ...


# --- credentials and domains -------------------------------------------------------------------------
class CredentialStore(Protocol):
    def get_credential(self, username: str) -> Credential | None: ...
    def put_credential(self, credential: Credential) -> None: ...
    def list_credentials(self) -> list[Credential]: ...
    def update_credential(
        self, username: str, fields: Mapping[str, Any], *, unless_revoked: bool
    ) -> Credential | None:
        """Set `fields` (JSON values; None removes one) on a stored credential and return it; None when
        there is none, or when `unless_revoked` and it is revoked (the condition is the write's own)."""
        ...


class SenderDomains(Protocol):
    """What the sender check reads."""

    def get_domain(self, domain: str) -> DomainRecord | None: ...


class DomainStore(SenderDomains, Protocol):
    def put_domain(self, record: DomainRecord) -> None: ...
    def list_domains(self) -> list[DomainRecord]:
        """Every registered domain, in the order they were registered."""
        ...

    def delete_domain(self, domain: str) -> bool:
        """Remove a domain's record; False when there was none."""
        ...


class IdentityStatus(NamedTuple):
    verified: bool
    dkim_tokens: list[str]


class DomainIdentities(Protocol):
    """The email provider's record of a sending domain (SES identities deployed, auto-verified locally)."""

    def create(self, domain: str) -> IdentityStatus: ...
    def status(self, domain: str) -> IdentityStatus: ...


# --- suppressions ------------------------------------------------------------------------------------
class SuppressionLookup(Protocol):
    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        """Which of `emails` (as given) are suppressed for `domain`."""
        ...


class SuppressionSnapshots(SuppressionLookup, Protocol):
    def suppressed_snapshot(self, domain: str, *, limit: int) -> set[str] | None:
        """Every address suppressed for `domain` (lower case), or None when there are more than `limit`."""
        ...


class SuppressionRecorder(Protocol):
    def add_suppression(self, entry: Suppression) -> bool:
        """Suppress an address for a domain; the first reason recorded is kept. True when it is new."""
        ...


class SuppressionStore(SuppressionRecorder, Protocol):
    def get_suppression(self, domain: str, email: str) -> Suppression | None: ...
    def list_suppressions(self, domain: str) -> list[Suppression]: ...
    def delete_suppression(self, domain: str, email: str) -> bool: ...


# --- messages ----------------------------------------------------------------------------------------
class DeliveryRecorder(Protocol):
    """What a delivery writes to a stored message's record: SES's id, or why it failed."""

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None: ...
    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None: ...


class MessageRecorder(DeliveryRecorder, Protocol):
    """Sending and batches: new records, then their outcome."""

    def create_message(self, record: MessageRecord) -> None: ...
    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        """Store many new messages at once; returns the ids that could not be stored."""
        ...

    def discard_message(self, message_id: str) -> None:
        """Remove a record stored for a message that was then not accepted and never queued."""
        ...

    def withdraw(self, message_id: str, reason: str) -> bool:
        """Take back a stored message whose queue write failed (it may have landed all the same): True when
        no send worker ever claimed it, so none ever will; False when one has (it is accepted after all)."""
        ...


class SendClaim(NamedTuple):
    """`claimed`: this worker may send (`record` is the message). `done`: SES already has it, or it failed
    for good. `busy`: another worker holds the claim for `busy_for` more seconds. `missing`: no record."""

    state: Literal["claimed", "done", "busy", "missing"]
    record: MessageRecord | None = None
    busy_for: float = 0.0


class SendClaims(DeliveryRecorder, Protocol):
    """The send worker: the right to run a queued message's SMTP transaction, and what came of it."""

    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        """Take the right to run the SMTP transaction for a queued message, for `lease_seconds`."""
        ...

    def release_claim(self, message_id: str) -> None: ...
    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        """These recipients were suppressed after the message was accepted: they are not sent to."""
        ...


class MessageChange(NamedTuple):
    """What raising recipients' statuses did to a message: its domain and tags (what its counters are
    kept under), its status before and after, and the recipients that moved."""

    domain: str
    tags: list[str]
    created_at: datetime
    before: str
    after: str
    moved: frozenset[str] = frozenset()


class EventRecorder(Protocol):
    """Recording what SES says about a message."""

    def message_id_for_ses(self, ses_message_id: str) -> str | None: ...
    def advance_for_event(self, message_id: str, recipient: str, status: str) -> MessageChange | None:
        """Raise the recipient's status (never lower it); None when there is no such message."""
        ...

    def get_message_record(self, message_id: str) -> MessageRecord | None: ...
    def put_event(
        self,
        message_id: str,
        event: RecipientEvent,
        change: MessageChange | None = None,
        counts: dict[str, int] | None = None,
    ) -> bool:
        """Store the event once (False: already stored), with its counts and the message's status item."""
        ...

    def put_unmatched_event(self, event: RecipientEvent, *, now: int) -> bool: ...


class MessageReader(Protocol):
    def get_message(self, message_id: str) -> tuple[MessageRecord, list[dict[str, Any]]] | None:
        """The message with its recipients (in request order) and its stored events."""
        ...


# --- rate limits and idempotency ---------------------------------------------------------------------
class RateStore(Protocol):
    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        """Atomically, for the timestamp `tat` stored under `key` (absent: 0): start = max(tat, now); when
        `latest_start_us` is None or start <= it, set tat = start + cost and return (True, the new tat);
        otherwise change nothing and return (False, tat)."""
        ...

    def tat(self, key: str) -> int:
        """The timestamp stored under `key` (0 when none), read without moving it."""
        ...


class StoredResponse(NamedTuple):
    status: int
    body: str


class IdempotencyRecord(NamedTuple):
    fingerprint: str
    response: StoredResponse | None  # None while the first request is in flight


class IdempotencyStore(Protocol):
    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> IdempotencyRecord | None:
        """Claim the key; None when claimed, else the record that holds it."""
        ...

    def complete(self, scope_key: str, response: StoredResponse, *, expires_at: int) -> None: ...

    def release(self, scope_key: str) -> None: ...


# --- SES ---------------------------------------------------------------------------------------------
class DeliveryReceipt(NamedTuple):
    """SES accepted the message: its id from `250 Ok <id>`, and any recipients it refused at RCPT."""

    ses_message_id: str
    refused: Mapping[str, str] = MappingProxyType({})
    # True when an earlier attempt lost its connection after the final "." (SES may have the message twice).
    after_ambiguous_drop: bool = False


class MailTransport(Protocol):
    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt: ...


# --- the send queue ----------------------------------------------------------------------------------
class QueuedMessage(NamedTuple):
    """What the send queue carries: a stored message's id and its MIME, cached attachments by reference
    (the record holds the rest). Written only once the record is stored (`logic/sending/acceptance.py`)."""

    message_id: str
    raw: RawMessage


class SendQueue(Protocol):
    def enqueue(self, messages: list[QueuedMessage]) -> set[str]:
        """Queue messages for the send worker; returns the ids that could not be queued."""
        ...


class QueueItem(NamedTuple):
    id: str  # the queue's id for this delivery
    message_id: str | None  # None: the queue message could not be read
    receive_count: int


class WorkQueue(Protocol):
    """The send worker's side of the queue (`logic/sending/queue_drain.py`)."""

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

    def body(self, item: QueueItem) -> str:
        """The queue message's body as it came, to be sent again later exactly so (a held message)."""
        ...


# --- the file cache ----------------------------------------------------------------------------------
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


class StoredObject(NamedTuple):
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


class FileContent(NamedTuple):
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


class FileUploads(Protocol):
    """What the file routes need from the file cache (`logic/file_cache.FileCache`)."""

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


# --- listing, stats and the deliverability guard -------------------------------------------------------
class IndexPage(NamedTuple):
    """One page of an index partition, newest first: each entry's sort key and the index item's values."""

    entries: list[tuple[str, dict[str, Any]]]
    more: bool


class Partition(NamedTuple):
    """One index partition of a listing: a domain's messages (or suppressions), all of them (`kind` None)
    or those with one `value` of `kind` (`recipient`, `tag`, `client_reference`, `status`; `reason`)."""

    domain: str
    kind: str | None = None
    value: str | None = None


class MessageIndex(Protocol):
    """The listing routes: index partitions of messages (`adapters/dynamodb/listing.py`) and the records."""

    def index_page(
        self,
        partition: Partition,
        *,
        after: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> IndexPage:
        """Up to `limit` entries created from `since` to `until`, newest first, after the sort key `after`."""
        ...

    def message_records(self, message_ids: list[str]) -> dict[str, MessageRecord]: ...


class SuppressionIndex(Protocol):
    """The suppression list's pages (`GET /v1/suppressions`)."""

    def suppression_page(
        self, partition: Partition, *, after: str | None, since: datetime | None, limit: int
    ) -> IndexPage: ...


class HourCounts(NamedTuple):
    """One hour of a domain's counters, as the guard reads them."""

    hour: str
    sent: int = 0
    bounced: int = 0
    complained: int = 0


class GuardCounters(Protocol):
    def recent_hours(self, domain: str) -> Iterable[HourCounts]:
        """The domain's hourly counters, newest first, read page by page as the caller iterates."""
        ...

    def hour_counts(self, domain: str, hour: str) -> HourCounts: ...


class StatsReader(Protocol):
    """`GET /v1/stats`: the hourly counters of one domain (or one tag of it) between two hours."""

    def hourly_counts(self, domain: str, tag: str | None, first: str, last: str) -> list[dict[str, Any]]: ...


class GuardDomains(SenderDomains, Protocol):
    def pause_domain(self, domain: str, *, at: datetime, reason: str) -> DomainRecord | None:
        """Pause a domain that sends; the paused record, or None when it was paused already (or unknown)."""
        ...

    def resume_domain(self, domain: str, *, window_start: WindowStart) -> DomainRecord | None:
        """Let a paused domain send again from a fresh window; None when it was not paused."""
        ...


class GuardAnnouncements(Protocol):
    """Where the guard says it paused or resumed a domain: the alarm topic (and the domain's webhooks)."""

    def announce_paused(self, record: DomainRecord, reputation: Reputation) -> None: ...
    def announce_resumed(self, record: DomainRecord) -> None: ...


class HeldMessage(NamedTuple):
    """A queued message of a paused domain, parked until the domain resumes: the queue message's body."""

    message_id: str
    body: str
    key: str  # its position among the domain's held messages


class HeldMessages(Protocol):
    """The send worker parks messages of a paused domain here; a resume sends them back to the queue."""

    def hold(self, domain: str, message_id: str, body: str, *, at: datetime) -> None: ...
    def held_messages(self, domain: str, *, limit: int) -> list[HeldMessage]: ...
    def forget_held(self, domain: str, held: list[HeldMessage]) -> None: ...


class QueueBodies(Protocol):
    """Queue messages sent again exactly as they were (a resume releases held messages)."""

    def send_bodies(self, bodies: list[str]) -> set[int]:
        """Send each body as a queue message; returns the positions that could not be sent."""
        ...


# --- webhooks ----------------------------------------------------------------------------------------
class WebhookDirectory(Protocol):
    """What event intake reads: the webhooks that may want a domain's events."""

    def webhooks_for_domain(self, domain: str) -> list[WebhookRecord]: ...


class WebhookStore(WebhookDirectory, Protocol):
    """The webhook routes: a webhook is stored once, with a copy per domain for intake to find it."""

    def put_webhook(self, record: WebhookRecord, *, previous: WebhookRecord | None = None) -> None:
        """Store `record` (new, or replacing `previous`: its domain copies move with it)."""
        ...

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None: ...
    def delete_webhook(self, record: WebhookRecord) -> None: ...


class WebhookHealth(Protocol):
    """What the sender writes about an endpoint."""

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None: ...
    def note_success(self, webhook_id: str) -> None: ...
    def note_failure(self, webhook_id: str, at: datetime) -> None:
        """Remember the first failure since the last success (kept when one is already there)."""
        ...

    def disable_webhook(self, webhook_id: str, reason: str) -> WebhookRecord | None: ...
    def set_slow(self, webhook_id: str, slow: bool) -> None:
        """Move the webhook's prompts to the slow lane, or back (its copies too)."""
        ...


class DeliveryWriter(Protocol):
    """Event intake: deliveries are made once (their ids are derived from the event and the webhook)."""

    def create_delivery(self, record: DeliveryRecord) -> bool:
        """Store a new delivery; False when one with its id is already there."""
        ...


class DeliveryStore(DeliveryWriter, Protocol):
    """The delivery routes."""

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None: ...
    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        """Newest first; the cursor of the next page, None on the last."""
        ...

    def send_again(self, delivery_id: str, at: datetime) -> DeliveryRecord | None:
        """Make the delivery pending and due at `at`, its retry schedule started over (replay)."""
        ...


class DeliveryClaims(Protocol):
    """The sender: the right to make one attempt of a due delivery, and its outcome."""

    def claim_delivery(
        self, delivery_id: str, *, now: datetime, lease_seconds: float, token: str
    ) -> DeliveryRecord | None:
        """The delivery, when it is pending, due, and no other sender holds it; None otherwise."""
        ...

    def finish_attempt(self, record: DeliveryRecord, *, token: str) -> bool:
        """Write the attempt's outcome (status, attempts, next attempt) if the claim is still ours."""
        ...

    def due_deliveries(self, now: datetime, *, limit: int) -> list[DueDelivery]:
        """Pending deliveries due at `now` or before, oldest due first."""
        ...


class DueDelivery(NamedTuple):
    delivery_id: str
    webhook_id: str
    slow: bool = False  # the lane its prompt goes to: the webhook's endpoint is slow (logic/webhook_sending)


class DeliveryNotices(Protocol):
    """The sender's queue: a prompt to attempt deliveries now or after a short delay (the table holds what
    is due; a lost prompt only means the next sweep finds it)."""

    def notify(self, deliveries: list[DueDelivery], *, delay_seconds: int = 0) -> bool:
        """False when the prompt could not be queued (the sweep will find the deliveries)."""
        ...


class SecretBox(Protocol):
    """Webhook signing secrets, encrypted at rest and bound to their webhook (`context`)."""

    def seal(self, secret: str, *, context: str) -> str: ...
    def open(self, sealed: str, *, context: str) -> str: ...


class PostResult(NamedTuple):
    http_status: int | None  # None: no answer (refused address, DNS, connect, timeout)
    duration_ms: int
    retry_after: str | None = None
    body_head: str | None = None  # the first few KB of the answer, for the customer; never logged
    error: str | None = None


class WebhookPoster(Protocol):
    def post(self, url: str, headers: dict[str, str], body: str, *, timeout: float) -> PostResult: ...


class Alarms(Protocol):
    """The stack's alarm topic: what an operator is told."""

    def alarm(self, subject: str, message: str) -> None: ...


class MessageRecords(Protocol):
    """What announcing a message's events reads about the message."""

    def get_message_record(self, message_id: str) -> MessageRecord | None: ...
