"""Sending: message records and send claims, rate limits, `Idempotency-Key`, SES's SMTP, the send queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from collections.abc import Iterable

    from posthorn.models.idempotency import IdempotencyRecord, StoredResponse
    from posthorn.models.messages import MessageRecord
    from posthorn.models.raw_message import Base64Body, FileBody, RawMessage
    from posthorn.models.send_queue import DeliveryReceipt, QueuedMessage, QueueItem, SendClaim


class DeliveryRecorder(Protocol):
    """What a delivery writes to a stored message's record: SES's id, or why it failed."""

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None: ...
    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None: ...


class MessageRecorder(DeliveryRecorder, Protocol):
    """Sending and batches: new records, then their outcome."""

    def create_message(self, record: MessageRecord) -> None: ...
    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        """Store many new messages at once; returns the ids that could not be stored."""
        ...

    def discard_message(self, message_id: str) -> None:
        """Remove a record stored for a message that was then not accepted and never queued."""
        ...

    def withdraw(self, message_id: str, reason: str) -> bool:
        """Take back a stored message whose queue write failed (it may have landed all the same): True when
        no send worker ever claimed it, so none ever will; False when one has (it is accepted after all)."""
        ...


class SendClaims(DeliveryRecorder, Protocol):
    """The send worker: the right to run a queued message's SMTP transaction, and what came of it."""

    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        """Take the right to run the SMTP transaction for a queued message, for `lease_seconds`."""
        ...

    def release_claim(self, message_id: str) -> None: ...
    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        """These recipients were suppressed after the message was accepted: they are not sent to."""
        ...


class RateStore(Protocol):
    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        """Atomically, for the timestamp `tat` stored under `key` (absent: 0): start = max(tat, now); when
        `latest_start_us` is None or start <= it, set tat = start + cost and return (True, the new tat);
        otherwise change nothing and return (False, tat)."""
        ...

    def tat(self, key: str) -> int:
        """The timestamp stored under `key` (0 when none), read without moving it."""
        ...


class IdempotencyStore(Protocol):
    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> IdempotencyRecord | None:
        """Claim the key; None when claimed, else the record that holds it."""
        ...

    def complete(self, scope_key: str, response: StoredResponse, *, expires_at: int) -> None: ...

    def release(self, scope_key: str) -> None: ...


class MailTransport(Protocol):
    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt: ...


class SendQueue(Protocol):
    def enqueue(self, messages: list[QueuedMessage]) -> set[str]:
        """Queue messages for the send worker; returns the ids that could not be queued."""
        ...


class WorkQueue(Protocol):
    """The send worker's side of the queue (`logic/sending/queue_drain.py`)."""

    def load(self, item: QueueItem) -> list[Base64Body | FileBody]:
        """The queued MIME as `RawMessage.parts()` gave it: cached attachments still by reference."""
        ...

    def retry_after(self, item: QueueItem, seconds: int) -> None:
        """Make the item visible again after `seconds` (it is reported as failed, so not deleted)."""
        ...

    def finished(self, item: QueueItem) -> None:
        """The message's outcome is recorded; what was kept only for sending it can go."""
        ...

    def defer(self, item: QueueItem, seconds: int) -> None:
        """Queue the item again as a new message after `seconds`: it was not tried, so this delivery must
        not count as an attempt (the item is then acknowledged)."""
        ...

    def body(self, item: QueueItem) -> str:
        """The queue message's body as it came, to be sent again later exactly so (a held message)."""
        ...
