"""Webhooks in the webhooks table: `WH#<webhook_id>` / `WH` holds the webhook (its sealed secrets too), and
`DOMAIN#<domain>` / `WH#<webhook_id>` a copy without the secrets for each domain it covers, so the
fan-out finds a domain's webhooks with one query. A webhook and its copies are written in one transaction.

Why a table of its own (WebhooksTable): CloudFormation creates at most one global secondary index per
update of a table, and the message table gains indexes of its own in parallel work; the deliveries need
two (due time, per webhook), and a new table gets them at once. The local stack builds it from the
template like every other table.

The record is one JSON attribute (`data`); what conditions and indexes need sits beside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
from posthorn.models.webhooks import WebhookRecord


def _key(webhook_id: str) -> dict[str, Any]:
    return to_item({"pk": f"WH#{webhook_id}", "sk": "WH"})


def _record(item: dict[str, Any]) -> WebhookRecord:
    values = from_item(item)
    record = WebhookRecord.model_validate_json(values["data"])
    if values.get("failing_since"):
        record = record.model_copy(update={"failing_since": datetime.fromisoformat(values["failing_since"])})
    return record


class WebhookRepository(Repository):
    def put_webhook(self, record: WebhookRecord, *, previous: WebhookRecord | None = None) -> None:
        stored = record.model_copy(update={"failing_since": None})
        main = to_item(
            {
                "pk": f"WH#{record.webhook_id}",
                "sk": "WH",
                "data": stored.model_dump_json(),
                "failing_since": record.failing_since.isoformat() if record.failing_since else None,
            }
        )
        copy = stored.model_copy(update={"secrets": []}).model_dump_json()
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self.table, "Item": main}}]
        for domain in record.domains:
            item = to_item({"pk": f"DOMAIN#{domain}", "sk": f"WH#{record.webhook_id}", "data": copy})
            writes.append({"Put": {"TableName": self.table, "Item": item}})
        for domain in set(previous.domains if previous else []) - set(record.domains):
            key = to_item({"pk": f"DOMAIN#{domain}", "sk": f"WH#{record.webhook_id}"})
            writes.append({"Delete": {"TableName": self.table, "Key": key}})
        self.db.transact_write_items(TransactItems=writes)

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None:
        item = self.db.get_item(TableName=self.table, Key=_key(webhook_id), ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def webhooks_for_domain(self, domain: str) -> list[WebhookRecord]:
        items = self.query_all(
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=to_item({":p": f"DOMAIN#{domain}", ":s": "WH#"}),
            ConsistentRead=True,
        )
        return [WebhookRecord.model_validate_json(values["data"]) for values in items]

    def delete_webhook(self, record: WebhookRecord) -> None:
        keys = [_key(record.webhook_id)] + [
            to_item({"pk": f"DOMAIN#{domain}", "sk": f"WH#{record.webhook_id}"}) for domain in record.domains
        ]
        self.db.transact_write_items(
            TransactItems=[{"Delete": {"TableName": self.table, "Key": key}} for key in keys]
        )

    # --- what the sender writes --------------------------------------------------------------------
    def note_success(self, webhook_id: str) -> None:
        try:
            self.db.update_item(
                TableName=self.table,
                Key=_key(webhook_id),
                UpdateExpression="REMOVE failing_since",
                ConditionExpression="attribute_exists(pk)",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return

    def note_failure(self, webhook_id: str, at: datetime) -> None:
        try:
            self.db.update_item(
                TableName=self.table,
                Key=_key(webhook_id),
                UpdateExpression="SET failing_since = if_not_exists(failing_since, :t)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":t": at.isoformat()}),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return

    def set_slow(self, webhook_id: str, slow: bool) -> None:
        record = self.get_webhook(webhook_id)
        if record is not None and record.slow != slow:
            self.put_webhook(record.model_copy(update={"slow": slow}), previous=record)

    def disable_webhook(self, webhook_id: str, reason: str) -> WebhookRecord | None:
        record = self.get_webhook(webhook_id)
        if record is None or record.status == "disabled":
            return None
        disabled = record.model_copy(update={"status": "disabled", "disabled_reason": reason})
        self.put_webhook(disabled, previous=record)
        return disabled
