"""Stored messages, their recipients and events, and the API's views of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from posthorn.models.defaults import empty_dict, empty_list

RecipientType = Literal["to", "cc", "bcc"]
# How a message came in: the HTTPS API or the SMTP relay.
MessageSource = Literal["api", "smtp"]

# The order events happen in for one recipient; SES stamps in milliseconds, so ties are common.
LIFECYCLE = (
    "send",
    "reject",
    "rendering_failure",
    "delivery_delay",
    "delivery",
    "bounce",
    "complaint",
    "open",
    "click",
    "subscription",
)


class RecipientState(BaseModel):
    email: str
    type: RecipientType
    status: str


class MessageRecord(BaseModel):
    message_id: str
    username: str
    domain: str
    from_email: str
    subject: str
    status: str
    created_at: datetime
    recipients: list[RecipientState]
    tags: list[str] = Field(default_factory=empty_list)
    metadata: dict[str, str] = Field(default_factory=empty_dict)
    client_reference: str | None = None
    configuration_set: str | None = None
    ses_message_id: str | None = None
    error: str | None = None
    source: MessageSource = "api"


# What GET /v1/messages/{id} answers is built on first use (`defer_build`; see models/credentials.py): no
# other route and no other function uses it.
class EventView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    type: str
    timestamp: datetime
    recipient: str | None = None
    details: dict[str, Any] = Field(default_factory=empty_dict)

    def timeline_position(self) -> tuple[datetime, int, str]:
        """Sort key of a timeline: by time, and events of the same millisecond in the order they happen."""
        lifecycle = LIFECYCLE.index(self.type) if self.type in LIFECYCLE else len(LIFECYCLE)
        return self.timestamp, lifecycle, self.recipient or ""


def timeline(events: list[EventView]) -> list[EventView]:
    return sorted(events, key=EventView.timeline_position)


class MessageView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    message_id: str
    status: str
    created_at: datetime
    from_email: str
    subject: str
    tags: list[str]
    metadata: dict[str, str]
    client_reference: str | None
    ses_message_id: str | None
    error: str | None = None
    source: MessageSource = "api"
    recipients: list[RecipientState]
    events: list[EventView]

    @classmethod
    def of(cls, record: MessageRecord, events: list[dict[str, Any]]) -> MessageView:
        """What `GET /v1/messages/{id}` answers: the record without its owner fields, and its timeline."""
        ordered = timeline([EventView.model_validate(event) for event in events])
        return cls(**record.model_dump(exclude={"username", "domain", "configuration_set"}), events=ordered)


class RecipientResult(BaseModel):
    email: str
    type: RecipientType
    status: str


class SendResult(BaseModel):
    message_id: str
    status: str
    count: int
    recipients: list[RecipientResult]


# GET /v1/messages (built on first use).
class MessageSummary(BaseModel):
    """A message as `GET /v1/messages` lists it: the record without its owner fields and events."""

    model_config = ConfigDict(defer_build=True)

    message_id: str
    status: str
    created_at: datetime
    from_email: str
    subject: str
    tags: list[str]
    metadata: dict[str, str]
    client_reference: str | None
    source: MessageSource
    recipients: list[RecipientState]

    @classmethod
    def of(cls, record: MessageRecord) -> MessageSummary:
        return cls(
            **record.model_dump(
                exclude={"username", "domain", "configuration_set", "ses_message_id", "error"}
            )
        )


class MessageList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    messages: list[MessageSummary]
    next_cursor: str | None


class MessageChange(NamedTuple):
    """What raising recipients' statuses did to a message: its domain and tags (what its counters are
    kept under), its status before and after, the recipients that moved, and the configuration set it was
    sent with (None: none, so SES's events about it arrive without its tags)."""

    domain: str
    tags: list[str]
    created_at: datetime
    before: str
    after: str
    moved: frozenset[str] = frozenset()
    configuration_set: str | None = None
    # The recipients (lower-cased) the send path recorded as sent itself (`sent_to`), whose SES Send event
    # then needs storing and counting no more (`logic/events/recording.py`).
    sent_to: frozenset[str] = frozenset()
