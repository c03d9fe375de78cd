"""SES's events on messages: each raises its recipient's status on the message item (`message_items.py`: never
lowers it) and is stored once under the message (`MSG#<message_id>` / `EVT#<event_key>`, so one query returns
a message with its events). An event of a message Posthorn does not know is kept under `UNMATCHED#<ses id>`
for 30 days, where an operator can query it.

A new event raises the hourly counters (`stats.py`) right after the conditional put that stores it once, and
moves the message's status item (`listing.py`) when it moved the message's status. (Not transactions: see
`stats.py`. A crash between the writes leaves an event uncounted or a status item behind until the message's
status changes again; the listing's readers check every message's status, so a stale item is skipped.)

The events function's repository: it imports nothing of the send path (`messages.py`).
"""

from __future__ import annotations

from typing import Any

from posthorn.adapters.dynamodb import listing
from posthorn.adapters.dynamodb.message_items import advance_one, read_record, ses_pointer_key
from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.stats import add_counts
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, storable, to_item
from posthorn.logic.guard.pausing import hour_of
from posthorn.models.events import RecipientEvent
from posthorn.models.messages import MessageChange, MessageRecord

UNMATCHED_TTL_SECONDS = 30 * 24 * 3600


class MessageEventRepository(Repository):
    """`EventRecorder` (recording SES's events) and `MessageRecords` (what announcing them reads). An event
    and the status item it moves expire with their message (`retention`)."""

    def __init__(self, table: Table, retention: Retention) -> None:
        super().__init__(table)
        self.retention = retention

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
        """Raise one recipient's status for an event; what the event's writes (`put_event`) need to know of
        the message: its domain, tags, status before and after. None for an unknown message."""
        return advance_one(self, message_id, recipient, status)

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
        if not self._put_once(f"MSG#{message_id}", event, ttl=ttl):
            return False
        if change is not None:
            if counts:
                add_counts(
                    self, change.domain, change.tags, hour_of(event.timestamp), counts, message_id=message_id
                )
            if change.before != change.after:
                listing.move_status(self, message_id, change, ttl)
        return True

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
