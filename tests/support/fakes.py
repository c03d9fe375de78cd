"""In-memory stand-ins for the ports (`posthorn/ports/`): same behaviour as the adapters, no network.
The one set of fakes the unit tests share; each records what it was asked, for the tests to check."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from posthorn.errors import DeliveryRejected, DeliveryUnavailable, FileUnavailable
from posthorn.logic.sending.steps import SendContext
from posthorn.models.credentials import Credential, CredentialStatus
from posthorn.models.domains import DomainRecord
from posthorn.models.files import FileContent, FileRecord, FileStatus, StoredObject
from posthorn.models.idempotency import IdempotencyRecord, StoredResponse
from posthorn.models.messages import MessageRecord
from posthorn.models.raw_message import Base64Body, FileBody, RawMessage, encode_base64_body
from posthorn.models.send_queue import DeliveryReceipt, HeldMessage, QueuedMessage, QueueItem, SendClaim


@dataclass
class _Entry:
    fingerprint: str
    lease_until: int
    ttl: int
    response: StoredResponse | None = None


@dataclass
class FakeIdempotencyStore:
    """The DynamoDB claim semantics: a key is free when absent, expired, or an in-flight claim whose lease
    ran out."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)

    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> IdempotencyRecord | None:
        entry = self.entries.get(scope_key)
        free = entry is None or entry.ttl < now or (entry.response is None and entry.lease_until < now)
        if free:
            self.entries[scope_key] = _Entry(fingerprint, now + lease_seconds, now + ttl_seconds)
            return None
        assert entry is not None
        return IdempotencyRecord(fingerprint=entry.fingerprint, response=entry.response)

    def complete(self, scope_key: str, response: StoredResponse, *, expires_at: int) -> None:
        entry = self.entries[scope_key]
        entry.response = response
        entry.ttl = expires_at

    def release(self, scope_key: str) -> None:
        self.released.append(scope_key)
        self.entries.pop(scope_key, None)


@dataclass
class FakeCredentialStore:
    credentials: dict[str, Credential] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def get_credential(self, username: str) -> Credential | None:
        self.lookups.append(username)
        return self.credentials.get(username)

    def put_credential(self, credential: Credential) -> None:
        self.credentials[credential.username] = credential

    def list_credentials(self) -> list[Credential]:
        return list(self.credentials.values())

    def update_credential(
        self, username: str, fields: Mapping[str, Any], *, unless_revoked: bool
    ) -> Credential | None:
        current = self.credentials.get(username)
        if current is None or (unless_revoked and current.status is CredentialStatus.REVOKED):
            return None
        updated = Credential.model_validate({**current.model_dump(mode="json"), **fields})
        self.credentials[username] = updated
        return updated


@dataclass
class FixedClock:
    at: datetime = field(default_factory=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at


@dataclass
class ManualMonotonic:
    """A monotonic clock tests move by hand (for the SMTP pool's idle checks)."""

    value: float = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@dataclass
class FakeFileStore:
    """The file records and blob reference counts of `DynamoFileStore`, in memory."""

    files: dict[str, FileRecord] = field(default_factory=dict)
    blobs: dict[tuple[str, str], int] = field(default_factory=dict)

    def put_file(self, record: FileRecord) -> None:
        assert record.file_key not in self.files
        self.files[record.file_key] = record

    def get_file(self, file_key: str) -> FileRecord | None:
        return self.files.get(file_key)

    def delete_file(self, file_key: str) -> FileRecord | None:
        return self.files.pop(file_key, None)

    def settle_upload(
        self, file_key: str, status: FileStatus, *, sha256: str | None = None, rejection: str | None = None
    ) -> FileRecord | None:
        record = self.files.get(file_key)
        if record is None or record.status != "pending":
            return None
        updated = record.model_copy(update={"status": status, "sha256": sha256, "rejection": rejection})
        self.files[file_key] = updated
        return updated

    def reference_blob(self, owner: str, sha256: str, *, expires_at: int) -> int:
        self.blobs[(owner, sha256)] = self.blobs.get((owner, sha256), 0) + 1
        return self.blobs[(owner, sha256)]

    def release_blob(self, owner: str, sha256: str) -> int:
        if (owner, sha256) not in self.blobs:
            return 0
        self.blobs[(owner, sha256)] -= 1
        return self.blobs[(owner, sha256)]

    def forget_blob(self, owner: str, sha256: str) -> bool:
        if self.blobs.get((owner, sha256), 0) > 0:
            return False
        self.blobs.pop((owner, sha256), None)
        return True


@dataclass
class FakeObjectStore:
    """A bucket in memory that counts reads."""

    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    reads: int = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def open(self, key: str) -> StoredObject | None:
        self.reads += 1
        if key not in self.objects:
            return None
        data, content_type = self.objects[key]
        chunks = (data[start : start + 1000] for start in range(0, len(data), 1000))
        return StoredObject(content_type=content_type, size=len(data), chunks=chunks, close=lambda: None)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str:
        return f"https://bucket.example/{key}?type={content_type}&size={size}&expires={expires_in}"


@dataclass
class FakeRateStore:
    """`RateStore` in memory: the same compare-and-move of one timestamp per key as the DynamoDB adapter."""

    tats: dict[str, int] = field(default_factory=dict)

    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        start = max(self.tats.get(key, 0), now_us)
        if latest_start_us is not None and start > latest_start_us:
            return False, self.tats[key]
        self.tats[key] = start + cost_us
        return True, self.tats[key]

    def tat(self, key: str) -> int:
        return self.tats.get(key, 0)


# --- domains and suppressions ------------------------------------------------------------------------
@dataclass
class FakeDomains:
    """`DomainStore` (and so `SenderDomains`) in memory; `lookups` lists every domain asked for."""

    domains: dict[str, DomainRecord] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, *records: DomainRecord) -> FakeDomains:
        return cls({record.domain: record for record in records})

    def get_domain(self, domain: str) -> DomainRecord | None:
        self.lookups.append(domain)
        return self.domains.get(domain)

    def put_domain(self, record: DomainRecord) -> None:
        self.domains[record.domain] = record

    def list_domains(self) -> list[DomainRecord]:
        return sorted(self.domains.values(), key=lambda record: record.created_at)

    def delete_domain(self, domain: str) -> bool:
        return self.domains.pop(domain, None) is not None


@dataclass
class FakeSuppressions:
    """`SuppressionLookup`: `suppressions` holds lower-case addresses, suppressed for any domain. `lookups`
    counts the calls, `queries` says what each asked (the domain, the addresses)."""

    suppressions: set[str] = field(default_factory=set)
    lookups: int = 0
    queries: list[tuple[str, list[str]]] = field(default_factory=list)

    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        self.lookups += 1
        asked = list(emails)
        self.queries.append((domain, asked))
        return {email for email in asked if email.lower() in self.suppressions}


# --- messages ----------------------------------------------------------------------------------------
def _never(_: Any) -> bool:
    return False


@dataclass
class FakeMessages:
    """`MessageRecorder` and `SendClaims` in memory: the records, and what was written about each.

    `create_messages` does not store the records `unstorable` picks and returns their ids (BatchWriteItem's
    unprocessed items); message ids are random, so it picks by record (`lambda r: r.subject == "b"`)."""

    records: dict[str, MessageRecord] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)
    sent: dict[str, str] = field(default_factory=dict)  # message id -> SES's id
    failed: dict[str, str] = field(default_factory=dict)  # message id -> reason
    released: list[str] = field(default_factory=list)
    suppressed: dict[str, set[str]] = field(default_factory=dict)
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # what mark_sent said per recipient
    failed_recipients: dict[str, list[str]] = field(default_factory=dict)  # what mark_failed named
    created: list[str] = field(default_factory=list)  # ids, in the order they were stored
    discarded: list[str] = field(default_factory=list)
    ever_claimed: set[str] = field(default_factory=set)  # the adapter's first_claimed_ms
    withdrawn: dict[str, str] = field(default_factory=dict)  # message id -> reason
    unstorable: Callable[[MessageRecord], bool] = _never

    # MessageRecorder
    def create_message(self, record: MessageRecord) -> None:
        if record.message_id in self.records:  # the adapter's attribute_not_exists(pk)
            raise AssertionError(f"{record.message_id} is stored already")
        self.records[record.message_id] = record
        self.created.append(record.message_id)

    def discard_message(self, message_id: str) -> None:
        if message_id not in self.sent:
            self.records.pop(message_id, None)
            self.discarded.append(message_id)

    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        unstored = {record.message_id for record in records if self.unstorable(record)}
        for record in records:
            if record.message_id not in unstored:
                self.records[record.message_id] = record
                self.created.append(record.message_id)
        return unstored

    # DeliveryRecorder
    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        self.sent[message_id] = ses_message_id
        self.statuses[message_id] = dict(statuses)

    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None:
        self.failed[message_id] = reason
        self.failed_recipients[message_id] = list(emails)

    def withdraw(self, message_id: str, reason: str) -> bool:
        if message_id not in self.records:
            return True
        if message_id in self.ever_claimed or message_id in self.sent:
            return False
        self.withdrawn[message_id] = reason
        self.mark_failed(message_id, reason, [r.email for r in self.records[message_id].recipients])
        return True

    # SendClaims
    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        if message_id not in self.records:
            return SendClaim("missing")
        if message_id in self.sent or message_id in self.withdrawn:
            return SendClaim("done", self.records[message_id])
        if message_id in self.claimed:
            return SendClaim("busy", busy_for=30.0)
        self.claimed.add(message_id)
        self.ever_claimed.add(message_id)
        return SendClaim("claimed", self.records[message_id])

    def release_claim(self, message_id: str) -> None:
        self.claimed.discard(message_id)
        self.released.append(message_id)

    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        self.suppressed.setdefault(message_id, set()).update(emails)

    # MessageRecords (what announcing an outcome reads)
    def get_message_record(self, message_id: str) -> MessageRecord | None:
        return self.records.get(message_id)


@dataclass
class FakeMessageReader:
    """`MessageReader`: each message with its stored events, as `get_message` answers them."""

    messages: dict[str, tuple[MessageRecord, list[dict[str, Any]]]] = field(default_factory=dict)

    def get_message(self, message_id: str) -> tuple[MessageRecord, list[dict[str, Any]]] | None:
        return self.messages.get(message_id)


# --- SES and the send queue --------------------------------------------------------------------------
@dataclass
class FakeTransport:
    """`MailTransport`: each send takes the next of `outcomes` ("ok" once they run out). SES's ids are
    `ses-1`, `ses-2`, ... in the order of the sends."""

    outcomes: list[str] = field(default_factory=list)  # "ok", "unavailable", "rejected"
    sends: int = 0
    messages: list[bytes] = field(default_factory=list)
    rcpt_to: list[list[str]] = field(default_factory=list)

    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt:
        self.sends += 1
        self.messages.append(raw.as_bytes())
        self.rcpt_to.append(rcpt_to)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "unavailable":
            raise DeliveryUnavailable("454 Throttling failure")
        if outcome == "rejected":
            raise DeliveryRejected(554, "Message rejected")
        # "ok_after_drop": an earlier attempt lost its connection after the final "." (the ambiguous window)
        return DeliveryReceipt(
            ses_message_id=f"ses-{self.sends}", after_ambiguous_drop=outcome == "ok_after_drop"
        )


@dataclass
class FakeSendQueue:
    """`SendQueue`: `queued` holds what it took. It refuses every message when `unavailable`, and those that
    `refuse` picks otherwise; `refused` lists the ids it answered as not queued."""

    queued: list[QueuedMessage] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    calls: int = 0
    unavailable: bool = False
    refuse: Callable[[QueuedMessage], bool] = _never

    def enqueue(self, messages: list[QueuedMessage]) -> set[str]:
        self.calls += 1
        failed: set[str] = set()
        for message in messages:
            if self.unavailable or self.refuse(message):
                failed.add(message.message_id)
                self.refused.append(message.message_id)
            else:
                self.queued.append(message)
        return failed

    @property
    def queued_ids(self) -> list[str]:
        return [message.message_id for message in self.queued]


@dataclass
class FakeWorkQueue:
    """`WorkQueue`, the send worker's side: every item loads `parts`; what was done to each item by id."""

    retried: dict[str, int] = field(default_factory=dict)
    deferred: dict[str, int] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    parts: list[Base64Body | FileBody] = field(default_factory=lambda: [b"Subject: Hi\r\n\r\nHello\r\n"])

    def load(self, item: QueueItem) -> list[Base64Body | FileBody]:
        return self.parts

    def retry_after(self, item: QueueItem, seconds: int) -> None:
        self.retried[item.id] = seconds

    def defer(self, item: QueueItem, seconds: int) -> None:
        self.deferred[item.id] = seconds

    def finished(self, item: QueueItem) -> None:
        self.done.append(item.id)

    def body(self, item: QueueItem) -> str:
        return f'{{"message_id": "{item.message_id}"}}'


@dataclass
class FakeConfigurationSets:
    """`ConfigurationSets`: a name per tracking choice, like `ConfigurationSetSettings.configuration_set`;
    `calls` lists the (track_opens, track_clicks) asked for."""

    calls: list[tuple[bool, bool]] = field(default_factory=list)

    def __call__(self, *, track_opens: bool, track_clicks: bool) -> str:
        self.calls.append((track_opens, track_clicks))
        return "posthorn" + ("-opens" if track_opens else "") + ("-clicks" if track_clicks else "")


# --- the file cache, seen from sending and from the send worker ---------------------------------------
@dataclass
class FakeAttachments:
    """`AttachmentBodies`: cached files by reference; `bodies` holds the ones still stored."""

    bodies: dict[FileBody, bytes] = field(default_factory=dict)

    def body(self, ref: FileBody) -> Base64Body:
        if ref not in self.bodies:
            raise FileUnavailable(f"{ref.file_key} is no longer stored")
        return self.bodies[ref]


class FakeCachedFiles:
    """`CachedFiles`: every file in `records` is usable by anyone; `reads` lists the contents read."""

    def __init__(self, records: dict[str, FileRecord], contents: dict[str, bytes]) -> None:
        self.records = records
        self.contents = contents
        self.reads: list[str] = []

    def usable(self, file_key: str, credential: Credential, now: datetime) -> FileRecord:
        if file_key not in self.records:
            raise FileUnavailable("unknown file_key")
        return self.records[file_key]

    def content(self, record: FileRecord) -> FileContent:
        self.reads.append(record.file_key)
        data = self.contents[record.file_key]
        return FileContent(encode_base64_body(data), data[:4096], len(data), "0" * 64)


@dataclass
class SendFakes:
    """Everything sending and batches talk to, in memory; the domains are registered and verified."""

    domain_names: tuple[str, ...] = ("example.com",)
    messages: FakeMessages = field(default_factory=FakeMessages)
    suppressions: FakeSuppressions = field(default_factory=FakeSuppressions)
    domains: FakeDomains | None = None
    transport: FakeTransport = field(default_factory=FakeTransport)
    queue: FakeSendQueue = field(default_factory=FakeSendQueue)
    configuration_sets: FakeConfigurationSets = field(default_factory=FakeConfigurationSets)
    clock: FixedClock = field(default_factory=FixedClock)

    def __post_init__(self) -> None:
        if self.domains is None:
            from tests.support.records import domain_record

            self.domains = FakeDomains.of(*(domain_record(name) for name in self.domain_names))

    def context(self, *, with_queue: bool = True) -> SendContext:
        assert self.domains is not None
        return SendContext(
            messages=self.messages,
            suppressions=self.suppressions,
            domains=self.domains,
            transport=self.transport,
            queue=self.queue if with_queue else None,
            clock=self.clock,
            configuration_sets=self.configuration_sets,
            budget_seconds=5.0,
        )


@dataclass
class FakeHeldMessages:
    """`HeldMessages` in memory: per domain, the bodies parked in the order they came."""

    held: dict[str, list[HeldMessage]] = field(default_factory=dict)
    # Each held message's creation, as the worker gave it (what the held copy's expiry counts from).
    created: dict[str, datetime] = field(default_factory=dict)

    def hold(self, domain: str, message_id: str, body: str, *, at: datetime, created_at: datetime) -> None:
        self.created[message_id] = created_at
        parked = self.held.setdefault(domain, [])
        parked.append(HeldMessage(message_id, body, f"{at.isoformat()}#{len(parked):06d}"))

    def held_messages(self, domain: str, *, limit: int) -> list[HeldMessage]:
        return self.held.get(domain, [])[:limit]

    def forget_held(self, domain: str, held: list[HeldMessage]) -> None:
        gone = {message.key for message in held}
        self.held[domain] = [message for message in self.held.get(domain, []) if message.key not in gone]


@dataclass
class FakeQueueBodies:
    """`QueueBodies`: what was sent back to the queue; `refuse` picks bodies the queue does not take."""

    sent: list[str] = field(default_factory=list)
    refuse: Callable[[str], bool] = lambda body: False

    def send_bodies(self, bodies: list[str]) -> set[int]:
        refused = {position for position, body in enumerate(bodies) if self.refuse(body)}
        self.sent += [body for position, body in enumerate(bodies) if position not in refused]
        return refused


# --- webhooks ------------------------------------------------------------------------------------------
@dataclass
class FakeWebhooks:
    """WebhookStore and WebhookHealth in memory."""

    records: dict[str, Any] = field(default_factory=dict)

    def put_webhook(self, record: Any, *, previous: Any = None) -> None:
        self.records[record.webhook_id] = record

    def get_webhook(self, webhook_id: str) -> Any:
        return self.records.get(webhook_id)

    def webhooks_for_domain(self, domain: str) -> list[Any]:
        return [r for r in self.records.values() if domain in r.domains]

    def delete_webhook(self, record: Any) -> None:
        self.records.pop(record.webhook_id, None)

    def note_success(self, webhook_id: str) -> None:
        self.records[webhook_id] = self.records[webhook_id].model_copy(update={"failing_since": None})

    def note_failure(self, webhook_id: str, at: datetime) -> None:
        record = self.records[webhook_id]
        if record.failing_since is None:
            self.records[webhook_id] = record.model_copy(update={"failing_since": at})

    def set_slow(self, webhook_id: str, slow: bool) -> None:
        self.records[webhook_id] = self.records[webhook_id].model_copy(update={"slow": slow})

    def disable_webhook(self, webhook_id: str, reason: str) -> Any:
        record = self.records.get(webhook_id)
        if record is None or record.status == "disabled":
            return None
        self.records[webhook_id] = record.model_copy(update={"status": "disabled", "disabled_reason": reason})
        return self.records[webhook_id]


@dataclass
class FakeDeliveries:
    """DeliveryStore and DeliveryClaims with the adapter's conditions: made once, claimed when pending,
    due and unleased, finished only by the claim's holder."""

    records: dict[str, Any] = field(default_factory=dict)
    leases: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    fail_creates_after: int | None = None  # raise on the n+1-th create (a crash in the middle of the fan-out)

    def create_delivery(self, record: Any) -> bool:
        if self.fail_creates_after is not None and len(self.records) >= self.fail_creates_after:
            raise RuntimeError("the table went away")
        if record.delivery_id in self.records:
            return False
        self.records[record.delivery_id] = record
        return True

    def get_delivery(self, delivery_id: str) -> Any:
        return self.records.get(delivery_id)

    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Any], str | None]:
        found = [r for r in self.records.values() if r.webhook_id == webhook_id]
        found = [r for r in found if status is None or r.status == status]
        return sorted(found, key=lambda r: r.created_at, reverse=True)[:limit], None

    def send_again(self, delivery_id: str, at: datetime) -> Any:
        record = self.records.get(delivery_id)
        if record is None:
            return None
        again = record.model_copy(update={"status": "pending", "next_attempt_at": at, "failures": 0})
        self.records[delivery_id] = again
        self.leases.pop(delivery_id, None)
        return again

    def claim_delivery(self, delivery_id: str, *, now: datetime, lease_seconds: float, token: str) -> Any:
        from datetime import timedelta

        record = self.records.get(delivery_id)
        if record is None or record.status != "pending" or record.next_attempt_at > now:
            return None
        lease = self.leases.get(delivery_id)
        if lease is not None and lease[1] >= now:
            return None
        self.leases[delivery_id] = (token, now + timedelta(seconds=lease_seconds))
        return record

    def finish_attempt(self, record: Any, *, token: str) -> bool:
        lease = self.leases.get(record.delivery_id)
        if lease is None or lease[0] != token:
            return False
        del self.leases[record.delivery_id]
        self.records[record.delivery_id] = record
        return True

    def due_deliveries(self, now: datetime, *, limit: int) -> list[Any]:
        from posthorn.models.webhooks import DueDelivery

        due = [
            r
            for r in self.records.values()
            if r.status == "pending" and r.next_attempt_at is not None and r.next_attempt_at <= now
        ]
        due.sort(key=lambda r: r.next_attempt_at)
        return [DueDelivery(r.delivery_id, r.webhook_id) for r in due[:limit]]


@dataclass
class FakeNotices:
    prompts: list[tuple[Any, int]] = field(default_factory=list)

    def notify(self, deliveries: list[Any], *, delay_seconds: int = 0) -> bool:
        self.prompts += [(due, delay_seconds) for due in deliveries]
        return True


class FakeSecretBox:
    """Seals by reversing and tagging with the context: opens only under the same context, like KMS."""

    def seal(self, secret: str, *, context: str) -> str:
        return f"{context}|{secret[::-1]}"

    def open(self, sealed: str, *, context: str) -> str:
        bound, _, reversed_secret = sealed.partition("|")
        if bound != context:
            raise ValueError("sealed for another webhook")
        return reversed_secret[::-1]


@dataclass
class FakePoster:
    """Answers from a script, one PostResult per attempt (the last one repeats); records every request."""

    answers: list[Any] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def post(
        self,
        url: str,
        headers: dict[str, str],
        body: str,
        *,
        timeout: float,
        answer_within: float | None = None,
    ) -> Any:
        from posthorn.models.webhooks import PostResult

        self.requests.append((url, headers, body))
        self.timeouts.append(timeout if answer_within is None else answer_within)
        if not self.answers:
            return PostResult(http_status=200, duration_ms=3, body_head="ok")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@dataclass
class FakeAlarms:
    raised: list[tuple[str, str]] = field(default_factory=list)

    def alarm(self, subject: str, message: str) -> None:
        self.raised.append((subject, message))
