"""SES event publishing, locally: what SES would publish to the events topic about each message the local SES
accepts, delivered to the events function the way SNS → Lambda delivers it.

For every accepted message: a Send event, then the outcome SES's mailbox simulator defines for each recipient
(`success@`, `bounce@`, `ooto@`, `complaint@`, `suppressionlist@simulator.amazonses.com`, labels such as
`bounce+x@` included); every other recipient is delivered. Open and Click events are made on request.
Shapes follow the SES Developer Guide ("Contents of event data that Amazon SES publishes to Amazon SNS").

The Send event is published as the product contract's local stack says (API.md), although the deployed
configuration sets no longer publish it (template.yaml): the events function takes it as it takes one from a
configuration set made by hand, a send the send path recorded already, so nothing is written or announced
twice, which the local stack's tests thereby cover.

Events are delivered by one worker thread after `delay_seconds`, in order. The delay stands for SES's own
latency: the send path records the SES message id after SMTP's 250 reply, and events arriving before that
would race it (they never do against the real SES, which takes seconds).
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from enum import StrEnum
from typing import Any

from posthorn_local.ses_smtp_server import OutboxMessage, new_ses_message_id

logger = logging.getLogger(__name__)

ACCOUNT = "123456789012"
REGION = "us-east-1"
SIMULATOR_DOMAIN = "simulator.amazonses.com"
LOCAL_IP = "127.0.0.1"
REPORTING_MTA = "a8-70.smtp-out.amazonses.com"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) posthorn-local"
SUPPRESSED_DIAGNOSTIC = (
    "Amazon SES did not send the message to this address because it is on the suppression list "
    "for your account."
)

InvokeFunction = Callable[[dict[str, Any]], Any]


class Outcome(StrEnum):
    """What the mailbox simulator does with a recipient; DELIVERED for every ordinary address."""

    DELIVERED = "delivered"
    BOUNCE = "bounce"
    OOTO = "ooto"
    COMPLAINT = "complaint"
    SUPPRESSION_LIST = "suppressionlist"


_SIMULATED = {
    "success": Outcome.DELIVERED,
    "bounce": Outcome.BOUNCE,
    "ooto": Outcome.OOTO,
    "complaint": Outcome.COMPLAINT,
    "suppressionlist": Outcome.SUPPRESSION_LIST,
}


def outcome_of(address: str) -> Outcome:
    local, _, domain = address.rpartition("@")
    if domain.lower() != SIMULATOR_DOMAIN:
        return Outcome.DELIVERED
    return _SIMULATED.get(local.partition("+")[0].lower(), Outcome.DELIVERED)


def ses_timestamp(moment: datetime) -> str:
    """SES's form: `2025-01-15T10:00:02.345Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_message_tags(header: str | None) -> dict[str, list[str]]:
    """`X-SES-MESSAGE-TAGS: name=value, name=value` → `{"name": ["value"]}`."""
    tags: dict[str, list[str]] = {}
    for pair in (header or "").split(","):
        name, equals, value = pair.strip().partition("=")
        if equals and name.strip():
            tags.setdefault(name.strip(), []).append(value.strip())
    return tags


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _addresses(message: Message, name: str) -> list[str]:
    header = message.get(name)
    addresses = getattr(header, "addresses", None)
    return [str(address) for address in addresses] if addresses else []


def mail_object(message: OutboxMessage) -> dict[str, Any]:
    """The `mail` object SES puts in every event about `message`."""
    raw_headers = BytesParser(policy=policy.compat32).parsebytes(message.raw, headersonly=True)
    parsed = BytesParser(policy=policy.default).parsebytes(message.raw, headersonly=True)
    # SES removes its X-SES-* instruction headers before sending, so events do not list them.
    headers = [
        {"name": name, "value": _FOLD.sub("", str(value))}
        for name, value in raw_headers.items()
        if not name.lower().startswith("x-ses-")
    ]
    common: dict[str, Any] = {"messageId": message.ses_message_id}
    for key, name in (("from", "From"), ("to", "To"), ("cc", "Cc"), ("replyTo", "Reply-To")):
        values = _addresses(parsed, name)
        if values:
            common[key] = values
    for key, name in (("date", "Date"), ("subject", "Subject")):
        if parsed.get(name) is not None:
            common[key] = str(parsed[name])

    from_domain = message.mail_from.rpartition("@")[2]
    tags = parse_message_tags(raw_headers.get("X-SES-MESSAGE-TAGS"))
    configuration_set = raw_headers.get("X-SES-CONFIGURATION-SET")
    if configuration_set:
        tags["ses:configuration-set"] = [str(configuration_set).strip()]
    tags.update(
        {
            "ses:operation": ["SendSmtpEmail"],
            "ses:source-ip": [LOCAL_IP],
            "ses:from-domain": [from_domain],
            "ses:caller-identity": ["posthorn-local"],
        }
    )
    return {
        "timestamp": ses_timestamp(message.received_at),
        "source": message.mail_from,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{from_domain}",
        "sendingAccountId": ACCOUNT,
        "messageId": message.ses_message_id,
        "destination": list(message.rcpt_to),
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": common,
        "tags": tags,
    }


def outcome_events(message: OutboxMessage, now: datetime | None = None) -> list[dict[str, Any]]:
    """Send, then one event per simulator outcome covering its recipients, in the order SES reports them."""
    now = now or datetime.now(UTC)
    mail = mail_object(message)
    by_outcome: dict[Outcome, list[str]] = {}
    for address in message.rcpt_to:
        by_outcome.setdefault(outcome_of(address), []).append(address)
    delivered = [
        address
        for address in message.rcpt_to
        if outcome_of(address) in (Outcome.DELIVERED, Outcome.OOTO, Outcome.COMPLAINT)
    ]
    timestamp = ses_timestamp(now)

    events: list[dict[str, Any]] = [{"eventType": "Send", "mail": mail, "send": {}}]
    if delivered:
        processing = max(0, int((now - message.received_at).total_seconds() * 1000))
        events.append(
            {
                "eventType": "Delivery",
                "mail": mail,
                "delivery": {
                    "timestamp": timestamp,
                    "processingTimeMillis": processing,
                    "recipients": delivered,
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": REPORTING_MTA,
                },
            }
        )
    if Outcome.BOUNCE in by_outcome:
        events.append(
            _bounce(mail, by_outcome[Outcome.BOUNCE], "General", "smtp; 550 5.1.1 user unknown", timestamp)
        )
    if Outcome.SUPPRESSION_LIST in by_outcome:
        events.append(
            _bounce(
                mail,
                by_outcome[Outcome.SUPPRESSION_LIST],
                "OnAccountSuppressionList",
                SUPPRESSED_DIAGNOSTIC,
                timestamp,
            )
        )
    if Outcome.COMPLAINT in by_outcome:
        events.append(
            {
                "eventType": "Complaint",
                "mail": mail,
                "complaint": {
                    "complainedRecipients": [{"emailAddress": a} for a in by_outcome[Outcome.COMPLAINT]],
                    "timestamp": timestamp,
                    "feedbackId": new_ses_message_id(),
                    "userAgent": "Amazon SES Mailbox Simulator",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": timestamp,
                },
            }
        )
    return events


def _bounce(
    mail: dict[str, Any], recipients: list[str], sub_type: str, diagnostic: str, timestamp: str
) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": sub_type,
            "bouncedRecipients": [
                {"emailAddress": address, "action": "failed", "status": "5.1.1", "diagnosticCode": diagnostic}
                for address in recipients
            ],
            "timestamp": timestamp,
            "feedbackId": new_ses_message_id(),
            "reportingMTA": "dns; amazonses.com",
        },
    }


def open_event(message: OutboxMessage, now: datetime | None = None) -> dict[str, Any]:
    timestamp = ses_timestamp(now or datetime.now(UTC))
    return {
        "eventType": "Open",
        "mail": mail_object(message),
        "open": {"ipAddress": LOCAL_IP, "timestamp": timestamp, "userAgent": USER_AGENT},
    }


def click_event(message: OutboxMessage, link: str, now: datetime | None = None) -> dict[str, Any]:
    timestamp = ses_timestamp(now or datetime.now(UTC))
    return {
        "eventType": "Click",
        "mail": mail_object(message),
        "click": {
            "ipAddress": LOCAL_IP,
            "link": link,
            "linkTags": {},
            "timestamp": timestamp,
            "userAgent": USER_AGENT,
        },
    }


def sns_event(topic_arn: str, ses_events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The Lambda event SNS delivers: one record per SES event published to `topic_arn`."""
    subscription = f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, topic_arn)}"
    records = [
        {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription,
            "Sns": {
                "Type": "Notification",
                "MessageId": str(uuid.uuid4()),
                "TopicArn": topic_arn,
                "Subject": None,
                "Message": json.dumps(event, separators=(",", ":")),
                "Timestamp": ses_timestamp(datetime.now(UTC)),
                "SignatureVersion": "1",
                "Signature": "bG9jYWwtc3RhY2stdW5zaWduZWQ=",
                "SigningCertUrl": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-local.pem",
                "UnsubscribeUrl": (
                    f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}"
                ),
                "MessageAttributes": {},
            },
        }
        for event in ses_events
    ]
    return {"Records": records}


@dataclass(frozen=True)
class Published:
    """One SES event handed to the events function, and how that went."""

    at: datetime
    event_type: str
    ses_message_id: str
    recipients: tuple[str, ...]
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "event_type": self.event_type,
            "ses_message_id": self.ses_message_id,
            "recipients": list(self.recipients),
            "ok": self.ok,
            "error": self.error,
        }


def _recipients_of(event: dict[str, Any]) -> tuple[str, ...]:
    if "delivery" in event:
        return tuple(event["delivery"]["recipients"])
    if "bounce" in event:
        return tuple(r["emailAddress"] for r in event["bounce"]["bouncedRecipients"])
    if "complaint" in event:
        return tuple(r["emailAddress"] for r in event["complaint"]["complainedRecipients"])
    return tuple(event["mail"]["destination"])


_STOP = object()


class EventsPublisher:
    """Publishes SES events for outbox messages to the events function (`invoke`), one SNS record each.

    `on_message` is LocalSes's callback; `publish` delivers at once and returns what the function returned
    (raising what it raised). `published()` is a bounded log, newest first.
    """

    def __init__(
        self, topic_arn: str, invoke: InvokeFunction, *, delay_seconds: float = 0.5, keep: int = 500
    ) -> None:
        self.topic_arn = topic_arn
        self._invoke = invoke
        self.delay_seconds = delay_seconds
        self._log: deque[Published] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None:
            self._stopping.clear()
            self._worker = threading.Thread(target=self._run, name="local-ses-events", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        """Deliver what is still queued (without waiting out the delay), then stop the worker."""
        worker, self._worker = self._worker, None
        if worker is not None:
            self._stopping.set()
            self._queue.put(_STOP)
            worker.join()

    def __enter__(self) -> EventsPublisher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- publishing -----------------------------------------------------------------------------
    def on_message(self, message: OutboxMessage) -> None:
        """Queue the Send event and the simulator's outcome events for an accepted message."""
        due = time.monotonic() + self.delay_seconds
        for event in outcome_events(message):
            self._queue.put((due, event))

    def publish(self, event: dict[str, Any]) -> Any:
        """Deliver one SES event now; log it; return the function's answer or raise its error."""
        try:
            result = self._invoke(sns_event(self.topic_arn, [event]))
        except Exception as error:
            self._record(event, error=f"{type(error).__name__}: {error}")
            raise
        self._record(event)
        return result

    def published(self) -> list[Published]:
        with self._lock:
            return list(reversed(self._log))

    def _record(self, event: dict[str, Any], error: str | None = None) -> None:
        entry = Published(
            at=datetime.now(UTC),
            event_type=str(event.get("eventType")),
            ses_message_id=str(event["mail"]["messageId"]),
            recipients=_recipients_of(event),
            ok=error is None,
            error=error,
        )
        with self._lock:
            self._log.append(entry)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            due, event = item
            self._stopping.wait(max(0.0, due - time.monotonic()))
            self._deliver(event)
        while True:  # stopping: deliver the rest now
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._deliver(item[1])

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            self.publish(event)
        except ImportError as error:
            logger.warning(
                "SES %s event not delivered: the events function is missing (%s)", event["eventType"], error
            )
        except Exception:
            logger.exception("the events function failed on an SES %s event", event["eventType"])
