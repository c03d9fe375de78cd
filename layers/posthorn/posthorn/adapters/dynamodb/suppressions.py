"""The suppression list: one item per (sending domain, address), `SUPP#<domain>` / `<address>`, and two
listing items per entry, newest first: `SUPPLIST#<domain>` and `SUPPLIST#<domain>#<reason>`, each
`<created_at>#<address>` holding the whole entry (an entry never changes, it is only deleted), so a page of
`GET /v1/suppressions` is one Query per domain."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from posthorn.adapters.dynamodb.listing import time_bounds, time_key
from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
from posthorn.models.listing import IndexPage, Partition
from posthorn.models.suppressions import Suppression


def _key(domain: str, email: str) -> dict[str, str]:
    return {"pk": f"SUPP#{domain}", "sk": email.lower()}


def _listing_keys(entry: Suppression) -> list[dict[str, str]]:
    sk = f"{time_key(entry.created_at)}#{entry.email.lower()}"
    return [
        {"pk": f"SUPPLIST#{entry.domain}", "sk": sk},
        {"pk": f"SUPPLIST#{entry.domain}#{entry.reason}", "sk": sk},
    ]


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
        """Suppress an address for a domain; the first reason recorded is kept. True when it is new. The
        entry and its listing items are written in one transaction."""
        values = entry.model_dump(mode="json")
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({**_key(entry.domain, entry.email), **values}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        items += [
            {"Put": {"TableName": self.table, "Item": to_item({**key, **values})}}
            for key in _listing_keys(entry)
        ]
        try:
            self.db.transact_write_items(TransactItems=items)
        except self.db.exceptions.TransactionCanceledException as cancelled:
            reasons = cancelled.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def get_suppression(self, domain: str, email: str) -> Suppression | None:
        values = self.get(_key(domain, email))
        return Suppression.model_validate(values) if values is not None else None

    def list_suppressions(self, domain: str) -> list[Suppression]:
        items = self.query_all(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues=to_item({":p": f"SUPP#{domain}"})
        )
        return [Suppression.model_validate(item) for item in items]

    def suppression_page(
        self, partition: Partition, *, after: str | None, since: datetime | None, limit: int
    ) -> IndexPage:
        pk = f"SUPPLIST#{partition.domain}" + (f"#{partition.value}" if partition.kind == "reason" else "")
        lower, upper = time_bounds(since, None)
        page = self.newest_first(pk, after=after, lower=lower, upper=upper, limit=limit)
        plain = [
            (sk, {k: v for k, v in values.items() if k not in ("pk", "sk")}) for sk, values in page.entries
        ]
        return IndexPage(entries=plain, more=page.more)

    def delete_suppression(self, domain: str, email: str) -> bool:
        response = self.db.delete_item(
            TableName=self.table, Key=to_item(_key(domain, email)), ReturnValues="ALL_OLD"
        )
        if "Attributes" not in response:
            return False
        entry = Suppression.model_validate(from_item(response["Attributes"]))
        for key in _listing_keys(entry):
            self.db.delete_item(TableName=self.table, Key=to_item(key))
        return True
