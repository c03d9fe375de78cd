"""Recording what SES says about a message: recipient statuses, the event timeline, the suppression list.

Every write is idempotent: statuses only move up (a repeated or late event changes nothing), events are
stored once by their key, suppressions keep their first reason. So a notification delivered twice, or the
same event arriving in both of SES's formats, is recorded once, and a retried batch converges.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from posthorn.logic.notifications import (
    EventType,
    MalformedNotification,
    RecipientEvent,
    parse_sns_message,
    to_recipient_events,
)
from posthorn.logic.recipient_status import status_for_event
from posthorn.models.addresses import domain_of
from posthorn.models.messages import MessageRecord
from posthorn.models.ses_notifications import UnknownNotification
from posthorn.models.suppressions import Suppression
from posthorn.ports import EventRecorder, SuppressionRecorder

if TYPE_CHECKING:
    from posthorn.logic.webhook_intake import EventAnnouncer


@dataclass
class Outcomes:
    """What happened to each notification and event: the handler turns these counts into metrics."""

    counts: Counter[str] = field(default_factory=Counter)
    malformed: list[tuple[int, MalformedNotification]] = field(default_factory=list)

    def add(self, outcome: str, amount: int = 1) -> None:
        self.counts[outcome] += amount


def record_event(
    event: RecipientEvent,
    store: EventRecorder,
    suppressions: SuppressionRecorder,
    now: datetime,
    outcomes: Outcomes,
    announcer: EventAnnouncer | None = None,
) -> None:
    message_id = event.posthorn_message_id or store.message_id_for_ses(event.ses_message_id)
    if message_id is None:
        store.put_unmatched_event(event, now=int(now.timestamp()))
        outcomes.add("unmatched")
        return
    # The status first: its conditional update also says whether the message exists. A reader may see the
    # new status a few milliseconds before the event that caused it; both writes are idempotent, so a retry
    # after a crash between them still stores the event.
    status = status_for_event(event.type)
    record: MessageRecord | None = None
    if status is not None and event.recipient is not None:
        known = store.advance_recipients(message_id, {event.recipient: status.value})
    else:
        record = store.get_message_record(message_id)
        known = record is not None
    if not known:
        store.put_unmatched_event(event, now=int(now.timestamp()))
        outcomes.add("unmatched")
        return
    if event.suppresses and event.recipient is not None:
        # The sending domain is the record's (bounces and complaints only: one read more, rarely).
        record = record or store.get_message_record(message_id)
        if record is None:  # deleted in between: nothing to scope the suppression to
            outcomes.add("unmatched")
            return
        suppressed = suppressions.add_suppression(
            Suppression(
                email=event.recipient,
                domain=record.domain or domain_of(record.from_email),
                reason="complaint" if event.type is EventType.COMPLAINT else "bounce",
                created_at=event.timestamp,
                source_message_id=message_id,
            )
        )
        outcomes.add("suppressed" if suppressed else "already_suppressed")
    if announcer is not None:
        # Before the event is stored (logic/webhook_intake.py): a retry after a crash in between still
        # makes the deliveries, and a repeat makes none twice.
        announcer.message_event(message_id, event, record)
    outcomes.add("recorded" if store.put_event(message_id, event) else "duplicate")
    outcomes.add(f"type_{event.type.value}")


def record_sns_messages(
    messages: list[str],
    store: EventRecorder,
    suppressions: SuppressionRecorder,
    now: datetime,
    announcer: EventAnnouncer | None = None,
) -> Outcomes:
    """Record every SNS message's events. Malformed messages are collected, never raised, so one bad
    record does not stop the others; unknown types are counted and otherwise ignored."""
    outcomes = Outcomes()
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
            record_event(event, store, suppressions, now, outcomes, announcer)
    return outcomes
