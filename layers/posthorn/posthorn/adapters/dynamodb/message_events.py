"""SES's events on messages: each raises its recipient's status on the message item (`message_items.py`: never
lowers it) and is stored once under the message (`MSG#<message_id>` / `EVT#<event_key>`, so one query returns
a message with its events), or, when it raised the status and fits, on the message item itself, in the same
update (`E#<type>:<hash>`: `put_event`). An event of a message Posthorn does not know is kept under
`UNMATCHED#<ses id>` for 30 days, where an operator can query it.

A new event raises the hourly counters (`stats.py`) right after the conditional put that stores it once, and
moves the message's status item (`listing.py`) when it moved the message's status. (Not transactions: see
`stats.py`. A crash between the writes leaves an event uncounted or a status item behind until the message's
status changes again; the listing's readers check every message's status, so a stale item is skipped.)

The events function's repository: it imports nothing of the send path (`messages.py`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from posthorn.adapters.dynamodb import listing
from posthorn.adapters.dynamodb.message_items import (
    advance,
    inline_names,
    inline_value,
    item_size,
    message_change,
    message_key,
    read_record,
    ses_pointer_key,
)
from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.stats import add_counts
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, storable, to_item
from posthorn.logic.events.recipient_status import rank
from posthorn.logic.events.recording import counts_for
from posthorn.logic.guard.pausing import hour_of
from posthorn.models.events import RecipientEvent
from posthorn.models.messages import MessageChange, MessageRecord

UNMATCHED_TTL_SECONDS = 30 * 24 * 3600
WRITE_UNIT_BYTES = 1024
# What `item_size` may miss of DynamoDB's count: an event goes on the message only with this much room left.
SIZE_MARGIN = 48


@dataclass
class _Read:
    """The message as `advance_for_event` read it, for the `put_event` of the same event that follows."""

    message_id: str
    recipient: str
    status: str | None  # the status the event raises its recipient to; None: it raises nothing
    item: dict[str, Any]  # wire format


class MessageEventRepository(Repository):
    """`EventRecorder` (recording SES's events) and `MessageRecords` (what announcing them reads). An event
    and the status item it moves expire with their message (`retention`)."""

    def __init__(self, table: Table, retention: Retention) -> None:
        super().__init__(table)
        self.retention = retention
        self._read = threading.local()

    def message_id_for_ses(self, ses_message_id: str) -> str | None:
        """The message SES's id names: its pointer item (`message_items.py`), or, for a message stored by an
        older Posthorn (whose item carries the gsi1 keys), gsi1."""
        pointer = self.db.get_item(
            TableName=self.table, Key=ses_pointer_key(ses_message_id), ConsistentRead=True
        ).get("Item")
        if pointer is not None:
            return str(from_item(pointer)["message_id"])
        response = self.db.query(
            TableName=self.table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk = :s",
            ExpressionAttributeValues=to_item({":p": f"SES#{ses_message_id}", ":s": "MSG"}),
            ProjectionExpression="message_id",
        )
        items = response.get("Items", [])
        return str(from_item(items[0])["message_id"]) if items else None

    def advance_for_event(self, message_id: str, recipient: str, status: str) -> MessageChange | None:
        """What raising one recipient's status for an event does to the message (its domain, tags, status
        before and after), from one read; None for an unknown message. The raise itself is written by the
        event's `put_event`, in one update with the event (see there). An eventually consistent read is
        enough: statuses only rise, so a stale item can only show a lower rank, and then the conditional
        update decides."""
        self._read.value = None
        item = self.db.get_item(TableName=self.table, Key=message_key(message_id)).get("Item")
        if item is None:
            # Maybe just written, not yet readable: the conditional update says (and raises it, the old way).
            return advance(self, message_id, {recipient: status}, {})
        values = from_item(item)
        held = values.get("recipients", {}).get(recipient.lower())
        raises = held is not None and int(held["rank"]) < rank(status)
        self._read.value = _Read(message_id, recipient, status if raises else None, item)
        if not raises:
            return message_change(values, {}, moved=set())
        return message_change(values, {recipient: status}, moved={recipient})

    def get_message_record(self, message_id: str) -> MessageRecord | None:
        return read_record(self, message_id)

    def put_event(
        self,
        message_id: str,
        event: RecipientEvent,
        change: MessageChange | None = None,
        counts: dict[str, int] | None = None,
    ) -> bool:
        """Store an event once: False when the same event (same key) is already there. A new one then adds
        `counts` to the counters of the message's domain and tags for the event's hour, and moves the
        message's status item when `change` moved its status. The event expires with its message (from the
        message's creation, which `change` carries; without it, from the event's own time)."""
        ttl = self.retention.ttl(change.created_at if change is not None else event.timestamp)
        read: _Read | None = getattr(self._read, "value", None)
        self._read.value = None
        if read is not None and (read.message_id, read.recipient) == (message_id, event.recipient):
            stored = self._put_with_status(read, event, change)
            if stored is None:
                return False
            if stored[1] is not None:
                change = stored[1]
                counts = counts_for(event, change)
            if not stored[0] and not self._put_once(f"MSG#{message_id}", event, ttl=ttl):
                return False
        elif not self._put_once(f"MSG#{message_id}", event, ttl=ttl):
            return False
        if change is not None:
            if counts:
                add_counts(
                    self, change.domain, change.tags, hour_of(event.timestamp), counts, message_id=message_id
                )
            if change.before != change.after:
                listing.move_status(self, message_id, change, ttl)
        return True

    def _put_with_status(
        self, read: _Read, event: RecipientEvent, change: MessageChange | None
    ) -> tuple[bool, MessageChange | None] | None:
        """The event's writes on the message item, after `advance_for_event` read it: None when the event is
        on it already (a repeat); else whether it is now stored there, and the change as it really was
        when it differs from the one the read foretold.

        An event that raises its recipient's status is stored in the same conditional update that raises it
        (attribute `E#<type>:<hash>`: one write instead of two, the event item's), when that keeps the item
        within the write units it takes already: an update is billed by the larger of the item before and
        after, so a message grown past the next KB would cost more on every later write. The raise happens
        once (its condition), so the event is stored once; a repeat finds it on the item, in the read or in
        the item the failed condition hands back. Every other event gets its own item (`_put_once`), as
        did all events stored before (a repeat of those raises no status: the item's condition sees it)."""
        known_as = inline_names(event.event_key)
        name = known_as[0]
        if any(known in read.item for known in known_as):
            return None
        if read.status is None or event.recipient is None:
            return False, None
        ses_message_id = read.item.get("ses_message_id", {}).get("S")
        message = from_item({"recipients": read.item["recipients"]}) if "recipients" in read.item else {}
        stored = inline_value(_event_item("", event, ttl=None), ses_message_id, message)
        value = to_item({"e": stored})["e"]
        size = item_size(read.item)
        grown = size + len(name) + item_size({"e": value}) + len(read.status) + SIZE_MARGIN
        inline = math.ceil(grown / WRITE_UNIT_BYTES) <= max(1, math.ceil(size / WRITE_UNIT_BYTES))
        names = {"#r": read.recipient.lower(), "#s": "status", "#k": "rank"}
        values: dict[str, Any] = to_item({":s": read.status, ":k": rank(read.status)})
        update = "SET recipients.#r.#s = :s, recipients.#r.#k = :k"
        if inline:
            names["#e"] = name
            values[":e"] = value
            update += ", #e = :e"
        try:
            self.db.update_item(
                TableName=self.table,
                Key=message_key(read.message_id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk) AND recipients.#r.#k < :k",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.db.exceptions.ConditionalCheckFailedException as failed:
            # The status was raised meanwhile (the read was stale, or another event came first): by this
            # event (a repeat) or another, and then this one raises nothing and is counted as such.
            item = failed.response.get("Item") or read.item
            if any(known in item for known in known_as):
                return None
            return False, message_change(from_item(item), {}, moved=set())
        return inline, None

    def put_unmatched_event(self, event: RecipientEvent, *, now: int) -> bool:
        """Keep an event for a message Posthorn does not know, where an operator can query it."""
        return self._put_once(f"UNMATCHED#{event.ses_message_id}", event, ttl=now + UNMATCHED_TTL_SECONDS)

    def _put_once(self, pk: str, event: RecipientEvent, *, ttl: int | None) -> bool:
        item = _event_item(pk, event, ttl=ttl)
        try:
            self.db.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(sk)"
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _event_item(pk: str, event: RecipientEvent, *, ttl: int | None) -> dict[str, Any]:
    return {
        "pk": pk,
        "sk": f"EVT#{event.event_key}",
        "type": event.type.value,
        "timestamp": event.timestamp.isoformat(),
        "recipient": event.recipient,
        "details": storable(event.details),
        "ses_message_id": event.ses_message_id,
        "origin": event.origin,
        "ttl": ttl,
    }
