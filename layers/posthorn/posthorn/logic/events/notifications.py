"""From one SES message delivered by SNS to the per-recipient events Posthorn records.

``parse_sns_message`` takes the SNS record's ``Message`` string and returns a typed SES notification, or an
``UnknownNotification`` the caller counts, or raises ``MalformedNotification``. ``to_recipient_events``
flattens a notification into ``RecipientEvent``s: one per recipient the event is about, each with the
``event_key`` that makes recording it idempotent.

Pure: no I/O, no boto3. Error messages never include the message content (it holds addresses).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, Literal

from pydantic import ValidationError

# EventType and RecipientEvent live in models/events.py (the API and the store need them, not the SES
# notification models); they are imported here for the code that turns notifications into them.
from posthorn.models.events import EventType, RecipientEvent, event_key
from posthorn.models.ses_notifications import (
    Bounce,
    BounceEvent,
    BounceNotification,
    ClickEvent,
    Complaint,
    ComplaintEvent,
    ComplaintNotification,
    Delivery,
    DeliveryDelayEvent,
    DeliveryEvent,
    DeliveryNotification,
    Mail,
    NotAnObject,
    OpenEvent,
    RejectEvent,
    RenderingFailureEvent,
    SendEvent,
    SesNotification,
    SubscriptionEvent,
    TopicPreferences,
    UnknownNotification,
    parse_ses_notification,
)

POSTHORN_MESSAGE_ID_TAG = "posthorn_message_id"

ParsedNotification = SesNotification | UnknownNotification


class MalformedNotification(ValueError):
    """The SNS message is not JSON, not an object, or a known SES type with the wrong shape.

    ``errors`` lists the failing fields as ``"bounce.bouncedRecipients: Field required"``; never values.
    """

    def __init__(self, reason: str, errors: Iterable[str] = ()) -> None:
        self.reason = reason
        self.errors = tuple(errors)
        super().__init__("; ".join([reason, *self.errors[:5]]))


def parse_sns_message(message: str) -> ParsedNotification:
    """Decode and type the ``Sns.Message`` string of one SNS record."""
    try:
        payload = json.loads(message)
    except (TypeError, ValueError) as exc:
        raise MalformedNotification("SNS message is not JSON") from exc
    except RecursionError:
        raise MalformedNotification("SNS message is nested too deeply") from None
    if not _is_unicode_text(payload):
        # A `\ud800` escape decodes to a lone surrogate, which no address, key or stored string can hold.
        raise MalformedNotification("SNS message holds text that is not valid Unicode (a lone surrogate)")
    try:
        return parse_ses_notification(payload)
    except NotAnObject:
        raise MalformedNotification(
            f"SNS message is JSON but not an object ({type(payload).__name__})"
        ) from None
    except ValidationError as exc:
        kind = payload.get("eventType") or payload.get("notificationType")
        errors = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        # `from None`: a ValidationError's text quotes the input, which holds addresses.
        raise MalformedNotification(
            f"SES {kind} message does not match its documented shape", errors
        ) from None


def _is_unicode_text(value: Any) -> bool:
    """Whether every string in the decoded JSON encodes as UTF-8 (a walk of ~100 values for an SES
    event). A structure nested deeper than the walk can go is not text Posthorn can record either."""
    try:
        if isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, dict):
            return all(_is_unicode_text(key) and _is_unicode_text(item) for key, item in value.items())
        elif isinstance(value, list):
            return all(_is_unicode_text(item) for item in value)
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def to_recipient_events(notification: ParsedNotification) -> list[RecipientEvent]:
    """Flatten a notification into recipient events (none for an ``UnknownNotification``).

    - Bounce, Complaint, Delivery, DeliveryDelay: one event per recipient SES lists in the type's object.
    - Send, Reject, Rendering Failure: one per ``mail.destination`` address: each decides every recipient.
    - Open, Click, Subscription: SES does not say who; the recipient is the only destination when there is
      exactly one, else None (a message-level event).
    """
    if isinstance(notification, UnknownNotification):
        return []
    context = _Context(notification)
    mail = notification.mail
    events: list[RecipientEvent]
    if isinstance(notification, BounceEvent | BounceNotification):
        events = _bounce_events(context, notification.bounce)
    elif isinstance(notification, ComplaintEvent | ComplaintNotification):
        events = _complaint_events(context, notification.complaint)
    elif isinstance(notification, DeliveryEvent | DeliveryNotification):
        events = _delivery_events(context, notification.delivery)
    elif isinstance(notification, DeliveryDelayEvent):
        delay = notification.delivery_delay
        events = [
            context.event(
                EventType.DELIVERY_DELAY,
                recipient.email_address,
                delay.timestamp,
                _compact(
                    delay_type=delay.delay_type,
                    expiration_time=_iso(delay.expiration_time),
                    reporting_mta=delay.reporting_mta,
                    status=recipient.status,
                    diagnostic_code=recipient.diagnostic_code,
                ),
            )
            for recipient in delay.delayed_recipients
        ]
    elif isinstance(notification, SendEvent):
        events = [context.event(EventType.SEND, address, None, {}) for address in mail.destination]
    elif isinstance(notification, RejectEvent):
        details = _compact(reason=notification.reject.reason)
        events = [context.event(EventType.REJECT, address, None, details) for address in mail.destination]
    elif isinstance(notification, RenderingFailureEvent):
        failure = notification.failure
        details = _compact(error_message=failure.error_message, template_name=failure.template_name)
        events = [
            context.event(EventType.RENDERING_FAILURE, address, None, details) for address in mail.destination
        ]
    elif isinstance(notification, OpenEvent):
        opened = notification.open
        details = _compact(ip_address=opened.ip_address, user_agent=opened.user_agent)
        events = [context.event(EventType.OPEN, _sole_destination(mail), opened.timestamp, details)]
    elif isinstance(notification, ClickEvent):
        click = notification.click
        details = _compact(
            ip_address=click.ip_address,
            user_agent=click.user_agent,
            link=click.link,
            link_tags=dict(click.link_tags) if click.link_tags else None,
        )
        events = [
            context.event(
                EventType.CLICK,
                _sole_destination(mail),
                click.timestamp,
                details,
                extra_key=(click.link or "",),
            )
        ]
    elif isinstance(notification, SubscriptionEvent):
        subscription = notification.subscription
        details = _compact(
            contact_list=subscription.contact_list,
            source=subscription.source,
            **_topic_preferences(subscription.new_topic_preferences),
        )
        events = [
            context.event(EventType.SUBSCRIPTION, _sole_destination(mail), subscription.timestamp, details)
        ]
    else:  # pragma: no cover - the union is exhaustive; mypy checks it
        raise TypeError(f"unhandled notification {type(notification).__name__}")
    return _unique(events)


def normalise_address(address: str) -> str:
    """``"User <User@Example.NET>"``, ``"rfc822; user@example.net"`` -> ``"user@example.net"``."""
    text = address.strip()
    if text[:7].lower() == "rfc822;":
        text = text[7:].strip()
    if "<" in text:
        text = parseaddr(text)[1] or text
    return text.lower()


# ---------------------------------------------------------------------------------------------- internals
# Events that happen at most once per recipient of a message: their key needs nothing beyond the recipient.
# (Using a timestamp would risk two keys for one delivery if the two formats ever stamp it differently.)
_ONCE_PER_RECIPIENT = frozenset(
    {EventType.SEND, EventType.REJECT, EventType.RENDERING_FAILURE, EventType.DELIVERY}
)


class _Context:
    def __init__(self, notification: SesNotification) -> None:
        self.mail: Mail = notification.mail
        self.origin: Literal["event", "notification"] = (
            "notification" if isinstance(notification, _CLASSIC) else "event"
        )
        self.posthorn_message_id = self.mail.tag(POSTHORN_MESSAGE_ID_TAG)

    def event(
        self,
        event_type: EventType,
        recipient: str | None,
        own_timestamp: datetime | None,
        details: dict[str, Any],
        *,
        suppresses: bool = False,
        feedback_id: str | None = None,
        extra_key: tuple[str, ...] = (),
    ) -> RecipientEvent:
        address = normalise_address(recipient) if recipient is not None else None
        timestamp = own_timestamp or self.mail.timestamp
        if event_type in _ONCE_PER_RECIPIENT:
            occurrence: tuple[str, ...] = ()
        elif feedback_id:
            occurrence = ("feedback", feedback_id)
        else:
            occurrence = ("at", _canonical(timestamp), *extra_key)
        return RecipientEvent(
            ses_message_id=self.mail.message_id,
            posthorn_message_id=self.posthorn_message_id,
            type=event_type,
            recipient=address,
            timestamp=timestamp,
            details=details,
            suppresses=suppresses,
            event_key=event_key(self.mail.message_id, event_type, address, occurrence),
            origin=self.origin,
        )


_CLASSIC = (BounceNotification, ComplaintNotification, DeliveryNotification)


def _bounce_events(context: _Context, bounce: Bounce) -> list[RecipientEvent]:
    # Only a Permanent bounce suppresses: SES says Transient may succeed later, and Undetermined means the
    # bounce "didn't contain enough information for Amazon SES to determine the reason".
    permanent = bounce.bounce_type.casefold() == "permanent"
    common = _compact(
        bounce_type=bounce.bounce_type,
        bounce_sub_type=bounce.bounce_sub_type,
        feedback_id=bounce.feedback_id,
        reporting_mta=bounce.reporting_mta,
        remote_mta_ip=bounce.remote_mta_ip,
    )
    return [
        context.event(
            EventType.BOUNCE,
            recipient.email_address,
            bounce.timestamp,
            common
            | _compact(
                action=recipient.action, status=recipient.status, diagnostic_code=recipient.diagnostic_code
            ),
            suppresses=permanent,
            feedback_id=bounce.feedback_id,
        )
        for recipient in bounce.bounced_recipients
    ]


def _complaint_events(context: _Context, complaint: Complaint) -> list[RecipientEvent]:
    details = _compact(
        complaint_feedback_type=complaint.complaint_feedback_type,
        complaint_sub_type=complaint.complaint_sub_type,
        feedback_id=complaint.feedback_id,
        user_agent=complaint.user_agent,
        arrival_date=_iso(complaint.arrival_date),
    )
    return [
        context.event(
            EventType.COMPLAINT,
            recipient.email_address,
            complaint.timestamp,
            details,
            suppresses=True,
            feedback_id=complaint.feedback_id,
        )
        for recipient in complaint.complained_recipients
    ]


def _delivery_events(context: _Context, delivery: Delivery) -> list[RecipientEvent]:
    details = _compact(
        processing_time_millis=delivery.processing_time_millis,
        smtp_response=delivery.smtp_response,
        reporting_mta=delivery.reporting_mta,
        remote_mta_ip=delivery.remote_mta_ip,
    )
    return [
        context.event(EventType.DELIVERY, address, delivery.timestamp, details)
        for address in delivery.recipients
    ]


def _topic_preferences(preferences: TopicPreferences | None) -> dict[str, Any]:
    if preferences is None:
        return {}
    return {
        "unsubscribe_all": preferences.unsubscribe_all,
        "topic_subscription_status": [
            {"topic_name": topic.topic_name, "subscription_status": topic.subscription_status}
            for topic in preferences.topic_subscription_status
        ],
    }


def _sole_destination(mail: Mail) -> str | None:
    addresses = {normalise_address(address) for address in mail.destination}
    return addresses.pop() if len(addresses) == 1 else None


def _unique(events: list[RecipientEvent]) -> list[RecipientEvent]:
    """Drop repeats inside one notification (the same address twice in ``destination``), keeping order."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.event_key not in seen:
            seen.add(event.event_key)
            unique.append(event)
    return unique


def _compact(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _canonical(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
