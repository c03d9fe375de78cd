"""Builders for SES messages (both formats) wrapped in the Lambda SNS event, and the events/sns_*.json files.

The JSON files are generated, not hand-edited: ``python -m tests.support.ses_fixtures`` rewrites them, and
a unit test fails when the committed files drift from what this module builds. Shapes follow the examples in
the SES Developer Guide; every file is a valid ``sam local invoke -e`` event.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

SES_MESSAGE_ID = "010001234567890a-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000"
POSTHORN_MESSAGE_ID = "msg_01JTESTFIXTURE0000000000"
SOURCE = "hello@example.com"
RECIPIENT = "user@example.net"
BOUNCE_FEEDBACK_ID = "010001234567890b-11111111-2222-3333-4444-555555555555-000000"
TRANSIENT_BOUNCE_FEEDBACK_ID = "010001234567890b-66666666-7777-8888-9999-000000000000-000000"
COMPLAINT_FEEDBACK_ID = "010001234567890c-aaaaaaaa-1111-2222-3333-444444444444-000000"

MAIL_TIMESTAMP = "2025-01-15T10:00:00.000Z"
DELIVERY_TIMESTAMP = "2025-01-15T10:00:02.345Z"

REGION = "us-east-1"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:posthorn-ses-events"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


# ------------------------------------------------------------------------------------------------ mail
def mail(
    *,
    recipients: list[str] | None = None,
    tags: bool = True,
    message_id: str = SES_MESSAGE_ID,
    headers: bool = True,
) -> dict[str, Any]:
    """A ``mail`` object; ``tags=False`` gives the classic-notification form (no tags)."""
    recipients = recipients if recipients is not None else [RECIPIENT]
    value: dict[str, Any] = {
        "timestamp": MAIL_TIMESTAMP,
        "source": SOURCE,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com",
        "sendingAccountId": ACCOUNT,
        "messageId": message_id,
        "destination": list(recipients),
    }
    if headers:
        value["headersTruncated"] = False
        value["headers"] = [
            {"name": "From", "value": f"Your App <{SOURCE}>"},
            {"name": "To", "value": ", ".join(recipients)},
            {"name": "Subject", "value": "Welcome, John!"},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "Content-Type", "value": 'multipart/alternative; boundary="posthorn-boundary"'},
        ]
        value["commonHeaders"] = {
            "from": [f"Your App <{SOURCE}>"],
            "to": list(recipients),
            "messageId": message_id,
            "subject": "Welcome, John!",
        }
    if tags:
        value["tags"] = {
            "ses:configuration-set": ["posthorn-tracking"],
            "ses:source-ip": ["192.0.2.10"],
            "ses:from-domain": ["example.com"],
            "ses:caller-identity": ["posthorn-send"],
            "posthorn_message_id": [POSTHORN_MESSAGE_ID],
        }
    return value


# ------------------------------------------------------------------------------- event publishing records
def send_event(**mail_options: Any) -> dict[str, Any]:
    return {"eventType": "Send", "mail": mail(**mail_options), "send": {}}


def delivery_event(
    recipients: list[str] | None = None, timestamp: str = DELIVERY_TIMESTAMP, **mail_options: Any
) -> dict[str, Any]:
    recipients = recipients or [RECIPIENT]
    return {
        "eventType": "Delivery",
        "mail": mail(recipients=recipients, **mail_options),
        "delivery": _delivery(recipients, timestamp),
    }


def bounce_event(
    *,
    bounce_type: str = "Permanent",
    sub_type: str = "General",
    recipients: list[str] | None = None,
    feedback_id: str = BOUNCE_FEEDBACK_ID,
    timestamp: str = "2025-01-15T10:00:03.100Z",
) -> dict[str, Any]:
    recipients = recipients or [RECIPIENT]
    return {
        "eventType": "Bounce",
        "bounce": _bounce(bounce_type, sub_type, recipients, feedback_id, timestamp),
        "mail": mail(recipients=recipients),
    }


def complaint_event(
    recipients: list[str] | None = None, feedback_id: str = COMPLAINT_FEEDBACK_ID
) -> dict[str, Any]:
    recipients = recipients or [RECIPIENT]
    return {
        "eventType": "Complaint",
        "complaint": _complaint(recipients, feedback_id),
        "mail": mail(recipients=recipients),
    }


def reject_event(**mail_options: Any) -> dict[str, Any]:
    return {"eventType": "Reject", "mail": mail(**mail_options), "reject": {"reason": "Bad content"}}


def open_event(timestamp: str = "2025-01-15T10:05:00.123Z", **mail_options: Any) -> dict[str, Any]:
    return {
        "eventType": "Open",
        "mail": mail(**mail_options),
        "open": {
            "ipAddress": "198.51.100.7",
            "timestamp": timestamp,
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
        },
    }


def click_event(
    timestamp: str = "2025-01-15T10:06:30.456Z",
    link: str = "https://example.com/welcome?step=1",
    **mail_options: Any,
) -> dict[str, Any]:
    return {
        "eventType": "Click",
        "click": {
            "ipAddress": "198.51.100.7",
            "link": link,
            "linkTags": {"campaign": ["welcome"]},
            "timestamp": timestamp,
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0",
        },
        "mail": mail(**mail_options),
    }


def rendering_failure_event(**mail_options: Any) -> dict[str, Any]:
    return {
        "eventType": "Rendering Failure",
        "mail": mail(headers=False, **mail_options),
        "failure": {
            "errorMessage": "Attribute 'first_name' is not present in the rendering data.",
            "templateName": "welcome",
        },
    }


def delivery_delay_event(timestamp: str = "2025-01-15T10:10:00.000Z", **mail_options: Any) -> dict[str, Any]:
    return {
        "eventType": "DeliveryDelay",
        "mail": mail(headers=False, **mail_options),
        "deliveryDelay": {
            "timestamp": timestamp,
            "delayType": "TransientCommunicationFailure",
            "expirationTime": "2025-01-16T10:00:00.000Z",
            "delayedRecipients": [
                {
                    "emailAddress": RECIPIENT,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
            ],
        },
    }


def subscription_event(**mail_options: Any) -> dict[str, Any]:
    return {
        "eventType": "Subscription",
        "mail": mail(**mail_options),
        "subscription": {
            "contactList": "posthorn-newsletter",
            "timestamp": "2025-01-15T12:30:00.000Z",
            "source": "UnsubscribeHeader",
            "newTopicPreferences": {
                "unsubscribeAll": True,
                "topicSubscriptionStatus": [{"topicName": "product-updates", "subscriptionStatus": "OptOut"}],
            },
            "oldTopicPreferences": {
                "unsubscribeAll": False,
                "topicSubscriptionStatus": [{"topicName": "product-updates", "subscriptionStatus": "OptIn"}],
            },
        },
    }


def unknown_type_event() -> dict[str, Any]:
    return {"eventType": "FutureEventType", "mail": mail(), "futureEventType": {"timestamp": MAIL_TIMESTAMP}}


# ---------------------------------------------------------------------------------- classic notifications
def bounce_notification(recipients: list[str] | None = None) -> dict[str, Any]:
    recipients = recipients or [RECIPIENT]
    bounce = _bounce("Permanent", "General", recipients, BOUNCE_FEEDBACK_ID, "2025-01-15T10:00:03.100Z")
    bounce["remoteMtaIp"] = "203.0.113.25"
    return {"notificationType": "Bounce", "bounce": bounce, "mail": mail(recipients=recipients, tags=False)}


def complaint_notification(recipients: list[str] | None = None) -> dict[str, Any]:
    recipients = recipients or [RECIPIENT]
    return {
        "notificationType": "Complaint",
        "complaint": _complaint(recipients, COMPLAINT_FEEDBACK_ID),
        "mail": mail(recipients=recipients, tags=False),
    }


def delivery_notification(recipients: list[str] | None = None) -> dict[str, Any]:
    recipients = recipients or [RECIPIENT]
    delivery = _delivery(recipients, DELIVERY_TIMESTAMP)
    delivery["remoteMtaIp"] = "203.0.113.25"
    return {
        "notificationType": "Delivery",
        "mail": mail(recipients=recipients, tags=False),
        "delivery": delivery,
    }


def _bounce(
    bounce_type: str, sub_type: str, recipients: list[str], feedback_id: str, timestamp: str
) -> dict[str, Any]:
    if bounce_type == "Permanent":
        action, status, diagnostic = "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"
    else:
        action, status, diagnostic = "failed", "4.2.2", "smtp; 452 4.2.2 mailbox full"
    return {
        "bounceType": bounce_type,
        "bounceSubType": sub_type,
        "bouncedRecipients": [
            {"emailAddress": address, "action": action, "status": status, "diagnosticCode": diagnostic}
            for address in recipients
        ],
        "timestamp": timestamp,
        "feedbackId": feedback_id,
        "reportingMTA": "dsn; mx.example.net",
    }


def _complaint(recipients: list[str], feedback_id: str) -> dict[str, Any]:
    return {
        "complainedRecipients": [{"emailAddress": address} for address in recipients],
        "timestamp": "2025-01-15T12:00:00.000Z",
        "feedbackId": feedback_id,
        "userAgent": "ExampleCorp Feedback Loop (V0.01)",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2025-01-15T11:59:58.000Z",
    }


def _delivery(recipients: list[str], timestamp: str) -> dict[str, Any]:
    return {
        "timestamp": timestamp,
        "processingTimeMillis": 2345,
        "recipients": list(recipients),
        "smtpResponse": "250 2.0.0 OK  1736935202 a1b2c3d4e5f6.123 - gsmtp",
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
    }


# -------------------------------------------------------------------------------------- SNS / Lambda shape
def sns_record(
    message: dict[str, Any] | str, *, name: str, timestamp: str = "2025-01-15T10:00:05.000Z"
) -> dict[str, Any]:
    """One Lambda SNS record carrying ``message`` (a dict is JSON-encoded, a str is sent as is)."""
    body = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": SUBSCRIPTION_ARN,
        "Sns": {
            "Type": "Notification",
            "MessageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"posthorn-fixture:{name}")),
            "TopicArn": TOPIC_ARN,
            "Subject": None,
            "Message": body,
            "Timestamp": timestamp,
            "SignatureVersion": "1",
            "Signature": "RVhBTVBMRS1TSUdOQVRVUkUtTk9ULVZFUklGSUFCTEU=",
            "SigningCertUrl": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000.pem",
            "UnsubscribeUrl": (
                f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION_ARN}"
            ),
            "MessageAttributes": {},
        },
    }


def lambda_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def _single(name: str, message: dict[str, Any] | str) -> dict[str, Any]:
    return lambda_event(sns_record(message, name=name))


def fixtures() -> dict[str, dict[str, Any]]:
    """File name (without ``.json``) -> Lambda SNS event."""
    return {
        "sns_event_send": _single("send", send_event()),
        "sns_event_delivery": _single("delivery", delivery_event()),
        "sns_event_bounce_permanent": _single("bounce_permanent", bounce_event()),
        "sns_event_bounce_transient": _single(
            "bounce_transient",
            bounce_event(
                bounce_type="Transient",
                sub_type="MailboxFull",
                feedback_id=TRANSIENT_BOUNCE_FEEDBACK_ID,
                timestamp="2025-01-15T10:45:00.000Z",
            ),
        ),
        "sns_event_complaint": _single("complaint", complaint_event()),
        "sns_event_reject": _single("reject", reject_event()),
        "sns_event_open": _single("open", open_event()),
        "sns_event_click": _single("click", click_event()),
        "sns_event_rendering_failure": _single("rendering_failure", rendering_failure_event()),
        "sns_event_delivery_delay": _single("delivery_delay", delivery_delay_event()),
        "sns_event_subscription": _single("subscription", subscription_event()),
        "sns_notification_bounce": _single("notification_bounce", bounce_notification()),
        "sns_notification_complaint": _single("notification_complaint", complaint_notification()),
        "sns_notification_delivery": _single("notification_delivery", delivery_notification()),
        "sns_event_unknown_type": _single("unknown_type", unknown_type_event()),
        "sns_malformed": _single("malformed", '{"eventType": "Delivery", "mail": {"messageId": '),
        "sns_batch_mixed": lambda_event(
            sns_record(send_event(), name="batch_send", timestamp="2025-01-15T10:00:00.500Z"),
            sns_record(delivery_event(), name="batch_delivery", timestamp="2025-01-15T10:00:03.000Z"),
            sns_record(delivery_notification(), name="batch_notification_delivery"),
            sns_record(open_event(), name="batch_open", timestamp="2025-01-15T10:05:01.000Z"),
            sns_record(click_event(), name="batch_click", timestamp="2025-01-15T10:06:31.000Z"),
            sns_record(unknown_type_event(), name="batch_unknown"),
        ),
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def main(directory: Path = EVENTS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, event in fixtures().items():
        path = directory / f"{name}.json"
        path.write_text(render(copy.deepcopy(event)), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(EVENTS_DIR.parent))
