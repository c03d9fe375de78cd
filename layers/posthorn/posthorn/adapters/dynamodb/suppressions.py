"""The suppression list: one item per (sending domain, address), `SUPP#<domain>` / `<address>`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
from posthorn.models.suppressions import Suppression


def _key(domain: str, email: str) -> dict[str, str]:
    return {"pk": f"SUPP#{domain}", "sk": email.lower()}


class SuppressionRepository(Repository):
    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        """Which of `emails` are suppressed for `domain` (as given), read 100 at a time."""
        wanted = {email.lower(): email for email in emails}
        if not wanted:
            return set()
        found: set[str] = set()
        keys = [to_item(_key(domain, address)) for address in wanted]
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + 100], "ProjectionExpression": "sk"}
            }
            while request:
                response = self.db.batch_get_item(RequestItems=request)
                found.update(from_item(item)["sk"] for item in response["Responses"].get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
        return {wanted[address] for address in found}

    def suppressed_snapshot(self, domain: str, *, limit: int) -> set[str] | None:
        """Every address suppressed for `domain` (lower case), or None when there are more than `limit`:
        the keys only, page after page, stopping as soon as the list is known to be too long."""
        found: set[str] = set()
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": to_item({":p": f"SUPP#{domain}"}),
            "ProjectionExpression": "sk",
        }
        while True:
            page = self.db.query(**query)
            found.update(str(from_item(item)["sk"]) for item in page["Items"])
            if len(found) > limit:
                return None
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def add_suppression(self, entry: Suppression) -> bool:
        """Suppress an address for a domain; the first reason recorded is kept. True when it is new."""
        try:
            self.db.put_item(
                TableName=self.table,
                Item=to_item({**_key(entry.domain, entry.email), **entry.model_dump(mode="json")}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_suppression(self, domain: str, email: str) -> Suppression | None:
        values = self.get(_key(domain, email))
        return Suppression.model_validate(values) if values is not None else None

    def list_suppressions(self, domain: str) -> list[Suppression]:
        items = self.query_all(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues=to_item({":p": f"SUPP#{domain}"})
        )
        return [Suppression.model_validate(item) for item in items]

    def delete_suppression(self, domain: str, email: str) -> bool:
        response = self.db.delete_item(
            TableName=self.table, Key=to_item(_key(domain, email)), ReturnValues="ALL_OLD"
        )
        return "Attributes" in response
