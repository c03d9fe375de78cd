"""What an event adds to the stats counters (logic/events/recording.py): once per recipient, hard bounces
only."""

from __future__ import annotations

from datetime import UTC, datetime

from posthorn.logic.events.recording import counts_for
from posthorn.models.events import EventType, RecipientEvent
from posthorn.models.messages import MessageChange

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def event(
    kind: EventType, *, suppresses: bool = False, recipient: str | None = "a@example.net"
) -> RecipientEvent:
    return RecipientEvent(
        ses_message_id="ses",
        posthorn_message_id="m1",
        type=kind,
        recipient=recipient,
        timestamp=AT,
        details={},
        suppresses=suppresses,
        event_key=f"{kind}:x",
        origin="event",
    )


def change(*moved: str) -> MessageChange:
    return MessageChange("example.com", [], AT, "sent", "delivered", frozenset(moved))


def test_events_that_happen_once_per_recipient_always_count() -> None:
    assert counts_for(event(EventType.SEND), change()) == {"sent": 1}
    assert counts_for(event(EventType.DELIVERY), change()) == {"delivered": 1}
    assert counts_for(event(EventType.REJECT), change()) == {"rejected": 1}


def test_an_open_counts_only_when_it_moved_the_recipient() -> None:
    assert counts_for(event(EventType.OPEN), change("a@example.net")) == {"opened": 1}
    assert counts_for(event(EventType.OPEN), change()) == {}  # a second open
    assert counts_for(event(EventType.OPEN, recipient=None), change()) == {}


def test_only_a_hard_bounce_counts_as_bounced() -> None:
    assert counts_for(event(EventType.BOUNCE, suppresses=True), change("a@example.net")) == {"bounced": 1}
    assert counts_for(event(EventType.BOUNCE, suppresses=False), change("a@example.net")) == {}


def test_a_subscription_change_counts_nothing() -> None:
    assert counts_for(event(EventType.SUBSCRIPTION), change("a@example.net")) == {}
