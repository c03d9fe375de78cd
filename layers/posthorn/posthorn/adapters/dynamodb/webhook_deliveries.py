"""Webhook deliveries in the webhooks table: `DLV#<delivery_id>` / `DLV`, the record as JSON (`data`, its
attempts and body included) beside what conditions and indexes read:

- `status`, `lease_until_ms`, `lease_token`: an attempt is made under a claim (a conditional update), so a
  queue prompt and a sweep that hand over the same delivery make one attempt, and a sender that died while
  holding one delays the delivery by the lease, never loses it;
- `due_shard` + `next_attempt_ms` (index `due`, sparse: only pending deliveries carry them): what the sweep
  reads, oldest due first. One partition key ("DUE"): a minute's due deliveries are one query;
- `webhook_id` + `listed` (index `by_webhook`, `listed` = creation millisecond + id): a webhook's
  deliveries newest first, for GET /v1/webhooks/{id}/deliveries;
- `ttl` (`retention.py`): a delivery about a message expires with the message (from its creation, which the
  record carries), one about no message (a domain's pause, a test event) `MessageRetentionDays` after it was
  made. The routes' reads leave an expired delivery out, as if DynamoDB had deleted it already.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, to_item
from posthorn.models.webhooks import DeliveryRecord, DueDelivery

DUE_SHARD = "DUE"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _key(delivery_id: str) -> dict[str, Any]:
    return to_item({"pk": f"DLV#{delivery_id}", "sk": "DLV"})


def _item(record: DeliveryRecord, retention: Retention) -> dict[str, Any]:
    pending = record.status == "pending" and record.next_attempt_at is not None
    return {
        "pk": f"DLV#{record.delivery_id}",
        "sk": "DLV",
        "data": record.model_dump_json(),
        "status": record.status,
        "webhook_id": record.webhook_id,
        "message_id": record.message_id,
        "listed": f"{_ms(record.created_at):013d}#{record.delivery_id}",
        "due_shard": DUE_SHARD if pending else None,
        "next_attempt_ms": _ms(record.next_attempt_at) if pending and record.next_attempt_at else None,
        "ttl": retention.ttl(record.message_created_at or record.created_at),
    }


def _record(item: dict[str, Any]) -> DeliveryRecord:
    return DeliveryRecord.model_validate_json(from_item(item)["data"])


class DeliveryRepository(Repository):
    def __init__(self, table: Table, retention: Retention) -> None:
        super().__init__(table)
        self.retention = retention

    def create_delivery(self, record: DeliveryRecord) -> bool:
        try:
            self.db.put_item(
                TableName=self.table,
                Item=to_item(_item(record, self.retention)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        item = self.db.get_item(TableName=self.table, Key=_key(delivery_id), ConsistentRead=True).get("Item")
        return _record(item) if item and not self.retention.expired_item(item) else None

    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "by_webhook",
            "KeyConditionExpression": "webhook_id = :w",
            "ExpressionAttributeValues": to_item({":w": webhook_id}),
            "ScanIndexForward": False,
        }
        if status:
            query["FilterExpression"] = "#s = :s"
            query["ExpressionAttributeNames"] = {"#s": "status"}
            query["ExpressionAttributeValues"].update(to_item({":s": status}))
        start = _decode_cursor(cursor, webhook_id)
        found: list[DeliveryRecord] = []
        while True:
            if start:
                query["ExclusiveStartKey"] = start
            query["Limit"] = max(limit - len(found), 1) if not status else 100
            page = self.db.query(**query)
            for item in page.get("Items", []):
                if self.retention.expired_item(item):
                    continue
                found.append(_record(item))
                if len(found) == limit:
                    last = {name: item[name] for name in ("pk", "sk", "webhook_id", "listed")}
                    more = bool(page.get("LastEvaluatedKey")) or item is not page["Items"][-1]
                    return found, _encode_cursor(last) if more else None
            start = page.get("LastEvaluatedKey")
            if not start:
                return found, None

    def send_again(self, delivery_id: str, at: datetime) -> DeliveryRecord | None:
        record = self.get_delivery(delivery_id)
        if record is None:
            return None
        again = record.model_copy(update={"status": "pending", "next_attempt_at": at, "failures": 0})
        item = _item(again, self.retention)
        self.db.update_item(
            TableName=self.table,
            Key=_key(delivery_id),
            UpdateExpression=(
                "SET #d = :d, #s = :s, due_shard = :u, next_attempt_ms = :n REMOVE lease_until_ms"
            ),
            ExpressionAttributeNames={"#d": "data", "#s": "status"},
            ExpressionAttributeValues=to_item(
                {":d": item["data"], ":s": "pending", ":u": DUE_SHARD, ":n": item["next_attempt_ms"]}
            ),
        )
        return again

    def deliveries_of_message(self, message_id: str) -> list[DeliveryRecord]:
        """Every delivery of one message: a scan, for the local stack's page only (no function's policy
        allows Scan; the API lists deliveries per webhook)."""
        pages = self.db.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="message_id = :m",
            ExpressionAttributeValues=to_item({":m": message_id}),
        )
        return [
            _record(item) for page in pages for item in page["Items"] if not self.retention.expired_item(item)
        ]

    # --- the sender --------------------------------------------------------------------------------
    def claim_delivery(
        self, delivery_id: str, *, now: datetime, lease_seconds: float, token: str
    ) -> DeliveryRecord | None:
        now_ms = _ms(now)
        try:
            answer = self.db.update_item(
                TableName=self.table,
                Key=_key(delivery_id),
                UpdateExpression="SET lease_until_ms = :until, lease_token = :t",
                ConditionExpression=(
                    "#s = :pending AND next_attempt_ms <= :now"
                    " AND (attribute_not_exists(lease_until_ms) OR lease_until_ms < :now)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":until": now_ms + int(lease_seconds * 1000),
                        ":t": token,
                        ":pending": "pending",
                        ":now": now_ms,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return _record(answer["Attributes"])

    def finish_attempt(self, record: DeliveryRecord, *, token: str) -> bool:
        item = to_item(_item(record, self.retention))
        try:
            self.db.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="lease_token = :t",
                ExpressionAttributeValues=to_item({":t": token}),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def due_deliveries(self, now: datetime, *, limit: int) -> list[DueDelivery]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "due",
            "KeyConditionExpression": "due_shard = :d AND next_attempt_ms <= :now",
            "ExpressionAttributeValues": to_item({":d": DUE_SHARD, ":now": _ms(now)}),
            "ProjectionExpression": "pk, webhook_id",
        }
        due: list[DueDelivery] = []
        while len(due) < limit:
            page = self.db.query(**query, Limit=min(1000, limit - len(due)))
            due += [
                DueDelivery(str(values["pk"]).removeprefix("DLV#"), str(values["webhook_id"]))
                for values in (from_item(item) for item in page.get("Items", []))
            ]
            if not page.get("LastEvaluatedKey"):
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return due


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str | None, webhook_id: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    from posthorn.errors import ValidationFailed

    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(key, dict) or set(key) != {"pk", "sk", "webhook_id", "listed"}:
            raise ValueError
        if key["webhook_id"] != {"S": webhook_id}:
            raise ValueError
    except ValueError:
        raise ValidationFailed.on("cursor", "is not a cursor this API gave") from None
    return key
