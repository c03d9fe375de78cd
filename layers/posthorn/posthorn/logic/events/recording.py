"""Recording what SES says about a message: recipient statuses, the event timeline, the suppression list.

Each event also raises the stats counters of its message's domain and tags, in the same transaction that
stores it once, so a repeat counts nothing; a counted hard bounce or complaint has the deliverability guard
look at the domain (`logic/guard/pausing.py`).

Every write is idempotent: statuses only move up (a repeated or late event changes nothing), events are
stored once by their key, suppressions keep their first reason. So a notification delivered twice, or the
same event arriving in both of SES's formats, is recorded once, and a retried batch converges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from posthorn.logic.events.notifications import (
    EventType,
    MalformedNotification,
    RecipientEvent,
    parse_sns_message,
    to_recipient_events,
)
from posthorn.logic.events.recipient_status import status_for_event
from posthorn.models.addresses import domain_of
from posthorn.models.messages import MessageChange, MessageRecord
from posthorn.models.ses_notifications import UnknownNotification
from posthorn.models.suppressions import Suppression
from posthorn.ports import EventRecorder, SuppressionRecorder

if TYPE_CHECKING:
    from posthorn.logic.webhooks.fanout import EventAnnouncer


@dataclass
class Outcomes:
    """What happened to each notification and event: the handler turns these counts into metrics."""

    counts: Counter[str] = field(default_factory=Counter)
    malformed: list[tuple[int, MalformedNotification]] = field(default_factory=list)

    def add(self, outcome: str, amount: int = 1) -> None:
        self.counts[outcome] += amount


# What each event adds to the stats counters (per recipient): a transient bounce adds nothing (SES tries
# again), a subscription change is not about delivery.
_COUNTER = {
    EventType.SEND: "sent",
    EventType.DELIVERY: "delivered",
    EventType.DELIVERY_DELAY: "delivery_delayed",
    EventType.COMPLAINT: "complained",
    EventType.OPEN: "opened",
    EventType.CLICK: "clicked",
    EventType.REJECT: "rejected",
    EventType.RENDERING_FAILURE: "failed",
}
# These happen once per recipient by their event key. The others (a second open, another delay) count only
# when they moved the recipient's status: the first open of a recipient, not every open.
_ONE_PER_RECIPIENT = frozenset({"sent", "delivered", "rejected", "failed"})
GUARDED = frozenset({"bounced", "complained"})


def counted_as(event: RecipientEvent) -> str | None:
    """The counter an event raises: hard (permanent) bounces only count as `bounced`."""
    if event.type is EventType.BOUNCE:
        return "bounced" if event.suppresses else None
    return _COUNTER.get(event.type)


def counts_for(event: RecipientEvent, change: MessageChange) -> dict[str, int]:
    """What a new event adds to the counters, once per recipient."""
    counter = counted_as(event)
    if counter is None:
        return {}
    if counter in _ONE_PER_RECIPIENT or (event.recipient is not None and event.recipient in change.moved):
        return {counter: 1}
    return {}


def record_event(
    event: RecipientEvent,
    store: EventRecorder,
    suppressions: SuppressionRecorder,
    now: datetime,
    outcomes: Outcomes,
    announcer: EventAnnouncer | None = None,
) -> str | None:
    """Record one event; the sending domain when it counted a hard bounce or complaint (for the guard)."""
    message_id = event.posthorn_message_id or store.message_id_for_ses(event.ses_message_id)
    if message_id is None:
        store.put_unmatched_event(event, now=int(now.timestamp()))
        outcomes.add("unmatched")
        return None
    # The status first: its conditional update also says whether the message exists, and what it was. A
    # reader may see the new status a few milliseconds before the event that caused it; both writes are
    # idempotent, so a retry after a crash between them still stores (and counts) the event.
    status = status_for_event(event.type)
    change: MessageChange | None
    record: MessageRecord | None = None
    if status is not None and event.recipient is not None:
        change = store.advance_for_event(message_id, event.recipient, status.value)
    else:
        record = store.get_message_record(message_id)
        change = None if record is None else _unchanged(record)
    if change is None:
        store.put_unmatched_event(event, now=int(now.timestamp()))
        outcomes.add("unmatched")
        return None
    if event.suppresses and event.recipient is not None:
        suppressed = suppressions.add_suppression(
            Suppression(
                email=event.recipient,
                domain=change.domain,
                reason="complaint" if event.type is EventType.COMPLAINT else "bounce",
                created_at=event.timestamp,
                source_message_id=message_id,
            )
        )
        outcomes.add("suppressed" if suppressed else "already_suppressed")
    counts = counts_for(event, change)
    if _sent_by_send_path(event, change):
        # The send path recorded this send itself (`sent_to`): counted there, shown from there, announced
        # from there (`email.sent`, under this event's identity). Counted as recorded (its timeline holds
        # it), so no metric of its own (each is a custom metric's cost).
        outcomes.add("recorded")
        outcomes.add(f"type_{event.type.value}")
        return None
    if announcer is not None:
        # Before the event is stored (logic/webhooks/fanout.py): a retry after a crash in between still
        # makes the deliveries, and a repeat makes none twice.
        announcer.message_event(message_id, event, record, domain=change.domain)
    recorded = store.put_event(message_id, event, change, counts)
    outcomes.add("recorded" if recorded else "duplicate")
    outcomes.add(f"type_{event.type.value}")
    return change.domain if recorded and GUARDED & set(counts) else None


def _sent_by_send_path(event: RecipientEvent, change: MessageChange) -> bool:
    """A Send event of a recipient the send path already recorded as sent, with its time and its count (one
    write unit a message saved: the event's item). One that came first is stored as before."""
    return (
        event.type is EventType.SEND
        and event.recipient is not None
        and event.recipient.lower() in change.sent_to
        and change.before == change.after
    )


def _unchanged(record: MessageRecord) -> MessageChange:
    return MessageChange(
        domain=record.domain or domain_of(record.from_email),
        tags=list(record.tags),
        created_at=record.created_at,
        before=record.status,
        after=record.status,
    )


def record_sns_messages(
    messages: list[str],
    store: EventRecorder,
    suppressions: SuppressionRecorder,
    now: datetime,
    announcer: EventAnnouncer | None = None,
    guard: Callable[[str], object] | None = None,
) -> Outcomes:
    """Record every SNS message's events. Malformed messages are collected, never raised, so one bad
    record does not stop the others; unknown types are counted and otherwise ignored. Each domain that
    counted a hard bounce or complaint is then looked at once by the deliverability `guard`."""
    outcomes = Outcomes()
    bouncing: set[str] = set()
    for index, message in enumerate(messages):
        try:
            notification = parse_sns_message(message)
        except MalformedNotification as error:
            outcomes.malformed.append((index, error))
            outcomes.add("malformed")
            continue
        if isinstance(notification, UnknownNotification):
            outcomes.add("ignored" if notification.ignored else "unknown_type")
            continue
        for event in to_recipient_events(notification):
            domain = record_event(event, store, suppressions, now, outcomes, announcer)
            if domain:
                bouncing.add(domain)
    if guard is not None:
        for domain in sorted(bouncing):
            if guard(domain) is not None:
                outcomes.add("domain_paused")
    return outcomes
