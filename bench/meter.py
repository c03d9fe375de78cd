"""What figures 10 and 11 count: every AWS request a process makes, and for DynamoDB the capacity units each
write and read consumes, per partition key, as DynamoDB bills them.

- `Meter` hooks a botocore session's events (`provide-client-params` and `after-call`, which every client
  made from the session afterwards copies) and counts each request under the label the driver set (a path
  and a function), with the billed size of SQS and SNS requests (one request per 64 KB chunk).
- DynamoDB capacity is computed, not asked for (ReturnConsumedCapacity would change the calls measured):
  before each write the meter reads the items it targets, after it the items as they are now, through a
  client of its own that is not counted, and prices the change with DynamoDB's rules below. Reads are
  priced from the items the answer carries. The tables' keys and indexes are the ones DescribeTable gives
  (the local stack creates them as template.yaml declares them).

DynamoDB's rules, as its documentation states them ("Item sizes and formats", "Capacity unit
consumption", "Global secondary indexes: provisioned throughput considerations"):
- An item's size is the sum of its attribute names' and values' sizes: strings and binary their bytes, a
  number about one byte per two significant digits plus one, null and booleans 1 byte, a list or map
  3 bytes plus each element's size and 1 byte per element (a map's element names count), sets their
  elements' sizes.
- A write consumes one write unit per 1 KB (rounded up, at least 1) of the larger of the item before and
  after it (PutItem, UpdateItem), of the item deleted (DeleteItem), each BatchWriteItem request on its own;
  a write whose condition fails still consumes the existing item's size (at least 1); a transactional
  write twice as much.
- Each global secondary index is written when the write changes what it holds of the item: putting an
  entry (the item gains the index's keys), deleting one (it loses them), both when an index key changes, one
  update when a projected attribute changes; each by the entry's size (table and index keys plus the
  projected attributes) per 1 KB.
- A read consumes one read unit per 4 KB (rounded up, at least 1) of what it reads, half of it when
  eventually consistent: GetItem and BatchGetItem per item, Query and Scan over the items returned
  together; twice as much in a transaction.
- Storage: each item's size plus 100 bytes, each index entry's size plus 100 bytes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

KB = 1024
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
STORAGE_OVERHEAD_BYTES = 100
CHUNK_BYTES = 64 * 1024  # SQS and SNS bill a request per 64 KB chunk of its payload

Item = dict[str, dict[str, Any]]  # DynamoDB's wire format: name -> {"S": ...} / {"N": ...} / ...


# --- sizes and units (pure) -------------------------------------------------------------------------------
def number_size(text: str) -> int:
    """A number's size: one byte per two significant digits (leading and trailing zeros trimmed), plus
    one, plus one for a negative number."""
    negative = text.strip().startswith("-")
    digits = str(Decimal(text).normalize()).lstrip("-").split("E")[0].replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1 + (1 if negative else 0)


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire format."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(inner.encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) + 1 for name, element in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def chunks(payload_bytes: int) -> int:
    """SQS and SNS requests billed for a payload: one per 64 KB, at least one."""
    return max(1, math.ceil(payload_bytes / CHUNK_BYTES))


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]  # partition key, then sort key if any
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    def key_of(self, item: Item) -> Item:
        return {name: item[name] for name in self.keys}


def table_shape(description: dict[str, Any]) -> TableShape:
    """A DescribeTable answer's `Table` as the keys and indexes the meter prices writes with."""

    def keys(schema: list[dict[str, str]]) -> tuple[str, ...]:
        ordered = sorted(schema, key=lambda k: k["KeyType"] != "HASH")
        return tuple(k["AttributeName"] for k in ordered)

    indexes = tuple(
        Index(
            name=index["IndexName"],
            keys=keys(index["KeySchema"]),
            projection=index["Projection"]["ProjectionType"],
            include=tuple(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in description.get("GlobalSecondaryIndexes", [])
    )
    return TableShape(description["TableName"], keys(description["KeySchema"]), indexes)


def index_entry(item: Item | None, table: TableShape, index: Index) -> Item | None:
    """What `index` holds of `item`: None when the item lacks one of the index's keys (a sparse index)."""
    if not item or any(key not in item for key in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    names = set(table.keys) | set(index.keys) | set(index.include if index.projection == "INCLUDE" else ())
    return {name: value for name, value in item.items() if name in names}


@dataclass(frozen=True)
class Units:
    """Write units one request spent on one partition: the table's or an index's."""

    table: str
    index: str | None
    partition: str  # the partition key's value
    units: float
    operation: str = ""  # the request's, set by the meter


def _partition(entry: Item, keys: tuple[str, ...]) -> str:
    [(_, value)] = entry[keys[0]].items()
    return str(value)


def item_write(
    table: TableShape,
    key: Item,
    old: Item | None,
    new: Item | None,
    *,
    applied: bool,
    transactional: bool = False,
) -> list[Units]:
    """The write units of one item's write (the item under `key` was `old`, is `new`): the table's, then
    each index's it changes (only the table's when its condition failed)."""
    factor = 2 if transactional else 1
    before = item_size(old)
    size = max(before, item_size(new)) if applied else before
    spent = [Units(table.name, None, _partition(key, table.keys), write_units(size) * factor)]
    if not applied:
        return spent
    for index in table.indexes:
        was, now = index_entry(old, table, index), index_entry(new, table, index)
        if was == now:
            continue
        if was is not None and (now is None or any(was[k] != now[k] for k in index.keys)):
            spent.append(
                Units(table.name, index.name, _partition(was, index.keys), write_units(item_size(was)))
            )
            was = None
        if now is not None:
            size = max(item_size(was), item_size(now))
            spent.append(Units(table.name, index.name, _partition(now, index.keys), write_units(size)))
    return spent


def stored_bytes(table: TableShape, item: Item) -> tuple[int, int]:
    """An item's storage: its own bytes and its index entries', each with DynamoDB's 100 bytes."""
    own = item_size(item) + STORAGE_OVERHEAD_BYTES
    entries = 0
    for index in table.indexes:
        entry = index_entry(item, table, index)
        if entry is not None:
            entries += item_size(entry) + STORAGE_OVERHEAD_BYTES
    return own, entries


# --- the meter ----------------------------------------------------------------------------------------------
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


@dataclass
class Read:
    table: str
    index: str | None
    partition: str
    units: float


@dataclass
class Tally:
    """What the requests made under one label came to."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, operation) -> calls
    billed: Counter[tuple[str, str]] = field(default_factory=Counter)  # ... -> billed requests (chunks)
    writes: list[Units] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    written: set[tuple[str, str]] = field(default_factory=set)  # (table, key as JSON) of every item written

    def write_units(self) -> float:
        return sum(w.units for w in self.writes)

    def read_units(self) -> float:
        return sum(r.units for r in self.reads)


class Meter:
    """Counts the requests of every client made from `emitter`'s session after `attach`, under `label`
    (None: not counted). `peek(table, key)` reads an item without being counted; `shape(table)` gives a
    table's keys and indexes."""

    def __init__(self, peek: Callable[[str, Item], Item | None], shape: Callable[[str], TableShape]) -> None:
        self.label: tuple[str, ...] | None = None
        self.tallies: dict[tuple[str, ...], Tally] = {}
        self._peek = peek
        self._shape = shape
        self._lock = threading.Lock()

    def attach(self, emitter: Any) -> None:
        emitter.register("provide-client-params", self._before)
        emitter.register("after-call", self._after)

    def tally(self, *labels: str) -> Tally:
        """Everything counted under labels starting with `labels`, added up."""
        total = Tally()
        with self._lock:
            for label, tally in self.tallies.items():
                if label[: len(labels)] == labels:
                    total.requests.update(tally.requests)
                    total.billed.update(tally.billed)
                    total.writes += tally.writes
                    total.reads += tally.reads
                    total.written |= tally.written
        return total

    def _tally(self, label: tuple[str, ...]) -> Tally:
        return self.tallies.setdefault(label, Tally())

    # -- hooks
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        label = self.label
        if label is None:
            return
        service = model.service_model.service_id.hyphenize()
        context["bench_label"] = label
        billed = 1
        if service in ("sqs", "sns"):
            billed = chunks(_payload(model.name, params))
        with self._lock:
            tally = self._tally(label)
            tally.requests[(service, model.name)] += 1
            tally.billed[(service, model.name)] += billed
        if service == "dynamodb" and model.name in _WRITES:
            targets = list(_write_targets(model.name, params, self._shape))
            context["bench_targets"] = [
                (table, key, self._peek(table.name, key), transactional)
                for table, key, transactional in targets
            ]
        if service == "dynamodb" and model.name in _READS:
            context["bench_read"] = copy.deepcopy(params)

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        label = context.get("bench_label")
        if label is None:
            return
        if "bench_targets" in context:
            error = parsed.get("Error", {}).get("Code")
            applied = error is None
            spent: list[Units] = []
            written: set[tuple[str, str]] = set()
            for table, key, old, transactional in context["bench_targets"]:
                new = self._peek(table.name, key) if applied else old
                spent += [
                    dataclasses.replace(units, operation=model.name)
                    for units in item_write(
                        table, key, old, new, applied=applied, transactional=transactional
                    )
                ]
                if applied:
                    written.add((table.name, json.dumps(key, sort_keys=True, default=str)))
            with self._lock:
                tally = self._tally(label)
                tally.writes += spent
                tally.written |= written
        elif "bench_read" in context:
            reads = list(_read_units(model.name, context["bench_read"], parsed, self._shape))
            with self._lock:
                self._tally(label).reads.extend(reads)


def _payload(operation: str, params: dict[str, Any]) -> int:
    """An SQS or SNS request's payload bytes (message bodies and attributes)."""

    def one(entry: dict[str, Any]) -> int:
        body = entry.get("MessageBody", entry.get("Message", "")) or ""
        size = len(body.encode()) if isinstance(body, str) else len(body)
        for name, value in (entry.get("MessageAttributes") or {}).items():
            data = value.get("StringValue") or value.get("BinaryValue") or b""
            size += len(name) + len(value.get("DataType", "")) + len(data)
        return size

    if operation in ("SendMessageBatch", "PublishBatch"):
        entries = params.get("Entries") or params.get("PublishBatchRequestEntries") or []
        return sum(one(entry) for entry in entries)
    return one(params)


def _write_targets(
    operation: str, params: dict[str, Any], shape: Callable[[str], TableShape]
) -> Iterable[tuple[TableShape, Item, bool]]:
    if operation == "PutItem":
        table = shape(params["TableName"])
        yield table, table.key_of(params["Item"]), False
    elif operation in ("UpdateItem", "DeleteItem"):
        yield shape(params["TableName"]), dict(params["Key"]), False
    elif operation == "BatchWriteItem":
        for name, requests in params["RequestItems"].items():
            table = shape(name)
            for request in requests:
                if "PutRequest" in request:
                    yield table, table.key_of(request["PutRequest"]["Item"]), False
                else:
                    yield table, dict(request["DeleteRequest"]["Key"]), False
    elif operation == "TransactWriteItems":
        for action in params["TransactItems"]:
            [(kind, request)] = action.items()
            table = shape(request["TableName"])
            key = table.key_of(request["Item"]) if kind == "Put" else dict(request["Key"])
            yield table, key, True


def _read_units(
    operation: str, params: dict[str, Any], parsed: dict[str, Any], shape: Callable[[str], TableShape]
) -> Iterable[Read]:
    if parsed.get("Error"):
        return
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        table = shape(params["TableName"])
        yield Read(
            table.name,
            None,
            _partition(params["Key"], table.keys),
            read_units(item_size(parsed.get("Item")), consistent=consistent),
        )
    elif operation == "BatchGetItem":
        for name, request in params["RequestItems"].items():
            table = shape(name)
            found = {
                json.dumps(table.key_of(item), sort_keys=True, default=str): item
                for item in parsed.get("Responses", {}).get(name, [])
            }
            for key in request["Keys"]:
                item = found.get(json.dumps(dict(key), sort_keys=True, default=str))
                yield Read(
                    name,
                    None,
                    _partition(key, table.keys),
                    read_units(item_size(item), consistent=bool(request.get("ConsistentRead"))),
                )
    elif operation in ("Query", "Scan"):
        table = shape(params["TableName"])
        index = params.get("IndexName")
        items = parsed.get("Items", [])
        keys = next((i.keys for i in table.indexes if i.name == index), table.keys)
        partition = _partition(items[0], keys) if items and keys[0] in items[0] else "?"
        if operation == "Query":
            partition = _query_partition(params) or partition
        size = sum(item_size(item) for item in items)
        yield Read(table.name, index, partition, read_units(size, consistent=consistent))
    elif operation == "TransactGetItems":
        for action, answer in zip(params["TransactItems"], parsed.get("Responses", []), strict=False):
            request = action["Get"]
            table = shape(request["TableName"])
            units = 2 * read_units(item_size(answer.get("Item")), consistent=True)
            yield Read(table.name, None, _partition(request["Key"], table.keys), units)


def _query_partition(params: dict[str, Any]) -> str | None:
    """The partition key value a Query names (`pk = :p`), from its expression and values."""
    expression = str(params.get("KeyConditionExpression", ""))
    values = params.get("ExpressionAttributeValues") or {}
    first = expression.split(" AND ")[0].split("=")
    if len(first) != 2:
        return None
    value = values.get(first[1].strip())
    if not value:
        return None
    [(_, inner)] = value.items()
    return str(inner)
