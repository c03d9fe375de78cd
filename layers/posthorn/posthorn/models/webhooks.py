"""Webhooks (docs/api.md, "Webhooks"): what a customer registers, what Posthorn stores of it, and the
deliveries it makes with their attempts. Every model is built on first use (`defer_build`): the API's other
routes, and the events function for domains without webhooks, never build them (each would add to every cold
start)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from posthorn.models.credentials import Domain


class WebhookEventType(StrEnum):
    SENT = "email.sent"
    DELIVERED = "email.delivered"
    DELIVERY_DELAYED = "email.delivery_delayed"
    BOUNCED = "email.bounced"
    COMPLAINED = "email.complained"
    OPENED = "email.opened"
    CLICKED = "email.clicked"
    REJECTED = "email.rejected"
    RENDERING_FAILED = "email.rendering_failed"
    SUBSCRIPTION = "email.subscription"
    FAILED = "email.failed"
    SUPPRESSED = "email.suppressed"
    DOMAIN_PAUSED = "domain.paused"
    DOMAIN_RESUMED = "domain.resumed"
    TEST = "webhook.test"


ALL_EVENTS = "*"
WebhookStatus = Literal["enabled", "disabled"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
EventSelector = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2048, strip_whitespace=True)]
Description = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)]


def _event_list(values: list[str]) -> list[str]:
    known = {kind.value for kind in WebhookEventType}
    unknown = [value for value in values if value != ALL_EVENTS and value not in known]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; see the event types in the API reference")
    if ALL_EVENTS in values and len(set(values)) > 1:
        raise ValueError('"*" stands for every event type and cannot be combined with others')
    return list(dict.fromkeys(values))


class CreateWebhookRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/posthorn",
                    "events": ["email.delivered", "email.bounced"],
                    "description": "delivery status into the CRM",
                }
            ]
        },
    )

    url: Url
    events: list[EventSelector] = Field(min_length=1, max_length=20)
    domains: list[Domain] | None = Field(default=None, min_length=1, max_length=100)
    description: Description | None = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, values: list[str]) -> list[str]:
        return _event_list(values)


class UpdateWebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    url: Url | None = None
    events: list[EventSelector] | None = Field(default=None, min_length=1, max_length=20)
    domains: list[Domain] | None = Field(default=None, min_length=1, max_length=100)
    description: Description | None = None
    status: WebhookStatus | None = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _event_list(values)


class SealedSecret(BaseModel):
    """A signing secret as stored: encrypted (KMS, bound to the webhook's id), valid until `expires_at`
    (None: the current one; a rotated-out one signs for 24 h more)."""

    model_config = ConfigDict(defer_build=True)

    ciphertext: str
    expires_at: datetime | None = None


class WebhookRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)

    webhook_id: str
    username: str  # the credential that created it (for the record; visibility is by domains)
    url: str
    events: list[str]
    domains: list[str]
    description: str | None = None
    status: WebhookStatus = "enabled"
    disabled_reason: str | None = None
    created_at: datetime
    secrets: list[SealedSecret] = Field(default_factory=list)
    # The first failed attempt since the last success: an endpoint failing for days is disabled.
    failing_since: datetime | None = None
    # Its endpoint answers slowly: its prompts go to the slow lane (logic/webhooks/sender.py).
    slow: bool = False

    def wants(self, event_type: str) -> bool:
        return self.status == "enabled" and (ALL_EVENTS in self.events or event_type in self.events)


class WebhookView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    webhook_id: str
    url: str
    events: list[str]
    domains: list[str]
    description: str | None = None
    status: WebhookStatus
    disabled_reason: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, record: WebhookRecord) -> WebhookView:
        return cls.model_validate(record.model_dump(exclude={"secrets", "username", "failing_since", "slow"}))


class CreatedWebhook(WebhookView):
    """Answered on creation only: the one time the secret is shown (and on rotation, `RotatedSecret`)."""

    secret: str


class WebhookList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    webhooks: list[WebhookView]


class RotatedSecret(BaseModel):
    model_config = ConfigDict(defer_build=True)

    secret: str


class Attempt(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: datetime
    http_status: int | None = None
    duration_ms: int
    error: str | None = None
    # The first few KB of the endpoint's answer, stored for the customer to read; never logged.
    response_body: str | None = None


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)

    delivery_id: str  # also the `webhook-id` header: the same on every attempt and on replay
    webhook_id: str
    event_type: str
    message_id: str | None = None
    domain: str
    payload: str  # the JSON body, fixed when the delivery is made: every attempt signs the same bytes
    status: DeliveryStatus = "pending"
    attempts: list[Attempt] = Field(default_factory=list)
    created_at: datetime
    next_attempt_at: datetime | None = None
    # Failed attempts since the delivery was made or last replayed: the retry schedule's position.
    failures: int = 0
    # When the message it is about was created: the delivery expires with that message (docs/api.md,
    # "Retention"). None for a delivery about no message: it expires counting from its own `created_at`.
    message_created_at: datetime | None = None


class DeliveryView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    delivery_id: str
    event_type: str
    message_id: str | None
    status: DeliveryStatus
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryView:
        hidden = {"payload", "webhook_id", "domain", "failures", "message_created_at"}
        return cls.model_validate(record.model_dump(exclude=hidden))


class DeliveryList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    deliveries: list[DeliveryView]
    next_cursor: str | None = None


class DeliveryAccepted(BaseModel):
    model_config = ConfigDict(defer_build=True)

    delivery_id: str


class DueDelivery(NamedTuple):
    delivery_id: str
    webhook_id: str
    slow: bool = False  # the prompt's lane: the webhook's endpoint is slow (logic/webhooks/sender.py)


class PostResult(NamedTuple):
    http_status: int | None  # None: no answer (refused address, DNS, connect, timeout)
    duration_ms: int
    retry_after: str | None = None
    body_head: str | None = None  # the first few KB of the answer, for the customer; never logged
    error: str | None = None
    timed_out: bool = False  # no answer within the timeout (connecting included)
