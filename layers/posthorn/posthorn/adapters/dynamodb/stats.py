"""Hourly counters (`STATS#<domain>` / `H#<hour>`): what `GET /v1/stats` sums and the deliverability guard
reads. A tag's counts are attributes of the same item (`T#<tag>#<counter>`, `tag_counter`), so an event adds
to its domain and to every tag of its message in one UpdateItem (one write unit while the item is under 1 KB)
rather than one item per tag (a tagged message's three counted events were 6 write units, now 3).

A counter is raised by an atomic `ADD` right after the conditional put that stores its event once
(`MessageEventRepository.put_event`), so an event SNS delivers twice is counted once: the second put fails
and nothing is counted. (Not one transaction: moto copies the whole table on every TransactWriteItems, which
made each event cost grow with the table and broke under concurrent writers. The price is that an events
function that dies between the two writes leaves that one event uncounted; it is never counted twice.)
Stats are sums of at most a few hundred of these items per shard (30 days of hours), never a scan of messages.

Write shards: every event of a domain raises its counters, so one partition key per domain would take all of
a busy domain's counter writes, past DynamoDB's limit of about 1,000 write units a second per partition key
(three counted events a message, each an ADD of about one unit). Each counter is therefore split over
`COUNTER_SHARDS` partition keys: shard 0 is the unsharded key (`STATS#<domain>`), shard n > 0 puts the number
after the domain (`STATS#<domain>#<n>`; a domain holds no `#`, so no tag can make one key look like another).
A message's counts always go to the shard its id hashes to (`counter_shard`), so where a count lands never
depends on which attempt wrote it, and the exactly-once rule above is unchanged: a count is added once, to one
item. Readers add the shards up, hour by hour. Changing `COUNTER_SHARDS` later: readers must keep reading the
larger of the old and new counts for 400 days (a smaller count would leave the higher shards' items unread).

Tag items (`STATS#<domain>[#<n>]#T#<tag>` / `H#<hour>`, a tag's counts under the plain counter names): what
an older Posthorn wrote for every tag, and where a tag's counts still go when its hour's domain item has
grown past `INLINE_BYTES` (`_spilled`: many distinct tags in one hour would otherwise make every event of the
domain cost a write unit per KB of that item). A tag's figure is the sum of both, so nothing written before
needs migrating, and a count is in one place or the other, never both.

A counter item expires (`ttl`) 400 days after its hour, whatever `MessageRetentionDays` says (docs/api.md,
"Retention"): it holds no address and no content, so a year of stats outlives the messages it counted. The
same ADD sets it, so keeping it costs no write of its own.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from posthorn.adapters.aws import side_by_side
from posthorn.adapters.dynamodb.table import Repository, from_item, to_item, write_shard
from posthorn.models.stats import HourCounts

COUNTED = (
    "sent",
    "delivered",
    "delivery_delayed",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "rejected",
    "failed",
    "suppressed",
)
# The guard reads back at most this many hours (90 days) for a window that is never filled.
GUARD_LOOKBACK_HOURS = 90 * 24
COUNTER_RETENTION_SECONDS = 400 * 24 * 3600
# Partition keys each counter is split over. Three counted events a message (sent, delivered, opened) at
# 2,000 messages a second of one domain are 6,000 ADDs a second on each of its counters: over 10 shards 600
# a shard, which leaves room for a fourth counted event (a click: 800) and for a hash's unevenness before the
# 1,000 a partition key takes. Each read of a counter is one request per shard.
COUNTER_SHARDS = 10
# A domain's hour item past this size takes no new tag's counts (they go to the tag's own item): a write
# unit is 1 KB of the item, so below it one ADD covers the domain and its tags for one unit.
INLINE_BYTES = 800
# The hour items known to be past INLINE_BYTES, learnt from each ADD's answer; forgotten past this many.
_SPILLED_KEPT = 4096
_spilled: dict[tuple[str, str, str, int], None] = {}


def tag_counter(tag: str, counter: str) -> str:
    """The attribute of the domain's hour item that counts `counter` for `tag` (tags hold no `#`)."""
    return f"T#{tag}#{counter}"


def counter_shard(message_id: str) -> int:
    """The shard a message's counts go to: a stable hash of its id (the same in every process)."""
    return write_shard(message_id, COUNTER_SHARDS)


def stats_partition(domain: str, tag: str | None = None, shard: int = 0) -> str:
    base = f"STATS#{domain}" if shard == 0 else f"STATS#{domain}#{shard}"
    return base if tag is None else f"{base}#T#{tag}"


def counter_key(domain: str, tag: str | None, hour: str, shard: int = 0) -> dict[str, Any]:
    return to_item({"pk": stats_partition(domain, tag, shard), "sk": f"H#{hour}"})


def counter_ttl(hour: str) -> int:
    """The `ttl` of the counters of `hour` (`2026-12-01T13`, UTC): 400 days after the hour began."""
    began = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return int(began.timestamp()) + COUNTER_RETENTION_SECONDS


def add_counts(
    repository: Repository,
    domain: str,
    tags: list[str],
    hour: str,
    counts: dict[str, int],
    *,
    message_id: str,
) -> None:
    """Add `counts` (of the message `message_id`) to the domain's hour and to each of its tags', in the
    message's shard (one atomic ADD per counter item, which also sets the item's expiry)."""
    add_to_shard(repository, domain, tags, hour, counts, shard=counter_shard(message_id))


def add_to_shard(
    repository: Repository, domain: str, tags: list[str], hour: str, counts: dict[str, int], *, shard: int
) -> None:
    """`add_counts` for counts already summed by shard (several messages whose ids hash to `shard`): one
    ADD to the domain's hour item, its tags' counts as attributes of it, unless that item is known to be
    past `INLINE_BYTES`; then each tag's counts go to the tag's own item."""
    counts = {name: amount for name, amount in counts.items() if amount}
    if not counts:
        return
    tags = list(dict.fromkeys(tags))
    known = (repository.table, domain, hour, shard)
    inline, spilled = ([], tags) if known in _spilled else (tags, [])
    attributes = list(counts.items())
    attributes += [(tag_counter(tag, name), amount) for tag in inline for name, amount in counts.items()]
    answer = _add(repository, counter_key(domain, None, hour, shard), hour, attributes, new=bool(inline))
    if answer is not None and _size(answer) > INLINE_BYTES:
        if len(_spilled) >= _SPILLED_KEPT:
            _spilled.clear()
        _spilled[known] = None
    for tag in spilled:
        _add(repository, counter_key(domain, tag, hour, shard), hour, list(counts.items()), new=False)


def _add(
    repository: Repository,
    key: dict[str, Any],
    hour: str,
    attributes: list[tuple[str, int]],
    *,
    new: bool,
) -> dict[str, Any] | None:
    """One ADD of (attribute, amount) pairs to the item under `key`, setting its expiry; with `new`, the
    item as it is after it (to learn its size: the answer of a write costs no read unit)."""
    names = {f"#a{index}": attribute for index, (attribute, _) in enumerate(attributes)} | {"#ttl": "ttl"}
    values = to_item({f":a{index}": amount for index, (_, amount) in enumerate(attributes)})
    values.update(to_item({":ttl": counter_ttl(hour)}))
    expression = "ADD " + ", ".join(f"#a{index} :a{index}" for index in range(len(attributes)))
    response = repository.db.update_item(
        TableName=repository.table,
        Key=key,
        UpdateExpression=expression + " SET #ttl = :ttl",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW" if new else "NONE",
    )
    attributes_now: dict[str, Any] | None = response.get("Attributes")
    return attributes_now


def _size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it, near enough: names plus values (a number ~ half its digits)."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if "S" in value:
            total += len(value["S"].encode())
        elif "N" in value:
            total += len(value["N"]) // 2 + 2
        else:
            total += len(str(value).encode())
    return total


class StatsRepository(Repository):
    def recent_hours(self, domain: str) -> Iterator[HourCounts]:
        """The domain's counted hours, newest first, each summed over the shards: every shard's partition is
        read newest first, page by page as the caller goes on, and merged by hour."""
        shards = [self._newest_hours(stats_partition(domain, shard=shard)) for shard in range(COUNTER_SHARDS)]
        merged = heapq.merge(*shards, key=lambda hour: hour.hour, reverse=True)
        for hour, same in itertools.islice(
            itertools.groupby(merged, key=lambda hour: hour.hour), GUARD_LOOKBACK_HOURS
        ):
            yield _sum(hour, same)

    def _newest_hours(self, partition: str) -> Iterator[HourCounts]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :h)",
            "ExpressionAttributeValues": to_item({":p": partition, ":h": "H#"}),
            "ProjectionExpression": "sk, sent, bounced, complained",
            "ScanIndexForward": False,
            "Limit": 48,
        }
        read = 0
        while read < GUARD_LOOKBACK_HOURS:
            page = self.db.query(**query)
            for item in page["Items"]:
                read += 1
                yield _hour(from_item(item))
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            query["Limit"] = 240

    def hour_counts(self, domain: str, hour: str) -> HourCounts:
        """One hour of the domain, summed over the shards: one consistent BatchGetItem of every shard's item
        (the guard's window starts from it, so it must hold every count already made)."""
        pending: list[dict[str, Any]] = [
            counter_key(domain, None, hour, shard) for shard in range(COUNTER_SHARDS)
        ]
        found: list[HourCounts] = []
        for _ in range(10):
            response = self.db.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": pending,
                        "ConsistentRead": True,
                        "ProjectionExpression": "sk, sent, bounced, complained",
                    }
                }
            )
            found += [_hour(from_item(item)) for item in response.get("Responses", {}).get(self.table, [])]
            pending = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            if not pending:
                return _sum(hour, found)
        raise RuntimeError(f"the counters of {domain} for {hour} could not all be read")

    def hourly_counts(self, domain: str, tag: str | None, first: str, last: str) -> list[dict[str, Any]]:
        """Every counted hour from `first` to `last` (inclusive), oldest first: `{"hour", <counts>}`, each
        summed over the shards (queried side by side). A tag's counts: the attributes of the domain's items
        plus the tag's own items (written by an older Posthorn, or spilled)."""

        def shard_items(partition: str) -> list[dict[str, Any]]:
            return self.query_all(
                KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                ExpressionAttributeValues=to_item({":p": partition, ":a": f"H#{first}", ":b": f"H#{last}"}),
            )

        hours: dict[str, dict[str, Any]] = {}

        def add(items: list[dict[str, Any]], names: dict[str, str]) -> None:
            for item in items:
                if not any(attribute in item for attribute in names):
                    continue
                row = hours.setdefault(item["sk"][2:], {"hour": item["sk"][2:], **dict.fromkeys(COUNTED, 0)})
                for attribute, name in names.items():
                    row[name] += int(item.get(attribute, 0))

        plain = {name: name for name in COUNTED}
        domains = [stats_partition(domain, shard=shard) for shard in range(COUNTER_SHARDS)]
        if tag is None:
            for items in side_by_side().map(shard_items, domains):
                add(items, plain)
        else:
            inline = {tag_counter(tag, name): name for name in COUNTED}
            tagged = [stats_partition(domain, tag, shard) for shard in range(COUNTER_SHARDS)]
            for index, items in enumerate(side_by_side().map(shard_items, domains + tagged)):
                add(items, inline if index < len(domains) else plain)
        return [hours[hour] for hour in sorted(hours)]


def _hour(values: dict[str, Any]) -> HourCounts:
    return HourCounts(
        hour=str(values["sk"])[2:],
        sent=int(values.get("sent", 0)),
        bounced=int(values.get("bounced", 0)),
        complained=int(values.get("complained", 0)),
    )


def _sum(hour: str, shards: Iterable[HourCounts]) -> HourCounts:
    total = HourCounts(hour)
    for counted in shards:
        total = HourCounts(
            hour=hour,
            sent=total.sent + counted.sent,
            bounced=total.bounced + counted.bounced,
            complained=total.complained + counted.complained,
        )
    return total
