"""Hourly counters (`STATS#<domain>` / `H#<hour>`, and `STATS#<domain>#T#<tag>` / `H#<hour>` per tag): what
`GET /v1/stats` sums and the deliverability guard reads.

A counter is raised by an atomic `ADD` right after the conditional put that stores its event once
(`MessageEventRepository.put_event`), so an event SNS delivers twice is counted once: the second put fails
and nothing is counted. (Not one transaction: moto copies the whole table on every TransactWriteItems, which
made each event cost grow with the table and broke under concurrent writers. The price is that an events
function that dies between the two writes leaves that one event uncounted; it is never counted twice.)
Stats are sums of at most a few hundred of these items (30 days of hours), never a scan of messages.

A counter item expires (`ttl`) 400 days after its hour, whatever `MessageRetentionDays` says (docs/api.md,
"Retention"): it holds no address and no content, so a year of stats outlives the messages it counted. The
same ADD sets it, so keeping it costs no write of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
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


def stats_partition(domain: str, tag: str | None = None) -> str:
    return f"STATS#{domain}" if tag is None else f"STATS#{domain}#T#{tag}"


def counter_key(domain: str, tag: str | None, hour: str) -> dict[str, Any]:
    return to_item({"pk": stats_partition(domain, tag), "sk": f"H#{hour}"})


def counter_ttl(hour: str) -> int:
    """The `ttl` of the counters of `hour` (`2026-12-01T13`, UTC): 400 days after the hour began."""
    began = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return int(began.timestamp()) + COUNTER_RETENTION_SECONDS


def add_counts(
    repository: Repository, domain: str, tags: list[str], hour: str, counts: dict[str, int]
) -> None:
    """Add `counts` to the domain's hour and to each of its tags' (one atomic ADD per counter item, which also
    sets the item's expiry)."""
    counts = {name: amount for name, amount in counts.items() if amount}
    if not counts:
        return
    names = {f"#c{index}": name for index, name in enumerate(counts)} | {"#ttl": "ttl"}
    values = to_item({f":c{index}": amount for index, amount in enumerate(counts.values())})
    values.update(to_item({":ttl": counter_ttl(hour)}))
    expression = "ADD " + ", ".join(f"#c{index} :c{index}" for index in range(len(counts)))
    expression += " SET #ttl = :ttl"
    for tag in [None, *dict.fromkeys(tags)]:
        repository.db.update_item(
            TableName=repository.table,
            Key=counter_key(domain, tag, hour),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


class StatsRepository(Repository):
    def recent_hours(self, domain: str) -> Iterator[HourCounts]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :h)",
            "ExpressionAttributeValues": to_item({":p": stats_partition(domain), ":h": "H#"}),
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
        values = self.get({"pk": stats_partition(domain), "sk": f"H#{hour}"}, consistent=True)
        return _hour(values) if values is not None else HourCounts(hour)

    def hourly_counts(self, domain: str, tag: str | None, first: str, last: str) -> list[dict[str, Any]]:
        """Every counted hour from `first` to `last` (inclusive), oldest first: `{"hour", <counts>}`."""
        items = self.query_all(
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues=to_item(
                {":p": stats_partition(domain, tag), ":a": f"H#{first}", ":b": f"H#{last}"}
            ),
        )
        return [
            {"hour": item["sk"][2:], **{name: int(item.get(name, 0)) for name in COUNTED}} for item in items
        ]


def _hour(values: dict[str, Any]) -> HourCounts:
    return HourCounts(
        hour=str(values["sk"])[2:],
        sent=int(values.get("sent", 0)),
        bounced=int(values.get("bounced", 0)),
        complained=int(values.get("complained", 0)),
    )
