"""The send worker's use case: deliver queued messages at the SES rate, exactly once where SMTP allows.

For each queue message (at-least-once, so possibly a second copy):
1. Claim the stored message (`claim_for_sending`, a conditional write). A message whose SES id is recorded
   is `done` and acknowledged without sending; one claimed by another worker is retried after the claim.
2. Wait for a send slot: slots are taken from one schedule at `SES_MAX_SEND_RATE` shared by every worker.
3. `deliver` over the pooled SMTP transport. SES's id is written to the record before the queue message
   is acknowledged, so a later copy finds it (step 1) and sends nothing.
4. A permanent refusal (5xx) marks the message `failed` with SES's reply. A transient failure (421, 451,
   454, a dropped connection, a timeout) releases the claim and makes the queue message visible again
   after a backoff. On the last receive SQS allows (`send_max_receives`, the queue's maxReceiveCount) the
   record is marked `failed` with the last reply first, and then the queue moves the message to the
   dead-letter queue: the record never stays `queued`.
5. Cached attachments come by reference (`RawMessage.assemble`, `AttachmentBodies`): each file is read
   once per process however many messages attach it. One deleted or expired while the message waited
   fails the message at once, with the reason on its record.

The ambiguous window: if the connection drops after the final "." and before SES's reply, or the worker
dies after SES's 250 and before the SES id is written, SES may have the message and the record does not
say so. The claim runs out and a retry sends it again: a rare duplicate, never a loss (at-least-once).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from posthorn.errors import UpstreamRejected
from posthorn.logic.delivery import PreparedMessage, deliver
from posthorn.logic.ports import (
    AttachmentBodies,
    DeliveryUnavailable,
    FileUnavailable,
    MailTransport,
    MessageStore,
    QueuedBodyMissing,
    QueueItem,
    WorkQueue,
)
from posthorn.logic.raw_message import RawMessage
from posthorn.models.messages import MessageRecord

# Kept free at the end of an invocation, so the worker never dies mid-transaction at Lambda's timeout.
SAFETY_MARGIN_SECONDS = 3.0


@dataclass(frozen=True)
class WorkerContext:
    messages: MessageStore
    transport: MailTransport
    queue: WorkQueue
    attachments: AttachmentBodies
    reserve_slots: Callable[[int], list[float]]  # the next n send times, epoch seconds
    wall_clock: Callable[[], float]
    monotonic: Callable[[], float]
    sleep: Callable[[float], None]
    time_left: Callable[[], float]  # seconds until the invocation must have returned
    max_receives: int
    send_budget_seconds: float
    retry_base_seconds: float
    retry_cap_seconds: float


@dataclass
class DrainReport:
    failed_items: list[str] = field(default_factory=list)  # to report to SQS (batchItemFailures)
    outcomes: Counter[str] = field(default_factory=Counter)


def backoff_seconds(receive_count: int, base: float, cap: float) -> int:
    """Capped exponential backoff with jitter before the next attempt (the attempt that just failed
    was `receive_count`)."""
    delay = min(cap, base * 2 ** max(0, receive_count - 1))
    return math.ceil(delay * random.uniform(0.5, 1.0))


def drain(items: list[QueueItem], context: WorkerContext) -> DrainReport:
    report = DrainReport()
    claimed: list[tuple[QueueItem, str, MessageRecord]] = []
    seen: set[str] = set()
    for item in items:
        if item.message_id is None:
            report.outcomes["unreadable"] += 1  # left to the queue: the dead-letter queue keeps it
            report.failed_items.append(item.id)
            continue
        if item.message_id in seen:  # two copies in one batch: the first one stands for both
            report.outcomes["already_done"] += 1
            continue
        seen.add(item.message_id)
        claim = context.messages.claim_for_sending(
            item.message_id,
            now=context.wall_clock(),
            lease_seconds=context.send_budget_seconds + 60,
        )
        if claim.state == "done" or (
            claim.record is not None and not any(r.status == "queued" for r in claim.record.recipients)
        ):
            report.outcomes["already_done"] += 1
            context.queue.finished(item)
        elif claim.state == "busy":
            report.outcomes["busy"] += 1
            context.queue.defer(item, math.ceil(claim.busy_for) + 1)
        elif claim.state == "missing":
            report.outcomes["missing"] += 1  # never stored: nothing to send; the dead-letter queue keeps it
            report.failed_items.append(item.id)
        else:
            assert claim.record is not None
            claimed.append((item, item.message_id, claim.record))

    slots = context.reserve_slots(len(claimed))
    for (item, message_id, record), slot in zip(claimed, slots, strict=True):
        wait = max(0.0, slot - context.wall_clock())
        if wait + context.send_budget_seconds > context.time_left() - SAFETY_MARGIN_SECONDS:
            # Out of time for this invocation: hand it back untried (its slot goes unused).
            context.messages.release_claim(message_id)
            context.queue.defer(item, math.ceil(wait))
            report.outcomes["deferred"] += 1
            continue
        context.sleep(wait)
        outcome = _send(item, record, context)
        report.outcomes[outcome] += 1
        if outcome not in ("sent", "rejected", "attachment_gone"):
            report.failed_items.append(item.id)
    return report


def _send(item: QueueItem, record: MessageRecord, context: WorkerContext) -> str:
    message_id = record.message_id
    prepared = PreparedMessage(record=record, raw=RawMessage(()))
    deadline = context.monotonic() + min(
        context.send_budget_seconds, context.time_left() - SAFETY_MARGIN_SECONDS
    )
    try:
        raw = RawMessage.assemble(context.queue.load(item), context.attachments.body)
        prepared = PreparedMessage(record=record, raw=raw)
        deliver(prepared, context.transport, context.messages, deadline=deadline)
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
    except (DeliveryUnavailable, QueuedBodyMissing) as failure:
        if item.receive_count >= context.max_receives:
            reason = f"not sent after {item.receive_count} attempts: {failure}"
            context.messages.mark_failed(message_id, reason, prepared.deliverable)
            context.queue.retry_after(item, 0)  # the next receive moves it to the dead-letter queue
            return "gave_up"
        context.messages.release_claim(message_id)
        delay = backoff_seconds(item.receive_count, context.retry_base_seconds, context.retry_cap_seconds)
        context.queue.retry_after(item, delay)
        return "retry"
    context.queue.finished(item)
    return "sent"
