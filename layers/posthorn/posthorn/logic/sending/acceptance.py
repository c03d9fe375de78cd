"""Accepting a message into the send queue: the one order every entry point keeps (the API's batches and its
fallback when SES is unavailable, the SMTP relay, the compatible endpoints), so that what a client was told
is the truth (docs/api.md, "Guarantees").

The send worker sends what it finds in the send queue and may claim. So:
1. Everything that can refuse a message comes before its queue message exists: the duplicate claim, the
   rate, the checks and the record's write. A refusal there leaves nothing the worker could ever see (a
   record already written is discarded, or stays `failed`, and no queue message points at it).
2. The queue message is written last. A queue write that failed may have landed all the same (a timeout,
   a connection lost before SQS answered), so the message is then withdrawn: one conditional write on its
   record that wins only while no send worker has ever claimed it, and the worker's claim is conditional on
   the record not being withdrawn. The two exclude each other: withdrawn, the message is never sent and its
   client is refused; a worker was first, it is being sent and so it is accepted after all.

Before this order the relay wrote the queue message beside the record and undid it on a refusal; the worker
picked messages up before the undoing landed and sent mail its client had been told was refused (issue 18).
"""

from __future__ import annotations

from collections.abc import Sequence

from posthorn.models.send_queue import QueuedMessage
from posthorn.ports import MessageRecorder, SendQueue

WITHDRAWN = "not accepted: the message could not be queued and its client was told to retry"
# A withdrawal the store does not answer is tried this often. If it never answers the message counts as
# refused: a queue write that failed almost always failed outright (SQS answered it, nothing landed), and
# a client told to retry loses nothing.
WITHDRAW_ATTEMPTS = 3


def queue_stored(
    messages: Sequence[QueuedMessage], records: MessageRecorder, queue: SendQueue, *, reason: str = WITHDRAWN
) -> set[str]:
    """Queue messages whose records are stored; the ids refused (withdrawn, with `reason` on their records:
    none of them will be sent). Every other id is accepted: it is in the queue, or a worker has it already."""
    if not messages:
        return set()
    try:
        unqueued = queue.enqueue(list(messages))
    except Exception:  # the adapter answers failures as ids; anything else means the same here
        unqueued = {message.message_id for message in messages}
    return {message_id for message_id in unqueued if withdraw(message_id, records, reason)}


def withdraw(message_id: str, records: MessageRecorder, reason: str = WITHDRAWN) -> bool:
    """True when the message will never be sent; False when a send worker claimed it first."""
    for attempt in range(WITHDRAW_ATTEMPTS):
        try:
            return records.withdraw(message_id, reason)
        except Exception:  # the store failing for a moment: try again, then count it refused
            if attempt == WITHDRAW_ATTEMPTS - 1:
                return True
    return True
