"""Recipient and message status precedence: never lowered, terminal states sticky, order-independent."""

from __future__ import annotations

import itertools
import json
import random
from functools import reduce
from pathlib import Path

import pytest

from posthorn.logic.events.notifications import (
    EventType,
    RecipientEvent,
    parse_sns_message,
    to_recipient_events,
)
from posthorn.logic.events.recipient_status import (
    TERMINAL_STATUSES,
    RecipientStatus,
    advance,
    message_status,
    rank,
    status_for_event,
)

S = RecipientStatus
PROGRESS = [S.QUEUED, S.SENT, S.DELIVERY_DELAYED, S.DELIVERED, S.OPENED, S.CLICKED, S.BOUNCED, S.COMPLAINED]
TERMINAL = [S.REJECTED, S.FAILED, S.SUPPRESSED]
EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def final(statuses: list[RecipientStatus | None], start: RecipientStatus = S.QUEUED) -> RecipientStatus:
    return reduce(advance, statuses, start)


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        (EventType.SEND, S.SENT),
        (EventType.DELIVERY, S.DELIVERED),
        (EventType.DELIVERY_DELAY, S.DELIVERY_DELAYED),
        (EventType.OPEN, S.OPENED),
        (EventType.CLICK, S.CLICKED),
        (EventType.BOUNCE, S.BOUNCED),
        (EventType.COMPLAINT, S.COMPLAINED),
        (EventType.REJECT, S.REJECTED),
        (EventType.RENDERING_FAILURE, S.FAILED),
        (EventType.SUBSCRIPTION, None),
    ],
)
def test_status_for_event(event_type: EventType, status: RecipientStatus | None) -> None:
    assert status_for_event(event_type) == status
    assert status_for_event(str(event_type)) == status


def test_status_for_unknown_event_name_raises() -> None:
    with pytest.raises(ValueError, match="frobnicate"):
        status_for_event("frobnicate")


def test_every_status_has_exactly_one_rank() -> None:
    assert sorted(rank(status) for status in S) == list(range(len(S)))


def test_progress_order_is_the_documented_one() -> None:
    assert sorted(PROGRESS, key=rank) == PROGRESS
    assert set(TERMINAL_STATUSES) == set(TERMINAL)


def test_terminal_states_rank_above_every_progress_state() -> None:
    assert min(rank(t) for t in TERMINAL) > max(rank(p) for p in PROGRESS)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_advance_never_lowers_and_reaches_the_higher(current: RecipientStatus, new: RecipientStatus) -> None:
    result = advance(current, new)
    assert rank(result) == max(rank(current), rank(new))


def test_advance_is_commutative_and_associative() -> None:
    for a, b in itertools.product(S, S):
        assert advance(a, b) == advance(b, a)
    for a, b, c in itertools.product(S, S, S):
        assert advance(advance(a, b), c) == advance(a, advance(b, c))


def test_late_delivery_after_bounce_stays_bounced() -> None:
    assert advance(S.BOUNCED, S.DELIVERED) is S.BOUNCED


def test_late_open_after_complaint_stays_complained() -> None:
    assert advance(S.COMPLAINED, S.OPENED) is S.COMPLAINED


def test_bounce_after_delivery_is_bounced() -> None:
    assert advance(S.DELIVERED, S.BOUNCED) is S.BOUNCED


def test_delay_after_delivery_stays_delivered() -> None:
    assert advance(S.DELIVERED, S.DELIVERY_DELAYED) is S.DELIVERED


@pytest.mark.parametrize("terminal", TERMINAL)
@pytest.mark.parametrize("later", PROGRESS)
def test_terminal_state_is_sticky_against_any_progress_event(
    terminal: RecipientStatus, later: RecipientStatus
) -> None:
    assert advance(terminal, later) is terminal


@pytest.mark.parametrize("terminal", TERMINAL)
def test_terminal_state_replaces_any_progress_state(terminal: RecipientStatus) -> None:
    for current in PROGRESS:
        assert advance(current, terminal) is terminal


def test_terminal_states_order_by_pipeline_stage() -> None:
    assert advance(S.REJECTED, S.FAILED) is S.FAILED
    assert advance(S.FAILED, S.SUPPRESSED) is S.SUPPRESSED
    assert advance(S.SUPPRESSED, S.REJECTED) is S.SUPPRESSED


def test_event_without_status_leaves_status_unchanged() -> None:
    assert advance(S.DELIVERED, status_for_event(EventType.SUBSCRIPTION)) is S.DELIVERED


def test_advance_accepts_plain_strings() -> None:
    assert advance("sent", "delivered") is S.DELIVERED


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([S.SENT, S.DELIVERY_DELAYED, S.DELIVERED, S.OPENED, S.OPENED, S.CLICKED], S.CLICKED),
        ([S.SENT, S.DELIVERED, S.OPENED, S.BOUNCED], S.BOUNCED),
        ([S.SENT, S.DELIVERED, S.OPENED, S.CLICKED, S.COMPLAINED], S.COMPLAINED),
        ([S.SENT, S.DELIVERY_DELAYED, S.DELIVERY_DELAYED, S.BOUNCED], S.BOUNCED),
        ([S.SENT, S.REJECTED], S.REJECTED),
        ([S.SENT, S.FAILED], S.FAILED),
        ([S.SENT, S.DELIVERED, None], S.DELIVERED),
    ],
)
def test_shuffled_and_repeated_histories_always_end_at_the_same_status(
    history: list[RecipientStatus | None], expected: RecipientStatus
) -> None:
    assert final(history) is expected
    for seed in range(300):
        rng = random.Random(seed)
        events = history * rng.randint(1, 3)  # SNS redelivery repeats events
        rng.shuffle(events)
        assert final(events) is expected, f"seed {seed}: {events}"


def _fixture_events(*names: str) -> list[RecipientEvent]:
    events = []
    for name in names:
        for record in json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))["Records"]:
            events.extend(to_recipient_events(parse_sns_message(record["Sns"]["Message"])))
    return events


def test_shuffled_fixture_events_from_both_formats_end_bounced() -> None:
    events = _fixture_events(
        "sns_event_send",
        "sns_event_delivery_delay",
        "sns_event_delivery",
        "sns_notification_delivery",
        "sns_event_open",
        "sns_event_click",
        "sns_event_bounce_permanent",
        "sns_notification_bounce",
        "sns_event_subscription",
    )
    for seed in range(200):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert final([status_for_event(e.type) for e in shuffled]) is S.BOUNCED


def test_message_status_is_the_highest_recipient_status() -> None:
    assert message_status([S.SENT, S.DELIVERED, S.OPENED]) is S.OPENED
    assert message_status([S.CLICKED, S.BOUNCED]) is S.BOUNCED
    assert message_status(["delivered", "queued"]) is S.DELIVERED


def test_message_status_ignores_terminal_recipients_while_others_progress() -> None:
    assert message_status([S.SUPPRESSED, S.DELIVERED]) is S.DELIVERED
    assert message_status([S.SUPPRESSED, S.SENT]) is S.SENT


def test_message_status_is_terminal_when_every_recipient_is() -> None:
    assert message_status([S.REJECTED, S.REJECTED]) is S.REJECTED
    assert message_status([S.SUPPRESSED, S.FAILED]) is S.SUPPRESSED


def test_message_status_is_order_independent() -> None:
    statuses = [S.SENT, S.SUPPRESSED, S.DELIVERED, S.BOUNCED, S.OPENED]
    for seed in range(50):
        shuffled = list(statuses)
        random.Random(seed).shuffle(shuffled)
        assert message_status(shuffled) is S.BOUNCED


def test_message_status_without_recipients_is_queued() -> None:
    assert message_status([]) is S.QUEUED


def test_timeline_orders_same_millisecond_events_by_lifecycle() -> None:
    from datetime import UTC, datetime

    from posthorn.models.messages import EventView, timeline

    moment = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    later = datetime(2026, 11, 21, 12, 0, 1, tzinfo=UTC)
    events = [
        EventView(type="open", timestamp=moment),
        EventView(type="delivery", timestamp=moment),
        EventView(type="click", timestamp=later),
        EventView(type="send", timestamp=moment),
    ]
    assert [event.type for event in timeline(events)] == ["send", "delivery", "open", "click"]
