"""Messages of a paused domain that were already queued: the send worker parks them (`HeldMessages`) instead
of sending or failing them, and a resume sends them back to the send queue, oldest first.

A message parked just as the domain resumes could miss the resume's release: after parking, the worker looks
at the domain again and releases what it holds if the domain sends again (`_release_if_resumed`
in `logic/sending/queue_drain.py`), so nothing waits for a second resume.
"""

from __future__ import annotations

from collections.abc import Callable

from posthorn.ports import HeldMessages, QueueBodies

RELEASE_PAGE = 100


def release_held(
    domain: str, held: HeldMessages, queue: QueueBodies, *, time_left: Callable[[], float]
) -> tuple[int, bool]:
    """Send the domain's held messages back to the queue, a page at a time while there is time: how many,
    and whether some are still held (a queue failure, or out of time: releasing again continues)."""
    released = 0
    while time_left() > 0:
        page = held.held_messages(domain, limit=RELEASE_PAGE)
        if not page:
            return released, False
        unsent = queue.send_bodies([message.body for message in page])
        sent = [message for position, message in enumerate(page) if position not in unsent]
        held.forget_held(domain, sent)
        released += len(sent)
        if unsent:
            return released, True
        if len(page) < RELEASE_PAGE:
            return released, False
    return released, True
