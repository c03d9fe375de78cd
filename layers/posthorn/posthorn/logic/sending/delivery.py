"""Delivering one stored, prepared message: the SMTP transaction and its outcome on the record. Used by a
single send (`logic/sending/steps.py`, which also prepares the message) and by the send worker
(`logic/sending/queue_drain.py`, which gets the MIME from the queue and so never imports the MIME builder, and
records SES's id while its next transaction runs: `transmit`, then `Transmitted.record`)."""

from __future__ import annotations

from typing import NamedTuple

from posthorn.errors import DeliveryRejected, UpstreamRejected
from posthorn.models.messages import MessageRecord, RecipientResult, SendResult
from posthorn.models.raw_message import RawMessage
from posthorn.ports import DeliveryRecorder, MailTransport


class PreparedMessage(NamedTuple):
    """A message ready for SES: its record (recipients `queued` or `suppressed`) and its MIME."""

    record: MessageRecord
    raw: RawMessage

    @property
    def message_id(self) -> str:
        return self.record.message_id

    @property
    def deliverable(self) -> list[str]:
        """The recipients still to hand to SES."""
        return [state.email for state in self.record.recipients if state.status == "queued"]

    def result(self, status: str, statuses: dict[str, str] | None = None) -> SendResult:
        statuses = statuses or {}
        recipients = [
            RecipientResult(
                email=state.email, type=state.type, status=statuses.get(state.email, state.status)
            )
            for state in self.record.recipients
        ]
        counted = "sent" if statuses else "queued"
        return SendResult(
            message_id=self.message_id,
            status=status,
            count=sum(1 for recipient in recipients if recipient.status == counted),
            recipients=recipients,
        )


class Transmitted(NamedTuple):
    """SES accepted the message (250): what its record is still to say. Until `record` has run, a later
    copy of the message would not know SES has it."""

    prepared: PreparedMessage
    ses_message_id: str
    statuses: dict[str, str]
    # An earlier attempt lost its connection after the final ".": SES may hold the message twice (counted).
    after_ambiguous_drop: bool = False

    def record(self, messages: DeliveryRecorder) -> SendResult:
        messages.mark_sent(self.prepared.message_id, self.ses_message_id, self.statuses)
        return self.prepared.result("sent", self.statuses)


def transmit(
    prepared: PreparedMessage, transport: MailTransport, messages: DeliveryRecorder, *, deadline: float
) -> Transmitted:
    """The SMTP transaction for a stored message, without recording SES's id: the send worker writes it while
    its next transaction runs.

    Raises `UpstreamRejected` when SES refuses the message (recorded `failed`), and lets
    `DeliveryUnavailable` through with the record untouched: the caller queues, retries or gives up."""
    deliverable = prepared.deliverable
    try:
        receipt = transport.send(prepared.record.from_email, deliverable, prepared.raw, deadline=deadline)
    except DeliveryRejected as rejected:
        messages.mark_failed(prepared.message_id, f"SES refused the message: {rejected}", deliverable)
        raise UpstreamRejected(f"SES refused the message: {rejected}") from None
    statuses = {email: ("rejected" if email in receipt.refused else "sent") for email in deliverable}
    return Transmitted(prepared, receipt.ses_message_id, statuses, receipt.after_ambiguous_drop)


# Writing SES's id after SES said 250 is tried this often (each attempt with the SDK's own retries).
RECORD_ATTEMPTS = 2


def deliver(
    prepared: PreparedMessage, transport: MailTransport, messages: DeliveryRecorder, *, deadline: float
) -> SendResult:
    """`transmit`, then SES's id recorded before returning. Once SES said 250 the message is sent, whatever
    the store answers: a write that keeps failing leaves the record without SES's id, never the client
    with an error (an error would release its Idempotency-Key, and its retry would send the message again)."""
    transmitted = transmit(prepared, transport, messages, deadline=deadline)
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return transmitted.record(messages)
        except Exception:  # the store failing for a moment; SES has the message either way
            if attempt == RECORD_ATTEMPTS - 1:
                break
    return prepared.result("sent", transmitted.statuses)
