"""Stored messages, their recipients and events, and the API's views of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RecipientType = Literal["to", "cc", "bcc"]


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
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    client_reference: str | None = None
    configuration_set: str | None = None
    ses_message_id: str | None = None
    error: str | None = None


class EventView(BaseModel):
    type: str
    timestamp: datetime
    recipient: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class MessageView(BaseModel):
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
    recipients: list[RecipientState]
    events: list[EventView]


class RecipientResult(BaseModel):
    email: str
    type: RecipientType
    status: str


class SendResult(BaseModel):
    message_id: str
    status: str
    count: int
    recipients: list[RecipientResult]
