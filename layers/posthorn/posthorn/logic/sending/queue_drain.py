"""Draining the send queue, the send worker's use case: deliver queued messages at the SES rate, exactly
once where SMTP allows.

For each queue message (at-least-once, so possibly a second copy):
1. Claim the stored message (`claim_for_sending`, a conditional write; the batch's claims are made side by
   side). A message whose SES id is recorded is `done` and acknowledged without sending; one claimed by
   another worker is retried after the claim.
2. Wait for a send slot: slots are taken from one schedule at `SES_MAX_SEND_RATE` shared by every worker.
3. The SMTP transaction over the pooled transport (`transmit`). SES's id is written to the record on
   another thread while the next transaction runs, and the queue message is acknowledged only once that
   write has succeeded, so a later copy finds it (step 1) and sends nothing. If the write fails, the queue
   message is reported failed and comes back.
4. A permanent refusal (5xx) marks the message `failed` with SES's reply. A transient failure (421, 451,
   454, a dropped connection, a timeout) releases the claim and makes the queue message visible again
   after a backoff. On the last receive SQS allows (`send_max_receives`, the queue's maxReceiveCount) the
   record is marked `failed` with the last reply first, and then the queue moves the message to the
   dead-letter queue: the record never stays `queued`.
5. Recipients suppressed since the message was accepted (a bounce or complaint while it waited) are marked
   `suppressed` and not sent to; a message left with no one to send to is not sent at all.
6. Cached attachments come by reference (`RawMessage.assemble`, `AttachmentBodies`): each file is read
   once per process however many messages attach it. One deleted or expired while the message waited
   fails the message at once, with the reason on its record.

7. A message of a domain the deliverability guard paused is held, neither sent nor failed: parked with its
   queue body (`HeldMessages`, see `adapters/dynamodb/held.py` for why not in the queue), its claim
   released and its queue message acknowledged, so no receive counts toward the dead-letter queue. A resume
   sends it back to the queue (`logic/guard/held.py`).

8. A message is queued only once its record is stored (`logic/sending/acceptance.py`), and one whose queue
write
   failed is withdrawn: the claim's condition and the withdrawal's exclude each other, so a message its
   client was refused is never sent, and one a worker claimed first is accepted after all.

The ambiguous window: if the connection drops after the final "." and before SES's reply, or the worker
dies (or the write fails) after SES's 250 and before the SES id is written, SES may have the message and
the record does not say so. The claim runs out and a retry sends it again: a rare duplicate, never a loss
(at-least-once).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime

from posthorn.errors import (
    DeliveryUnavailable,
    FileUnavailable,
    QueuedBodyMissing,
    StorageUnavailable,
    UpstreamRejected,
)
from posthorn.logic.guard.held import release_held
from posthorn.logic.sending.delivery import PreparedMessage, Transmitted, transmit
from posthorn.logic.ttl_cache import TtlCache
from posthorn.models.messages import MessageRecord, SendResult
from posthorn.models.raw_message import RawMessage
from posthorn.models.send_queue import QueueItem
from posthorn.ports import (
    AttachmentBodies,
    HeldMessages,
    MailTransport,
    QueueBodies,
    SendClaims,
    SenderDomains,
    SuppressionLookup,
    WorkQueue,
)

# Kept free at the end of an invocation, so the worker never dies mid-transaction at Lambda's timeout.
SAFETY_MARGIN_SECONDS = 3.0
# How long the worker trusts what it read of a domain's sending state (the deliverability guard).
PAUSE_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class DrainContext:
    messages: SendClaims
    suppressions: SuppressionLookup
    transport: MailTransport
    queue: WorkQueue
    attachments: AttachmentBodies
    reserve_slots: Callable[[int], list[float]]  # the next n send times, epoch seconds
    wall_clock: Callable[[], float]
    monotonic: Callable[[], float]
    sleep: Callable[[float], None]
    time_left: Callable[[], float]  # seconds until the invocation must have returned
    # Threads for the store's round trips: a batch's claims side by side, SES's ids written during the next
    # transaction. As many as a batch has messages; kept across invocations (starting them costs).
    store_calls: Executor
    max_receives: int
    send_budget_seconds: float
    retry_base_seconds: float
    retry_cap_seconds: float
    # The deliverability guard: whose domains are paused, where their messages wait, and the queue that
    # takes them back (None: nothing is ever held).
    pauses: SendingPauses | None = None
    held: HeldMessages | None = None
    requeue: QueueBodies | None = None


@dataclass
class DrainReport:
    failed_items: list[str] = field(default_factory=list)  # to report to SQS (batchItemFailures)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # for the log: what went wrong where no outcome says it
    held_domains: set[str] = field(default_factory=set)  # paused domains whose messages this drain held


def backoff_seconds(receive_count: int, base: float, cap: float) -> int:
    """Capped exponential backoff with jitter before the next attempt (the attempt that just failed
    was `receive_count`)."""
    delay = min(cap, base * 2 ** max(0, receive_count - 1))
    return math.ceil(delay * random.uniform(0.5, 1.0))


def drain(items: list[QueueItem], context: DrainContext) -> DrainReport:
    report = DrainReport()
    pauses = context.pauses if context.held is not None else None
    claimed = _hold_paused(_claim(_first_copies(items, report), context, report), context, report, pauses)
    recording: list[tuple[QueueItem, Future[SendResult]]] = []
    try:
        _send_claimed(claimed, context, report, recording, pauses)
    finally:  # no write is left running when the invocation ends, even a failed one
        futures.wait([written for _, written in recording])
    _release_if_resumed(context, report, pauses)
    for item, written in recording:
        _acknowledge(item, written, context, report)
    return report


def _first_copies(items: list[QueueItem], report: DrainReport) -> list[tuple[QueueItem, str]]:
    """The items to claim, with their message ids: unreadable items and second copies are settled here."""
    first: list[tuple[QueueItem, str]] = []
    seen: set[str] = set()
    for item in items:
        if item.message_id is None:
            report.outcomes["unreadable"] += 1  # left to the queue: the dead-letter queue keeps it
            report.failed_items.append(item.id)
        elif item.message_id in seen:  # two copies in one batch: the first one stands for both
            report.outcomes["already_done"] += 1
        else:
            seen.add(item.message_id)
            first.append((item, item.message_id))
    return first


def _claim(
    items: list[tuple[QueueItem, str]], context: DrainContext, report: DrainReport
) -> list[tuple[QueueItem, MessageRecord]]:
    """Claim every item at once (each claim is a round trip to the store); those this worker is to send,
    with their records."""
    lease = context.send_budget_seconds + 60
    claims = context.store_calls.map(
        lambda message_id: context.messages.claim_for_sending(
            message_id, now=context.wall_clock(), lease_seconds=lease
        ),
        [message_id for _, message_id in items],
    )
    claimed: list[tuple[QueueItem, MessageRecord]] = []
    for (item, _), claim in zip(items, claims, strict=True):
        if claim.state == "done" or (
            claim.record is not None and not any(r.status == "queued" for r in claim.record.recipients)
        ):
            report.outcomes["already_done"] += 1
            context.queue.finished(item)
        elif claim.state == "busy":
            report.outcomes["busy"] += 1
            context.queue.defer(item, math.ceil(claim.busy_for) + 1)
        elif claim.state == "missing":
            # Never stored: nothing to send; the dead-letter queue keeps it.
            report.outcomes["missing"] += 1
            report.failed_items.append(item.id)
        else:
            assert claim.record is not None
            claimed.append((item, claim.record))
    return claimed


class SendingPauses:
    """Whether a domain is paused, read at most every `PAUSE_CHECK_SECONDS` per domain and kept for the warm
    process (`wiring.sending_pauses`): a busy worker reads a domain's state once every 2 s, not once per
    batch; and again before a send when its batch has taken that long (a slow pace spreads a batch of 10 over
    seconds, and a pause in between must stop the rest)."""

    def __init__(self, domains: SenderDomains, monotonic: Callable[[], float]) -> None:
        self._domains = domains
        self._known: TtlCache[str, bool] = TtlCache(PAUSE_CHECK_SECONDS, monotonic)

    def paused(self, domain: str) -> bool:
        return self._known.get(domain, lambda: self._is_paused(domain))

    def _is_paused(self, domain: str) -> bool:
        record = self._domains.get_domain(domain)
        return record is not None and record.paused

    def forget(self, domain: str) -> None:
        self._known.forget([domain])


def _hold(item: QueueItem, record: MessageRecord, context: DrainContext, report: DrainReport) -> None:
    """Park the message with its queue body; its claim let go, its queue message acknowledged."""
    assert context.held is not None
    at = datetime.fromtimestamp(context.wall_clock(), UTC)
    body = context.queue.body(item)
    context.held.hold(record.domain, record.message_id, body, at=at, created_at=record.created_at)
    context.messages.release_claim(record.message_id)
    report.outcomes["held"] += 1
    report.held_domains.add(record.domain)


def _hold_paused(
    claimed: list[tuple[QueueItem, MessageRecord]],
    context: DrainContext,
    report: DrainReport,
    pauses: SendingPauses | None,
) -> list[tuple[QueueItem, MessageRecord]]:
    """Park the messages of paused domains (one domain read per domain of the batch); the rest to send."""
    if pauses is None:
        return claimed
    to_send = []
    for item, record in claimed:
        if pauses.paused(record.domain):
            _hold(item, record, context, report)
        else:
            to_send.append((item, record))
    return to_send


def _release_if_resumed(context: DrainContext, report: DrainReport, pauses: SendingPauses | None) -> None:
    """Resumed while these were parked: release them now, not at the next resume."""
    if pauses is None or context.held is None or context.requeue is None:
        return
    for domain in sorted(report.held_domains):
        pauses.forget(domain)
        if not pauses.paused(domain):
            release_held(domain, context.held, context.requeue, time_left=lambda: context.time_left() - 10)


def _send_claimed(
    claimed: list[tuple[QueueItem, MessageRecord]],
    context: DrainContext,
    report: DrainReport,
    recording: list[tuple[QueueItem, Future[SendResult]]],
    pauses: SendingPauses | None = None,
) -> None:
    """Send each claimed message in its slot. Those SES accepted go to `recording` with their record writes,
    which run while the next transaction does; their outcome waits for `_acknowledge`."""
    # Suppressions since the messages were accepted (a bounce or complaint while they waited), looked up
    # while the send slots are taken; a message left with no one to send to does not use its slot.
    looked_up = context.store_calls.submit(_suppressed_since_accepted, claimed, context.suppressions)
    slots = context.reserve_slots(len(claimed))
    suppressed = looked_up.result()
    for (item, record), slot in zip(claimed, slots, strict=True):
        if record.message_id in suppressed:
            remaining = _suppress(item, record, suppressed[record.message_id], context, report)
            if remaining is None:
                continue
            record = remaining
        wait = max(0.0, slot - context.wall_clock())
        if wait + context.send_budget_seconds > context.time_left() - SAFETY_MARGIN_SECONDS:
            # Out of time for this invocation: hand it back untried (its slot goes unused).
            context.messages.release_claim(record.message_id)
            context.queue.defer(item, math.ceil(wait))
            report.outcomes["deferred"] += 1
            continue
        if wait > 0:  # even sleep(0) gives up the CPU
            context.sleep(wait)
        if pauses is not None and pauses.paused(record.domain):  # paused while the batch waited its slots
            _hold(item, record, context, report)
            continue
        outcome = _send(item, record, context)
        if isinstance(outcome, Transmitted):
            if outcome.after_ambiguous_drop:  # SES may hold it twice: allowed (docs/api.md, "Guarantees")
                report.outcomes["ambiguous_resend"] += 1
            recording.append((item, context.store_calls.submit(outcome.record, context.messages)))
            continue
        report.outcomes[outcome] += 1
        if outcome not in ("rejected", "attachment_gone"):
            report.failed_items.append(item.id)


def _suppressed_since_accepted(
    claimed: list[tuple[QueueItem, MessageRecord]], suppressions: SuppressionLookup
) -> dict[str, set[str]]:
    """Per message, the recipients still to send to that are suppressed now: one lookup per sending domain."""
    by_domain: dict[str, list[MessageRecord]] = {}
    for _, record in claimed:
        by_domain.setdefault(record.domain, []).append(record)
    found: dict[str, set[str]] = {}
    for domain, records in by_domain.items():
        emails = {
            state.email for record in records for state in record.recipients if state.status == "queued"
        }
        found_now = suppressions.suppressed_addresses(domain, sorted(emails))
        now_suppressed = {email.lower() for email in found_now}
        for record in records:
            hit = {
                state.email
                for state in record.recipients
                if state.status == "queued" and state.email.lower() in now_suppressed
            }
            if hit:
                found[record.message_id] = hit
    return found


def _suppress(
    item: QueueItem, record: MessageRecord, emails: set[str], context: DrainContext, report: DrainReport
) -> MessageRecord | None:
    """Record the newly suppressed recipients; the record left to send, or None when no one is left."""
    context.messages.mark_suppressed(record.message_id, emails)
    recipients = [
        state.model_copy(update={"status": "suppressed"}) if state.email in emails else state
        for state in record.recipients
    ]
    if any(state.status == "queued" for state in recipients):
        return record.model_copy(update={"recipients": recipients})
    report.outcomes["suppressed"] += 1
    context.queue.finished(item)
    return None


def _acknowledge(
    item: QueueItem, written: Future[SendResult], context: DrainContext, report: DrainReport
) -> None:
    """A message SES accepted is acknowledged only once its record says so: a later copy then finds SES's id
    and sends nothing. When the write failed, the queue message is reported failed and comes back; its claim
    is kept, so the retry waits out the lease and sends again (the duplicate window described above)."""
    error = written.exception()
    if error is None:
        context.queue.finished(item)
        report.outcomes["sent"] += 1
        return
    report.outcomes["unrecorded"] += 1
    report.failed_items.append(item.id)
    report.errors.append(f"{item.message_id}: SES accepted it, and its id could not be recorded: {error!r}")


def _send(item: QueueItem, record: MessageRecord, context: DrainContext) -> Transmitted | str:
    """The SMTP transaction: SES's acceptance (its id still to record), or the outcome, already settled."""
    message_id = record.message_id
    prepared = PreparedMessage(record=record, raw=RawMessage(()))
    deadline = context.monotonic() + min(
        context.send_budget_seconds, context.time_left() - SAFETY_MARGIN_SECONDS
    )
    try:
        raw = RawMessage.assemble(context.queue.load(item), context.attachments.body)
        prepared = PreparedMessage(record=record, raw=raw)
        return transmit(prepared, context.transport, context.messages, deadline=deadline)
    except UpstreamRejected:
        context.queue.finished(item)  # recorded `failed` with SES's reply
        return "rejected"
    except FileUnavailable as gone:
        # An attached file-cache key was deleted (or expired) while the message waited: no retry brings
        # it back, so the message fails at once with the reason on its record.
        reason = f"an attachment is no longer available: {gone}"
        context.messages.mark_failed(message_id, reason, prepared.deliverable)
        context.queue.finished(item)
        return "attachment_gone"
    except (DeliveryUnavailable, QueuedBodyMissing, StorageUnavailable) as failure:
        if item.receive_count >= context.max_receives:
            reason = f"not sent after {item.receive_count} attempts: {failure}"
            context.messages.mark_failed(message_id, reason, prepared.deliverable)
            context.queue.retry_after(item, 0)  # the next receive moves it to the dead-letter queue
            return "gave_up"
        context.messages.release_claim(message_id)
        delay = backoff_seconds(item.receive_count, context.retry_base_seconds, context.retry_cap_seconds)
        context.queue.retry_after(item, delay)
        return "retry"
