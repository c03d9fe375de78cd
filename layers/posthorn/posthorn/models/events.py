"""What Posthorn records about a recipient: the event types (docs/api.md, "Messages and events") and one
recorded event. Kept apart from the SES notification models (`models/ses_notifications.py`,
`logic/events/notifications.py`)
so the API and the store, which read and write events but never parse SES's notifications, do not import
those."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class EventType(StrEnum):
    """Posthorn's event names (docs/api.md, "Messages and events")."""

    SEND = "send"
    REJECT = "reject"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    DELIVERY = "delivery"
    DELIVERY_DELAY = "delivery_delay"
    OPEN = "open"
    CLICK = "click"
    RENDERING_FAILURE = "rendering_failure"
    SUBSCRIPTION = "subscription"


def event_key(
    ses_message_id: str, event_type: EventType, recipient: str | None, occurrence: tuple[str, ...]
) -> str:
    """``"<type>:<sha256>"`` over (SES message id, type, recipient, what tells this occurrence apart).

    Hashed so the key can be logged and stored without exposing the address, and so no separator inside an
    address can make two different tuples collide. Here, not with SES's notifications, because the send path
    makes the `send` event's key itself (`logic/webhooks/fanout.py`): the same key SES's Send event has."""
    material = json.dumps(
        [ses_message_id, str(event_type), recipient, *occurrence], separators=(",", ":"), ensure_ascii=False
    )
    return f"{event_type}:{hashlib.sha256(material.encode()).hexdigest()}"


class RecipientEvent(BaseModel):
    """One thing that happened to one recipient of a message (to all of it when ``recipient`` is None).

    ``event_key`` is equal for the same SES event however often and in whichever format it arrives, and
    differs for different events; store events conditionally on it.
    """

    model_config = ConfigDict(frozen=True)

    ses_message_id: str
    posthorn_message_id: str | None
    type: EventType
    recipient: str | None
    timestamp: AwareDatetime
    details: dict[str, Any]
    suppresses: bool
    event_key: str
    origin: Literal["event", "notification"]
