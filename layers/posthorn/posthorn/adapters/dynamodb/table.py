"""The one table every repository reads and writes, and the conversions between items and plain values."""

from __future__ import annotations

import json
import time
import zlib
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from posthorn.adapters.aws import client
from posthorn.models.listing import IndexPage

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int, the rest float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


def storable(details: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB takes no floats and no empty strings in sets: keep JSON-like details as plain JSON types."""
    return dict(json.loads(json.dumps(details, default=str), parse_float=Decimal))


class Table:
    """The table's name, and a DynamoDB client made on first use (or the one given, in tests and scripts).
    Clients are thread-safe; `client()` makes one per process under a lock."""

    def __init__(self, name: str, dynamodb: Any | None = None) -> None:
        self.name = name
        self._client = dynamodb

    @property
    def db(self) -> Any:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client


class Repository:
    """A repository's access to the table: `self.db` the client, `self.table` the table's name."""

    def __init__(self, table: Table) -> None:
        self._table = table

    @property
    def table(self) -> str:
        return self._table.name

    @property
    def db(self) -> Any:
        return self._table.db

    def get(self, key: dict[str, Any], *, consistent: bool = False) -> dict[str, Any] | None:
        """The item under `key` as plain values, or None."""
        options = {"ConsistentRead": True} if consistent else {}
        item = self.db.get_item(TableName=self.table, Key=to_item(key), **options).get("Item")
        return from_item(item) if item is not None else None

    def query_all(self, **query: Any) -> list[dict[str, Any]]:
        """Every item a query finds, page after page, as plain values."""
        pages = self.db.get_paginator("query").paginate(TableName=self.table, **query)
        return [from_item(item) for page in pages for item in page["Items"]]

    def newest_first(self, pk: str, *, after: str | None, lower: str, upper: str, limit: int) -> IndexPage:
        """One Query of a partition, newest (highest sort key) first, after the sort key `after`, within
        [lower, upper]: what the listing indexes are read with."""
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": to_item({":p": pk, ":lo": lower, ":hi": upper}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:
            query["ExclusiveStartKey"] = to_item({"pk": pk, "sk": after})
        page = self.db.query(**query)
        entries = [(str(values["sk"]), values) for values in map(from_item, page["Items"])]
        return IndexPage(entries=entries, more="LastEvaluatedKey" in page)

    def write_items(self, puts: list[dict[str, Any]], deletes: list[dict[str, Any]] | None = None) -> int:
        """Put and delete items (plain values; deletes by key) by BatchWriteItem, 25 at a time, unprocessed
        ones retried a few times with backoff. Returns how many could not be written."""
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in puts]
        requests += [{"DeleteRequest": {"Key": to_item(key)}} for key in deletes or []]
        left = 0
        for start in range(0, len(requests), 25):
            pending = requests[start : start + 25]
            for attempt in range(5):
                response = self.db.batch_write_item(RequestItems={self.table: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table, [])
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            left += len(pending)
        return left

    def listed(self, listing: str) -> list[dict[str, Any]]:
        """Every item of `listing` (credentials, domains) in creation order, through gsi1 (`listing_keys`)."""
        return self.query_all(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=to_item({":p": listing}),
        )


def listing_keys(listing: str, created_at: str, name: str) -> dict[str, str]:
    """gsi1's keys of an item listed in creation order under `listing` (`Repository.listed`)."""
    return {"gsi1pk": listing, "gsi1sk": f"{created_at}#{name}"}


def write_shard(message_id: str, shards: int) -> int:
    """Which of `shards` write shards a message's items go to: a stable hash of its id (the same in every
    process and on every retry), shared by the sharded counters (`stats.py`) and listings (`listing.py`)."""
    return zlib.crc32(message_id.encode()) % shards
