"""Queued messages of a paused domain, held until it resumes (`HELD#<domain>` / `<held at>#<message_id>`,
holding the queue message's body as it was).

Why here and not in the queue: every receive of an SQS message counts toward the queue's maxReceiveCount
(5), a changed visibility included, so a message kept in the queue through a pause of more than a few
receives would reach the dead-letter queue; re-sending it to the queue with a delay (at most 15 minutes)
would keep it alive but cost an invocation every 15 minutes for as long as the pause lasts, and SQS drops
any message after its 14 days of retention. An item here costs nothing while the domain is paused, keeps
its order, and a resume sends them all back to the queue (`logic/guard/held.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from posthorn.adapters.dynamodb.listing import time_key
from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, to_item
from posthorn.models.send_queue import HeldMessage


class HeldMessageRepository(Repository):
    def __init__(self, table: Table, retention: Retention) -> None:
        super().__init__(table)
        self.retention = retention

    def hold(self, domain: str, message_id: str, body: str, *, at: datetime, created_at: datetime) -> None:
        """Park a message of `domain` from `at`; the item expires with the message (created at `created_at`):
        a held copy never outlives the message it would send."""
        self.db.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "pk": f"HELD#{domain}",
                    "sk": f"{time_key(at)}#{message_id}",
                    "message_id": message_id,
                    "body": body,
                    "ttl": self.retention.ttl(created_at),
                }
            ),
        )

    def held_messages(self, domain: str, *, limit: int) -> list[HeldMessage]:
        """The oldest held messages first, at most `limit` (one Query)."""
        page = self.db.query(
            TableName=self.table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=to_item({":p": f"HELD#{domain}"}),
            Limit=limit,
            ConsistentRead=True,
        )
        return [_held(from_item(item)) for item in page["Items"]]

    def forget_held(self, domain: str, held: list[HeldMessage]) -> None:
        keys = [{"DeleteRequest": {"Key": to_item({"pk": f"HELD#{domain}", "sk": h.key})}} for h in held]
        for start in range(0, len(keys), 25):
            request: dict[str, Any] = {self.table: keys[start : start + 25]}
            while request:
                request = self.db.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def _held(values: dict[str, Any]) -> HeldMessage:
    return HeldMessage(message_id=str(values["message_id"]), body=str(values["body"]), key=str(values["sk"]))
