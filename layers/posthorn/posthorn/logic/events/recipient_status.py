"""Recipient and message status: which event moves a recipient where, and what never moves back.

Progress (docs/api.md, "Messages and events"): queued < sent < delivery_delayed < delivered < opened < clicked
< bounced < complained.
A later, lower event never lowers a status (a Delivery that arrives after its Bounce leaves ``bounced``).

Terminal states ``rejected``, ``failed`` and ``suppressed`` rank above every progress state, so once a
recipient is in one, no delivery, open, bounce or complaint changes it. In the (practically impossible) case
of two terminal verdicts, the one made earlier in the pipeline wins: ``rejected`` (SES content scan) <
``failed`` (SES template rendering) < ``suppressed`` (Posthorn, before SES is asked). So ``advance`` is a
plain maximum over one total order: the final status depends only on which events happened, never on the
order SNS delivers them or on duplicates. (First-verdict-wins would make the result order-dependent.)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from posthorn.models.events import EventType


class RecipientStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERY_DELAYED = "delivery_delayed"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    REJECTED = "rejected"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


_ORDER = (
    RecipientStatus.QUEUED,
    RecipientStatus.SENT,
    RecipientStatus.DELIVERY_DELAYED,
    RecipientStatus.DELIVERED,
    RecipientStatus.OPENED,
    RecipientStatus.CLICKED,
    RecipientStatus.BOUNCED,
    RecipientStatus.COMPLAINED,
    RecipientStatus.REJECTED,
    RecipientStatus.FAILED,
    RecipientStatus.SUPPRESSED,
)
_RANK = {status: rank for rank, status in enumerate(_ORDER)}

TERMINAL_STATUSES = frozenset({RecipientStatus.REJECTED, RecipientStatus.FAILED, RecipientStatus.SUPPRESSED})

_STATUS_FOR_EVENT: dict[EventType, RecipientStatus | None] = {
    EventType.SEND: RecipientStatus.SENT,
    EventType.DELIVERY_DELAY: RecipientStatus.DELIVERY_DELAYED,
    EventType.DELIVERY: RecipientStatus.DELIVERED,
    EventType.OPEN: RecipientStatus.OPENED,
    EventType.CLICK: RecipientStatus.CLICKED,
    EventType.BOUNCE: RecipientStatus.BOUNCED,
    EventType.COMPLAINT: RecipientStatus.COMPLAINED,
    EventType.REJECT: RecipientStatus.REJECTED,
    EventType.RENDERING_FAILURE: RecipientStatus.FAILED,
    EventType.SUBSCRIPTION: None,  # a list-preference change says nothing about delivery
}


def status_for_event(event_type: EventType | str) -> RecipientStatus | None:
    """The status an event moves a recipient to, or None when it does not touch status.

    Raises ``ValueError`` for a name that is not an ``EventType``."""
    return _STATUS_FOR_EVENT[EventType(event_type)]


def rank(status: RecipientStatus | str) -> int:
    """Position in the one total order ``advance`` and ``message_status`` use."""
    return _RANK[RecipientStatus(status)]


def advance(current: RecipientStatus | str, new: RecipientStatus | str | None) -> RecipientStatus:
    """The recipient's status after an event that implies ``new`` (None: the event does not touch status)."""
    current_status = RecipientStatus(current)
    if new is None:
        return current_status
    new_status = RecipientStatus(new)
    return new_status if _RANK[new_status] > _RANK[current_status] else current_status


def message_status(recipient_statuses: Iterable[RecipientStatus | str]) -> RecipientStatus:
    """The highest recipient status of the recipients Posthorn handed to SES.

    A recipient in a terminal state counts only when every recipient is: a message with one suppressed
    recipient and one delivered recipient is ``delivered``, not ``suppressed``. No recipients: ``queued``.
    """
    statuses = [RecipientStatus(status) for status in recipient_statuses]
    live = [status for status in statuses if status not in TERMINAL_STATUSES]
    candidates = live or statuses
    if not candidates:
        return RecipientStatus.QUEUED
    return max(candidates, key=_RANK.__getitem__)
