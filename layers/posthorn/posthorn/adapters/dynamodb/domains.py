"""Sending domains (`DOMAIN#<domain>`), listed in registration order through gsi1 (`DOMAINS`), with the
deliverability guard's state: `sending`, `paused_at`, `paused_reason` and `window_start` (where the
guard's window begins after a resume)."""

from __future__ import annotations

from datetime import datetime

from posthorn.adapters.dynamodb.table import Repository, from_item, listing_keys, to_item
from posthorn.models.domains import DomainRecord, Sending, WindowStart


def _key(domain: str) -> dict[str, str]:
    return {"pk": f"DOMAIN#{domain}", "sk": "DOMAIN"}


class DomainRepository(Repository):
    def get_domain(self, domain: str) -> DomainRecord | None:
        values = self.get(_key(domain))
        return DomainRecord.model_validate(values) if values is not None else None

    def put_domain(self, record: DomainRecord) -> None:
        values = record.model_dump(mode="json")
        self.db.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    **_key(record.domain),
                    **listing_keys("DOMAINS", values["created_at"], record.domain),
                    **values,
                }
            ),
        )

    def list_domains(self) -> list[DomainRecord]:
        return [DomainRecord.model_validate(item) for item in self.listed("DOMAINS")]

    def delete_domain(self, domain: str) -> bool:
        response = self.db.delete_item(
            TableName=self.table, Key=to_item(_key(domain)), ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def pause_domain(self, domain: str, *, at: datetime, reason: str) -> DomainRecord | None:
        """Conditional on the domain sending: of several events racing to pause it, one does."""
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=to_item(_key(domain)),
                UpdateExpression="SET sending = :paused, paused_at = :at, paused_reason = :reason",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(sending) OR sending <> :paused)"
                ),
                ExpressionAttributeValues=to_item(
                    {":paused": Sending.PAUSED.value, ":at": at.isoformat(), ":reason": reason}
                ),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return DomainRecord.model_validate(from_item(response["Attributes"]))

    def resume_domain(self, domain: str, *, window_start: WindowStart) -> DomainRecord | None:
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=to_item(_key(domain)),
                UpdateExpression=(
                    "SET sending = :enabled, window_start = :start REMOVE paused_at, paused_reason"
                ),
                ConditionExpression="sending = :paused",
                ExpressionAttributeValues=to_item(
                    {
                        ":enabled": Sending.ENABLED.value,
                        ":paused": Sending.PAUSED.value,
                        ":start": window_start.model_dump(),
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return DomainRecord.model_validate(from_item(response["Attributes"]))
