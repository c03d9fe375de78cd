"""What the send queue, its worker and the held-message park exchange with their stores and SES:
plain NamedTuples, free of pydantic (the send worker imports them on its cold start)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:  # annotations only
    from posthorn.models.messages import MessageRecord
    from posthorn.models.raw_message import RawMessage


class SendClaim(NamedTuple):
    """`claimed`: this worker may send (`record` is the message). `done`: SES already has it, or it failed
    for good. `busy`: another worker holds the claim for `busy_for` more seconds. `missing`: no record."""

    state: Literal["claimed", "done", "busy", "missing"]
    record: MessageRecord | None = None
    busy_for: float = 0.0


class DeliveryReceipt(NamedTuple):
    """SES accepted the message: its id from `250 Ok <id>`, and any recipients it refused at RCPT."""

    ses_message_id: str
    refused: Mapping[str, str] = MappingProxyType({})
    # True when an earlier attempt lost its connection after the final "." (SES may have the message twice).
    after_ambiguous_drop: bool = False


class QueuedMessage(NamedTuple):
    """What the send queue carries: a stored message's id and its MIME, cached attachments by reference
    (the record holds the rest). Written only once the record is stored (`logic/sending/acceptance.py`)."""

    message_id: str
    raw: RawMessage


class QueueItem(NamedTuple):
    id: str  # the queue's id for this delivery
    message_id: str | None  # None: the queue message could not be read
    receive_count: int


class HeldMessage(NamedTuple):
    """A queued message of a paused domain, parked until the domain resumes: the queue message's body."""

    message_id: str
    body: str
    key: str  # its position among the domain's held messages
