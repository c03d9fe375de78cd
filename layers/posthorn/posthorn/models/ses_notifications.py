"""What SES publishes to SNS about a sent message, in both of its formats.

- Event publishing (a configuration set's SNS destination): top-level ``eventType``; ``mail`` has ``tags``.
- Classic notifications (an identity's bounce/complaint/delivery topics): top-level ``notificationType``;
  ``mail`` has no tags.

Shapes follow the SES Developer Guide ("Contents of event data that Amazon SES publishes to Amazon SNS" and
"Amazon SNS notification contents for Amazon SES"). SES reserves the right to add fields, so unknown fields
are ignored, and values SES may extend (bounce types, delay types) are plain strings, not enums.

``parse_ses_notification`` is the entry point: a known type becomes a typed model (or raises
``pydantic.ValidationError`` when its shape is wrong); an unknown type becomes ``UnknownNotification`` so the
caller can count it instead of failing the whole SNS batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

_SPACE_BEFORE_OFFSET = re.compile(r"\s+(?=[+-]\d{2}:?\d{2}$)")


def _ses_datetime(value: object) -> object:
    """Accept the ISO 8601 forms SES uses, even the guide's "2018-10-08T14:05:45 +0000"; naive means UTC."""
    if isinstance(value, str):
        text = _SPACE_BEFORE_OFFSET.sub("", value.strip())
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return value  # let pydantic report it
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


SesTimestamp = Annotated[datetime, BeforeValidator(_ses_datetime)]


class _SesModel(BaseModel):
    """SES's camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="ignore", frozen=True
    )


# ---------------------------------------------------------------------------------------------- mail
class MailHeader(_SesModel):
    name: str
    value: str


class CommonHeaders(_SesModel):
    from_: list[str] = Field(default_factory=list, alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    sender: list[str] = Field(default_factory=list)
    reply_to: list[str] = Field(default_factory=list)
    return_path: str | None = None
    message_id: str | None = None
    date: str | None = None
    subject: str | None = None


class Mail(_SesModel):
    """The ``mail`` object. ``headers``/``commonHeaders`` are absent when SES is told not to include them;
    ``tags`` exist only in event publishing (``{"name": ["value", ...]}``)."""

    timestamp: SesTimestamp
    message_id: str = Field(min_length=1)
    source: str
    source_arn: str | None = None
    source_ip: str | None = None
    sending_account_id: str | None = None
    caller_identity: str | None = None
    destination: list[str] = Field(default_factory=list)
    headers_truncated: bool | None = None
    headers: list[MailHeader] = Field(default_factory=list)
    common_headers: CommonHeaders | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        """The first value of a message tag, or None."""
        values = self.tags.get(name) or []
        return values[0] if values else None


# ------------------------------------------------------------------------------------- per-type objects
class BouncedRecipient(_SesModel):
    email_address: str
    action: str | None = None
    status: str | None = None
    diagnostic_code: str | None = None


class Bounce(_SesModel):
    bounce_type: str  # Permanent | Transient | Undetermined
    bounce_sub_type: str | None = None
    bounced_recipients: list[BouncedRecipient]
    timestamp: SesTimestamp | None = None
    feedback_id: str | None = None
    reporting_mta: str | None = Field(default=None, alias="reportingMTA")
    remote_mta_ip: str | None = None


class ComplainedRecipient(_SesModel):
    email_address: str


class Complaint(_SesModel):
    complained_recipients: list[ComplainedRecipient]
    timestamp: SesTimestamp | None = None
    feedback_id: str | None = None
    complaint_sub_type: str | None = None
    user_agent: str | None = None
    complaint_feedback_type: str | None = None
    arrival_date: SesTimestamp | None = None


class Delivery(_SesModel):
    timestamp: SesTimestamp | None = None
    processing_time_millis: int | None = None
    recipients: list[str]
    smtp_response: str | None = None
    reporting_mta: str | None = Field(default=None, alias="reportingMTA")
    remote_mta_ip: str | None = None


class Send(_SesModel):
    """Always empty in SES's events."""


class Reject(_SesModel):
    reason: str | None = None


class Open(_SesModel):
    ip_address: str | None = None
    timestamp: SesTimestamp | None = None
    user_agent: str | None = None


class Click(_SesModel):
    ip_address: str | None = None
    timestamp: SesTimestamp | None = None
    user_agent: str | None = None
    link: str | None = None
    link_tags: dict[str, list[str]] = Field(default_factory=dict)


class RenderingFailure(_SesModel):
    template_name: str | None = None
    error_message: str | None = None


class DelayedRecipient(_SesModel):
    email_address: str
    status: str | None = None
    diagnostic_code: str | None = None


class DeliveryDelay(_SesModel):
    delay_type: str | None = None
    delayed_recipients: list[DelayedRecipient]
    expiration_time: SesTimestamp | None = None
    reporting_mta: str | None = Field(default=None, alias="reportingMTA")
    timestamp: SesTimestamp | None = None


class TopicSubscriptionStatus(_SesModel):
    topic_name: str
    subscription_status: str  # OptIn | OptOut


class TopicPreferences(_SesModel):
    unsubscribe_all: bool = False
    topic_subscription_status: list[TopicSubscriptionStatus] = Field(default_factory=list)
    topic_default_subscription_status: str | None = None


class Subscription(_SesModel):
    contact_list: str | None = None
    timestamp: SesTimestamp | None = None
    source: str | None = None
    new_topic_preferences: TopicPreferences | None = None
    old_topic_preferences: TopicPreferences | None = None


# ------------------------------------------------------------------------------ event publishing records
class _Event(_SesModel):
    mail: Mail


class SendEvent(_Event):
    event_type: Literal["Send"]
    send: Send = Field(default_factory=Send)


class RejectEvent(_Event):
    event_type: Literal["Reject"]
    reject: Reject = Field(default_factory=Reject)


class BounceEvent(_Event):
    event_type: Literal["Bounce"]
    bounce: Bounce


class ComplaintEvent(_Event):
    event_type: Literal["Complaint"]
    complaint: Complaint


class DeliveryEvent(_Event):
    event_type: Literal["Delivery"]
    delivery: Delivery


class OpenEvent(_Event):
    event_type: Literal["Open"]
    open: Open


class ClickEvent(_Event):
    event_type: Literal["Click"]
    click: Click


class RenderingFailureEvent(_Event):
    # The guide spells it with a space; the API enum (RENDERING_FAILURE) suggests the other form may appear.
    event_type: Literal["Rendering Failure", "RenderingFailure"]
    failure: RenderingFailure = Field(default_factory=RenderingFailure)


class DeliveryDelayEvent(_Event):
    event_type: Literal["DeliveryDelay"]
    delivery_delay: DeliveryDelay


class SubscriptionEvent(_Event):
    event_type: Literal["Subscription"]
    subscription: Subscription = Field(default_factory=Subscription)


SesEvent = Annotated[
    SendEvent
    | RejectEvent
    | BounceEvent
    | ComplaintEvent
    | DeliveryEvent
    | OpenEvent
    | ClickEvent
    | RenderingFailureEvent
    | DeliveryDelayEvent
    | SubscriptionEvent,
    Field(discriminator="event_type"),
]


# --------------------------------------------------------------------------------- classic notifications
class _Notification(_SesModel):
    mail: Mail


class BounceNotification(_Notification):
    notification_type: Literal["Bounce"]
    bounce: Bounce


class ComplaintNotification(_Notification):
    notification_type: Literal["Complaint"]
    complaint: Complaint


class DeliveryNotification(_Notification):
    notification_type: Literal["Delivery"]
    delivery: Delivery


SesClassicNotification = Annotated[
    BounceNotification | ComplaintNotification | DeliveryNotification,
    Field(discriminator="notification_type"),
]


# ------------------------------------------------------------------------------------------- unknown
@dataclass(frozen=True, slots=True)
class UnknownNotification:
    """A message whose type Posthorn does not record.

    ``ignored`` is True for types SES documents that carry no sending outcome ("Received" for inbound mail,
    "AmazonSnsSubscriptionSucceeded" when a topic is attached); False for anything unrecognised, which is
    worth counting and alerting on: SES may have added a type.
    """

    format: Literal["event", "notification", "none"]
    type_name: str | None
    ignored: bool = False


SesNotification = (
    SendEvent
    | RejectEvent
    | BounceEvent
    | ComplaintEvent
    | DeliveryEvent
    | OpenEvent
    | ClickEvent
    | RenderingFailureEvent
    | DeliveryDelayEvent
    | SubscriptionEvent
    | BounceNotification
    | ComplaintNotification
    | DeliveryNotification
)

EVENT_TYPES = frozenset(
    {
        "Send",
        "Reject",
        "Bounce",
        "Complaint",
        "Delivery",
        "Open",
        "Click",
        "Rendering Failure",
        "RenderingFailure",
        "DeliveryDelay",
        "Subscription",
    }
)
NOTIFICATION_TYPES = frozenset({"Bounce", "Complaint", "Delivery"})
IGNORED_NOTIFICATION_TYPES = frozenset({"Received", "AmazonSnsSubscriptionSucceeded"})

_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(SesEvent)
_NOTIFICATION_ADAPTER: TypeAdapter[Any] = TypeAdapter(SesClassicNotification)


class NotAnObject(ValueError):
    """The decoded SNS message is JSON but not an object."""


def parse_ses_notification(payload: Mapping[str, Any]) -> SesNotification | UnknownNotification:
    """Type a decoded SES message. Raises ``pydantic.ValidationError`` when a known type has the wrong shape,
    and ``NotAnObject`` when the payload is not a JSON object."""
    if not isinstance(payload, Mapping):
        raise NotAnObject(f"expected a JSON object, got {type(payload).__name__}")
    if "eventType" in payload:
        event_type = payload["eventType"]
        if isinstance(event_type, str) and event_type in EVENT_TYPES:
            parsed: SesNotification = _EVENT_ADAPTER.validate_python(payload)
            return parsed
        return UnknownNotification(format="event", type_name=_type_name(event_type))
    if "notificationType" in payload:
        notification_type = payload["notificationType"]
        if isinstance(notification_type, str) and notification_type in NOTIFICATION_TYPES:
            classic: SesNotification = _NOTIFICATION_ADAPTER.validate_python(payload)
            return classic
        return UnknownNotification(
            format="notification",
            type_name=_type_name(notification_type),
            ignored=isinstance(notification_type, str) and notification_type in IGNORED_NOTIFICATION_TYPES,
        )
    return UnknownNotification(format="none", type_name=None)


def _type_name(value: object) -> str:
    return value if isinstance(value, str) else repr(value)[:64]
