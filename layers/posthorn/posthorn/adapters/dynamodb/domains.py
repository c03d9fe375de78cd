"""Sending domains (`DOMAIN#<domain>`)."""

from __future__ import annotations

from posthorn.adapters.dynamodb.table import Repository, to_item
from posthorn.models.domains import DomainRecord


class DomainRepository(Repository):
    def get_domain(self, domain: str) -> DomainRecord | None:
        values = self.get({"pk": f"DOMAIN#{domain}", "sk": "DOMAIN"})
        return DomainRecord.model_validate(values) if values is not None else None

    def put_domain(self, record: DomainRecord) -> None:
        self.db.put_item(
            TableName=self.table,
            Item=to_item({"pk": f"DOMAIN#{record.domain}", "sk": "DOMAIN", **record.model_dump(mode="json")}),
        )
