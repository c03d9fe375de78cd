"""The hourly counters split over write shards (`adapters/dynamodb/stats.py`): readers add the shards up to
the figures one unsharded counter held, counters written before the shards (on the unsharded key) are still
counted, and the stats route and the guard answer the same for the same events. Against moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from posthorn.adapters.dynamodb import stats
from posthorn.models.stats import HourCounts
from tests.conftest import Stack
from tests.support.api import ApiClient

DOMAIN = "example.com"


def repository() -> stats.StatsRepository:
    from posthorn import wiring

    return wiring.stats()


def hour(hours_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H")


def message_ids(count: int) -> list[str]:
    return [f"msg_{index:024d}" for index in range(count)]


def old_counter(stack: Stack, pk: str, at: str, **counts: int) -> None:
    """A counter item as the code before the shards wrote it: on the unsharded key."""
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": f"H#{at}"}}
    item |= {name: {"N": str(amount)} for name, amount in counts.items()}
    stack.session.client("dynamodb").put_item(TableName=stack.table, Item=item)


def partitions(stack: Stack) -> set[str]:
    items = stack.session.client("dynamodb").scan(TableName=stack.table)["Items"]
    return {item["pk"]["S"] for item in items if item["pk"]["S"].startswith("STATS#")}


def test_a_message_always_counts_in_the_same_shard_and_messages_spread_over_all_of_them() -> None:
    ids = message_ids(400)
    assert [stats.counter_shard(message_id) for message_id in ids] == [
        stats.counter_shard(message_id) for message_id in ids
    ]
    assert {stats.counter_shard(message_id) for message_id in ids} == set(range(stats.COUNTER_SHARDS))


def test_shard_keys_keep_the_unsharded_key_as_shard_0_and_never_meet_a_tag() -> None:
    assert stats.stats_partition(DOMAIN) == "STATS#example.com"
    assert stats.stats_partition(DOMAIN, "receipt") == "STATS#example.com#T#receipt"
    assert stats.stats_partition(DOMAIN, shard=3) == "STATS#example.com#3"
    assert stats.stats_partition(DOMAIN, "receipt", 3) == "STATS#example.com#3#T#receipt"
    keys = {
        stats.stats_partition(DOMAIN, tag, shard)
        for tag in (None, "3", "T", "a#3", "3#T#x")
        for shard in range(stats.COUNTER_SHARDS)
    }
    assert len(keys) == 5 * stats.COUNTER_SHARDS


def test_sharded_counters_add_up_to_what_one_counter_held(stack: Stack) -> None:
    store = repository()
    events = [
        (
            message_id,
            hour(index % 3),
            {"sent": 2, "delivered": 1, "bounced": index % 2, "complained": index % 5 == 0},
        )
        for index, message_id in enumerate(message_ids(60))
    ]
    expected: dict[str, dict[str, int]] = {}
    for message_id, at, counts in events:
        counts = {name: int(amount) for name, amount in counts.items()}
        stats.add_counts(store, DOMAIN, ["receipt"], at, counts, message_id=message_id)
        row = expected.setdefault(at, dict.fromkeys(stats.COUNTED, 0))
        for name, amount in counts.items():
            row[name] += amount
    # The domain's, every shard; the tag's counts are attributes of its items, not items of their own.
    assert partitions(stack) == {stats.stats_partition(DOMAIN, shard=n) for n in range(stats.COUNTER_SHARDS)}

    hours = [hour(2), hour(1), hour(0)]
    want = [{"hour": at, **expected[at]} for at in hours]
    assert store.hourly_counts(DOMAIN, None, hours[0], hours[-1]) == want
    assert store.hourly_counts(DOMAIN, "receipt", hours[0], hours[-1]) == want
    assert store.hourly_counts(DOMAIN, None, hours[1], hours[1]) == want[1:2]
    assert store.hourly_counts(DOMAIN, "other", hours[0], hours[-1]) == []

    recent = [
        HourCounts(at, expected[at]["sent"], expected[at]["bounced"], expected[at]["complained"])
        for at in hours
    ]
    assert list(store.recent_hours(DOMAIN)) == list(reversed(recent))
    assert store.hour_counts(DOMAIN, hours[1]) == recent[1]
    assert store.hour_counts(DOMAIN, hour(30)) == HourCounts(hour(30))


def test_counters_written_before_the_shards_are_still_counted(stack: Stack) -> None:
    store = repository()
    old_counter(stack, "STATS#example.com", hour(5), sent=7, bounced=2)
    old_counter(stack, "STATS#example.com#T#receipt", hour(5), sent=4)
    old_counter(stack, "STATS#example.com", hour(1), sent=3, complained=1)
    for message_id in message_ids(20):
        stats.add_counts(store, DOMAIN, ["receipt"], hour(1), {"sent": 1}, message_id=message_id)

    assert [(row["hour"], row["sent"]) for row in store.hourly_counts(DOMAIN, None, hour(5), hour(0))] == [
        (hour(5), 7),
        (hour(1), 23),
    ]
    assert [row["sent"] for row in store.hourly_counts(DOMAIN, "receipt", hour(5), hour(0))] == [4, 20]
    assert list(store.recent_hours(DOMAIN)) == [HourCounts(hour(1), 23, 0, 1), HourCounts(hour(5), 7, 2, 0)]
    assert store.hour_counts(DOMAIN, hour(1)) == HourCounts(hour(1), 23, 0, 1)


def test_the_guard_reads_hours_newest_first_across_shards_with_more_than_a_page_each(stack: Stack) -> None:
    store = repository()
    for back in range(60):  # more hours in every shard than its first page (48)
        for shard in range(stats.COUNTER_SHARDS):
            stats.add_to_shard(store, DOMAIN, [], hour(back), {"sent": 2, "bounced": back % 2}, shard=shard)
    read = list(store.recent_hours(DOMAIN))
    assert [counted.hour for counted in read] == [hour(back) for back in range(60)]
    shards = stats.COUNTER_SHARDS
    assert [(counted.sent, counted.bounced) for counted in read] == [
        (2 * shards, back % 2 * shards) for back in range(60)
    ]


def test_the_stats_route_and_the_guard_count_old_and_sharded_counters(
    stack: Stack, api: ApiClient, admin: str, sender_key: str
) -> None:
    store = repository()
    old_counter(stack, "STATS#example.com", hour(2), sent=10, bounced=1, delivered=9)
    for message_id in message_ids(30):
        stats.add_counts(store, DOMAIN, [], hour(0), {"sent": 1, "delivered": 1}, message_id=message_id)
    totals = api.get("/v1/stats", api_key=sender_key).json["totals"]
    assert (totals["sent"], totals["delivered"], totals["bounced"]) == (40, 39, 1)
    reputation = api.get(f"/v1/domains/{DOMAIN}", api_key=admin).json["reputation"]
    assert (reputation["sent"], reputation["bounced"]) == (40, 1)


def test_many_tags_in_one_hour_spill_to_their_own_items_and_each_tag_still_counts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats, "_spilled", {})
    store = repository()
    tags = [f"campaign-{index:03d}-with-a-long-name" for index in range(40)]
    for tag in tags:
        stats.add_to_shard(store, DOMAIN, [tag], hour(0), {"sent": 1, "delivered": 1}, shard=1)
    items = stack.session.client("dynamodb").scan(TableName=stack.table)["Items"]
    [domain_item] = [item for item in items if item["pk"]["S"] == stats.stats_partition(DOMAIN, shard=1)]
    # Kept near one write unit: past INLINE_BYTES the next tags went to items of their own.
    assert stats._size(domain_item) < 1024
    assert {item["pk"]["S"] for item in items} > {stats.stats_partition(DOMAIN, tags[-1], 1)}
    for tag in tags:
        [row] = store.hourly_counts(DOMAIN, tag, hour(0), hour(0))
        assert (row["sent"], row["delivered"]) == (1, 1), tag
    [total] = store.hourly_counts(DOMAIN, None, hour(0), hour(0))
    assert (total["sent"], total["delivered"]) == (40, 40)
