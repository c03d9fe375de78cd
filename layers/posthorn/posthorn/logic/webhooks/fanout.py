"""The webhook fan-out: whatever records an event also makes one delivery per matching webhook,
exactly once per (event, webhook), and never loses one to a crash.

How: a delivery's id is derived from the event's identity and the webhook's id (`delivery_id_for`), and it
is stored with a conditional put, so making it twice makes it once. Deliveries are made *before* the event
itself is recorded, by the same invocation: when anything fails in between, the invocation fails, its
invoker runs it again (Lambda's async retries and the failure destination for the events function, SQS
redelivery for the send worker), and the second run makes whatever the first did not, while what it did
make is not made again. So a duplicate SNS notification (same SES event, same `event_key`) makes no second
delivery, and a crash between the two writes loses none.

Chosen over DynamoDB Streams on the message table (a stream on the shared table carries every rate-limit
and idempotency write to a function that ignores them, and moto's server does not feed streams to
anything) and over an outbox item swept later (one more write and a sweep on every event, even for domains
without webhooks; here a domain without webhooks costs one small query per event, no write).

A delivery holds its body from the start: every attempt, and a replay, signs the same bytes under the same
`webhook-id`. Making it also queues a prompt for the sender (`DeliveryNotices`); a prompt that cannot be
queued costs nothing but time, since the sender's sweep finds every pending delivery by its due time.

`announce_domain_event` is the entry point for the deliverability guard (`domain.paused`/`domain.resumed`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from posthorn.logic.ttl_cache import TtlCache
from posthorn.logic.webhooks.contexts import WebhookFanout
from posthorn.models.events import EventType, RecipientEvent, event_key
from posthorn.models.messages import MessageRecord
from posthorn.models.send_queue import SendClaim
from posthorn.models.webhooks import DeliveryRecord, DueDelivery, WebhookEventType, WebhookRecord
from posthorn.ports import MessageRecords

EMAIL_EVENT_TYPES: dict[EventType, WebhookEventType] = {
    EventType.SEND: WebhookEventType.SENT,
    EventType.DELIVERY: WebhookEventType.DELIVERED,
    EventType.DELIVERY_DELAY: WebhookEventType.DELIVERY_DELAYED,
    EventType.BOUNCE: WebhookEventType.BOUNCED,
    EventType.COMPLAINT: WebhookEventType.COMPLAINED,
    EventType.OPEN: WebhookEventType.OPENED,
    EventType.CLICK: WebhookEventType.CLICKED,
    EventType.REJECT: WebhookEventType.REJECTED,
    EventType.RENDERING_FAILURE: WebhookEventType.RENDERING_FAILED,
    EventType.SUBSCRIPTION: WebhookEventType.SUBSCRIPTION,
}


class Announcement(NamedTuple):
    """One event as webhooks see it. `identity` is the same however often the event is recorded."""

    identity: str
    event_type: WebhookEventType
    domain: str
    timestamp: datetime
    data: dict[str, Any]
    message_id: str | None = None
    # The message's creation: its deliveries expire with it (adapters/dynamodb/retention.py).
    message_created_at: datetime | None = None


def delivery_id_for(identity: str, webhook_id: str) -> str:
    """`msg_` + 32 hex digits of SHA-256(event identity, webhook id): the delivery's id and `webhook-id`."""
    digest = hashlib.sha256(json.dumps([identity, webhook_id]).encode()).hexdigest()
    return "msg_" + digest[:32]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payload(announcement: Announcement) -> str:
    body = {"type": announcement.event_type.value, "timestamp": _iso(announcement.timestamp)}
    body["data"] = announcement.data  # type: ignore[assignment]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def announce(
    fanout: WebhookFanout,
    announcement: Announcement,
    *,
    to: WebhookRecord | None = None,
) -> list[str]:
    """Make the announcement's deliveries (once each) and prompt the sender; their ids, made now or before.
    `to`: that webhook only, whatever its events and status (a test event)."""
    made, fresh = _deliveries(fanout, announcement, to)
    if fresh:
        fanout.notices.notify(fresh)
    return made


def announce_all(fanout: WebhookFanout, announcements: Iterable[Announcement]) -> None:
    """`announce` for each (a message's recipients), the sender prompted once for all their deliveries: a
    send to 50 recipients is one queue request, not 50."""
    fresh: list[DueDelivery] = []
    for announcement in announcements:
        fresh += _deliveries(fanout, announcement, None)[1]
    if fresh:
        fanout.notices.notify(fresh)


def wanting(fanout: WebhookFanout, domain: str, kind: str) -> list[WebhookRecord]:
    """The domain's webhooks that take `kind` (enabled, subscribed to it or to everything)."""
    return [webhook for webhook in fanout.webhooks.webhooks_for_domain(domain) if webhook.wants(kind)]


def _deliveries(
    fanout: WebhookFanout, announcement: Announcement, to: WebhookRecord | None
) -> tuple[list[str], list[DueDelivery]]:
    """The announcement's deliveries, made once each: every id, and those made now (to prompt)."""
    kind = announcement.event_type.value
    matching = [to] if to is not None else wanting(fanout, announcement.domain, kind)
    if not matching:
        return [], []
    now = fanout.clock.now()
    body = payload(announcement)
    made: list[str] = []
    fresh: list[DueDelivery] = []
    for webhook in matching:
        delivery_id = delivery_id_for(announcement.identity, webhook.webhook_id)
        record = DeliveryRecord(
            delivery_id=delivery_id,
            webhook_id=webhook.webhook_id,
            event_type=kind,
            message_id=announcement.message_id,
            domain=announcement.domain,
            payload=body,
            created_at=now,
            next_attempt_at=now,
            message_created_at=announcement.message_created_at,
        )
        if fanout.deliveries.create_delivery(record):
            fresh.append(DueDelivery(delivery_id, webhook.webhook_id, webhook.slow))
        made.append(delivery_id)
    return made, fresh


# --- what the events become -----------------------------------------------------------------------------
def message_data(record: MessageRecord, recipient: str | None, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": record.message_id,
        "ses_message_id": record.ses_message_id,
        "from_email": record.from_email,
        "subject": record.subject,
        "recipient": recipient,
        "tags": list(record.tags),
        "metadata": dict(record.metadata),
        "client_reference": record.client_reference,
        "details": details,
    }


def message_event_announcement(record: MessageRecord, event: RecipientEvent) -> Announcement:
    data = message_data(record, event.recipient, dict(event.details))
    data["ses_message_id"] = event.ses_message_id or data["ses_message_id"]
    return Announcement(
        identity=f"event:{event.event_key}",
        event_type=EMAIL_EVENT_TYPES[event.type],
        domain=record.domain,
        timestamp=event.timestamp,
        data=data,
        message_id=record.message_id,
        message_created_at=record.created_at,
    )


def outcome_announcements(
    record: MessageRecord, kind: WebhookEventType, emails: Iterable[str], now: datetime, reason: str | None
) -> list[Announcement]:
    """`email.failed` / `email.suppressed` for each recipient (one message-level event when none is named)."""
    recipients: list[str | None] = [email.lower() for email in emails] or [None]
    details = {"reason": reason} if reason else {}
    return [
        Announcement(
            identity=f"{kind.value}:{record.message_id}:{recipient or '*'}",
            event_type=kind,
            domain=record.domain,
            timestamp=now,
            data=message_data(record, recipient, details),
            message_id=record.message_id,
            message_created_at=record.created_at,
        )
        for recipient in dict.fromkeys(recipients)
    ]


def webhook_test_announcement(webhook: WebhookRecord, now: datetime) -> Announcement:
    import secrets

    return Announcement(
        identity=f"test:{secrets.token_hex(16)}",
        event_type=WebhookEventType.TEST,
        domain=webhook.domains[0],
        timestamp=now,
        data={"webhook_id": webhook.webhook_id, "message": "a test event from Posthorn"},
    )


def announce_domain_event(
    fanout: WebhookFanout, kind: WebhookEventType, domain: str, at: datetime, details: dict[str, Any]
) -> list[str]:
    """The deliverability guard's entry point: `domain.paused` or `domain.resumed` to the domain's webhooks.
    `at` (when it was paused or resumed) tells occurrences apart: calling again for the same one makes
    nothing new."""
    if kind not in (WebhookEventType.DOMAIN_PAUSED, WebhookEventType.DOMAIN_RESUMED):
        raise ValueError(f"{kind} is not a domain event")
    announcement = Announcement(
        identity=f"{kind.value}:{domain}:{_iso(at)}",
        event_type=kind,
        domain=domain,
        timestamp=at,
        data={"domain": domain, **details},
    )
    return announce(fanout, announcement)


class RecentDirectory:
    """A domain's webhooks as read in the last SECONDS, per process, in front of the webhook store: the
    fan-out reads them for every event (one query), and 1,000 events of a domain in a second need one read,
    not 1,000 (measured in `make bench`, figure 5: without it the events function falls far behind). A
    change made through this process (the API's routes locally, where everything shares one process) is
    seen at once; one made elsewhere reaches this process within SECONDS, so an event recorded that soon
    after a webhook is created deployed may not reach it."""

    SECONDS = 2.0

    def __init__(
        self, store: Any, seconds: float = SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self._recent: TtlCache[str, list[WebhookRecord]] = TtlCache(seconds, clock)

    def webhooks_for_domain(self, domain: str) -> list[WebhookRecord]:
        return self._recent.get(domain, lambda: self.store.webhooks_for_domain(domain))

    def forget(self, domains: Iterable[str]) -> None:
        self._recent.forget(domains)

    def writing_through(self) -> WritingThrough:
        """The webhook store for the routes: reads fresh, writes forget what they change here."""
        return WritingThrough(self)


class WritingThrough:
    """The routes' `WebhookStore`: every read from the store itself, every write also forgotten by the
    `RecentDirectory` of this process."""

    def __init__(self, directory: RecentDirectory) -> None:
        self.directory = directory
        self.store = directory.store

    def webhooks_for_domain(self, domain: str) -> list[WebhookRecord]:
        found: list[WebhookRecord] = self.store.webhooks_for_domain(domain)
        return found

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None:
        found: WebhookRecord | None = self.store.get_webhook(webhook_id)
        return found

    def put_webhook(self, record: WebhookRecord, *, previous: WebhookRecord | None = None) -> None:
        self.store.put_webhook(record, previous=previous)
        self.directory.forget([*record.domains, *(previous.domains if previous else [])])

    def delete_webhook(self, record: WebhookRecord) -> None:
        self.store.delete_webhook(record)
        self.directory.forget(record.domains)


# --- the recorders that announce -----------------------------------------------------------------------
class EventAnnouncer:
    """What the events function calls before it records an event. Messages are read once per process
    while their events come in (what a delivery carries of a message never changes after it is stored)."""

    CACHED_MESSAGES = 2048

    def __init__(self, fanout: WebhookFanout, records: MessageRecords) -> None:
        self.fanout = fanout
        self.records = records
        self._cached: OrderedDict[str, MessageRecord] = OrderedDict()
        self._lock = threading.Lock()

    def _record(self, message_id: str) -> MessageRecord | None:
        with self._lock:
            if message_id in self._cached:
                self._cached.move_to_end(message_id)
                return self._cached[message_id]
        record = self.records.get_message_record(message_id)
        if record is not None:
            with self._lock:
                self._cached[message_id] = record
                while len(self._cached) > self.CACHED_MESSAGES:
                    self._cached.popitem(last=False)
        return record

    def message_event(
        self, message_id: str, event: RecipientEvent, record: MessageRecord | None, *, domain: str
    ) -> None:
        """Announce the event of the message of `domain`. The message is read only when one of the domain's
        webhooks wants the event: most domains' events cost no read here."""
        kind = EMAIL_EVENT_TYPES[event.type].value
        if not wanting(self.fanout, domain, kind):
            return
        record = record or self._record(message_id)
        if record is not None:
            announce(self.fanout, message_event_announcement(record, event))


def sent_announcements(
    record: MessageRecord, ses_message_id: str, statuses: dict[str, str], now: datetime
) -> list[Announcement]:
    """`email.sent` for each recipient SES took, made by the send path at SES's 250: the configuration sets
    do not publish SES's Send event (template.yaml; an SNS notification and an events-function invocation
    a message saved). Its identity is the one SES's Send event for that recipient would have, so a Send
    event that does arrive (a configuration set made by hand) makes no second delivery."""
    return [
        message_event_announcement(
            record,
            RecipientEvent(
                ses_message_id=ses_message_id,
                posthorn_message_id=record.message_id,
                type=EventType.SEND,
                recipient=email.lower(),
                timestamp=now,
                details={},
                suppresses=False,
                event_key=event_key(ses_message_id, EventType.SEND, email.lower(), ()),
                origin="event",
            ),
        )
        for email, status in statuses.items()
        if status == "sent"
    ]


# Recipients SES never took: their status says so for good (every other status is SES's, from `sent` on).
NOT_TAKEN = frozenset({"queued", "suppressed", "failed", "rejected"})


class AnnouncingMessages:
    """The send path's message store with its `sent`, `failed` and `suppressed` outcomes announced (before
    they are written, for the reason in the module docstring). Everything else passes through.

    `email.sent` needs the message's record: the one this process created (a single send) or claimed (the
    send worker) is kept until its outcome is written, so announcing costs no read."""

    KEPT_RECORDS = 512

    def __init__(self, messages: Any, fanout: WebhookFanout) -> None:
        self.messages = messages
        self.fanout = fanout
        self._kept: OrderedDict[str, MessageRecord] = OrderedDict()
        self._lock = threading.Lock()

    def _keep(self, record: MessageRecord) -> None:
        with self._lock:
            self._kept[record.message_id] = record
            while len(self._kept) > self.KEPT_RECORDS:
                self._kept.popitem(last=False)

    def _kept_record(self, message_id: str) -> MessageRecord | None:
        with self._lock:
            record = self._kept.pop(message_id, None)
        return record or self.messages.get_message_record(message_id)

    def _announce(self, announcements: Iterable[Announcement]) -> None:
        announce_all(self.fanout, announcements)

    def _suppressed(self, record: MessageRecord) -> None:
        emails = [state.email for state in record.recipients if state.status == "suppressed"]
        if emails:
            now = self.fanout.clock.now()
            reason = "on the domain's suppression list"
            self._announce(outcome_announcements(record, WebhookEventType.SUPPRESSED, emails, now, reason))

    # MessageRecorder
    def create_message(self, record: MessageRecord) -> None:
        self._suppressed(record)
        self.messages.create_message(record)
        self._keep(record)

    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        for record in records:
            self._suppressed(record)
        failed: set[str] = self.messages.create_messages(records)
        return failed

    def discard_message(self, message_id: str) -> None:
        self.messages.discard_message(message_id)

    def withdraw(self, message_id: str, reason: str) -> bool:
        """Not announced: its client was refused (never told an id), so no `email.failed` speaks of it."""
        withdrawn: bool = self.messages.withdraw(message_id, reason)
        return withdrawn

    # DeliveryRecorder
    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        """`email.sent`, then SES's id on the record. SES has the message whatever the webhooks' table says:
        when the fan-out fails the id is written all the same (a record without it would have the worker
        send the message again), and the error raised, so the fan-out is made again: by the caller's retry
        (`deliver`), or from the record when the queue's next copy finds the message sent
        (`claim_for_sending`)."""
        record = self._kept_record(message_id)
        try:
            if record is not None:
                self._announce(sent_announcements(record, ses_message_id, statuses, self.fanout.clock.now()))
        except Exception:
            self.messages.mark_sent(message_id, ses_message_id, statuses)
            raise
        self.messages.mark_sent(message_id, ses_message_id, statuses)

    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None:
        emails = list(emails)
        record = self._kept_record(message_id)
        if record is not None:
            now = self.fanout.clock.now()
            self._announce(outcome_announcements(record, WebhookEventType.FAILED, emails, now, reason))
        self.messages.mark_failed(message_id, reason, emails)

    # SendClaims
    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        claim: SendClaim = self.messages.claim_for_sending(message_id, now=now, lease_seconds=lease_seconds)
        if claim.state == "claimed" and claim.record is not None:
            self._keep(claim.record)
        elif claim.state == "done" and claim.record is not None and claim.record.ses_message_id is not None:
            # Sent already, perhaps by a worker whose fan-out then failed (`mark_sent`): made again, under
            # the same identities, so what was made before is not made twice. Once: a fan-out failing
            # again is left (the message is sent; a claim that raised would hold back its whole batch).
            record, ses_message_id = claim.record, claim.record.ses_message_id
            taken = {state.email: "sent" for state in record.recipients if state.status not in NOT_TAKEN}
            with contextlib.suppress(Exception):
                self._announce(sent_announcements(record, ses_message_id, taken, self.fanout.clock.now()))
        return claim

    def release_claim(self, message_id: str) -> None:
        with self._lock:
            self._kept.pop(message_id, None)
        self.messages.release_claim(message_id)

    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        emails = list(emails)
        record = self.messages.get_message_record(message_id)
        if record is not None:
            now = self.fanout.clock.now()
            reason = "suppressed after the message was accepted"
            self._announce(outcome_announcements(record, WebhookEventType.SUPPRESSED, emails, now, reason))
        self.messages.mark_suppressed(message_id, emails)
