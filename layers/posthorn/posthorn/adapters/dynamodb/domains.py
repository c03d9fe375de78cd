"""Sending domains (`DOMAIN#<domain>`), listed in registration order through gsi1 (`DOMAINS`)."""

from __future__ import annotations

from posthorn.adapters.dynamodb.table import Repository, listing_keys, to_item
from posthorn.models.domains import DomainRecord


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
