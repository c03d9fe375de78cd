"""Listing cursors (logic/insight/cursors.py) and the merge of a page over several partitions
(logic/insight/pages.py)."""

from __future__ import annotations

from typing import Any

import pytest

from posthorn.errors import ValidationFailed
from posthorn.logic.insight.cursors import decode_cursor, derive_key, encode_cursor
from posthorn.logic.insight.pages import merged_page
from posthorn.models.listing import IndexPage, Partition

KEY = derive_key(b"pepper")


def test_a_cursor_round_trips_its_positions() -> None:
    positions = {0: "2026-12-01T10:00:00.000Z#msg_a", 1: None}
    cursor = encode_cursor(KEY, "ph_user", "scope", positions)
    assert decode_cursor(KEY, "ph_user", "scope", cursor) == positions


@pytest.mark.parametrize(
    ("username", "scope", "key"),
    [("ph_other", "scope", KEY), ("ph_user", "other filters", KEY), ("ph_user", "scope", derive_key(b"x"))],
)
def test_a_cursor_is_refused_for_another_caller_other_filters_or_another_stack(
    username: str, scope: str, key: bytes
) -> None:
    cursor = encode_cursor(KEY, "ph_user", "scope", {0: "a"})
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor(key, username, scope, cursor)
    assert refused.value.details == [{"field": "cursor", "message": refused.value.details[0]["message"]}]


def test_a_changed_cursor_is_refused() -> None:
    cursor = encode_cursor(KEY, "ph_user", "scope", {0: "2026-12-01T10:00:00.000Z#msg_a"})
    payload, _, signature = cursor.partition(".")
    for forged in (payload[:-1] + "x." + signature, payload + "." + signature[:-1] + "x", "", ".", "abc"):
        with pytest.raises(ValidationFailed):
            decode_cursor(KEY, "ph_user", "scope", forged)


def pages(partitions: dict[str, list[str]]) -> Any:
    def fetch(partition: Partition, after: str | None, limit: int) -> IndexPage:
        keys = sorted(partitions[partition.domain], reverse=True)
        if after is not None:
            keys = [key for key in keys if key < after]
        return IndexPage(entries=[(key, {"id": key}) for key in keys[:limit]], more=len(keys) > limit)

    return fetch


def test_pages_over_several_partitions_are_newest_first_and_end_with_no_cursor() -> None:
    data = {"a.com": ["01", "04", "05", "09"], "b.com": ["02", "03", "07"]}
    partitions = [Partition("a.com"), Partition("b.com")]
    positions: dict[int, str | None] = {}
    seen: list[str] = []
    done = False
    rounds = 0
    while not done:
        entries, positions, done = merged_page(pages(data), partitions, positions, 3)
        seen += [key for key, _ in entries]
        rounds += 1
    assert seen == ["09", "07", "05", "04", "03", "02", "01"]
    assert rounds == 3


def test_a_partition_read_to_the_end_is_not_read_again() -> None:
    asked: list[str] = []
    data = {"a.com": ["01"], "b.com": ["02", "03", "04", "05"]}

    def fetch(partition: Partition, after: str | None, limit: int) -> IndexPage:
        asked.append(partition.domain)
        return pages(data)(partition, after, limit)

    both = [Partition("a.com"), Partition("b.com")]
    _, positions, _ = merged_page(fetch, both, {}, 2)
    entries, positions, done = merged_page(fetch, both, positions, 2)
    assert [key for key, _ in entries] == ["03", "02"]
    assert positions[1] is None
    assert not done
    asked.clear()
    entries, positions, done = merged_page(fetch, both, positions, 2)
    assert asked == ["a.com"]
    assert [key for key, _ in entries] == ["01"]
    assert done


@pytest.mark.parametrize("seed", range(20))
def test_paging_any_partitions_gives_every_entry_once_newest_first(seed: int) -> None:
    import random

    chance = random.Random(seed)
    data = {
        f"d{n}.com": sorted({f"{chance.randrange(10_000):05d}" for _ in range(chance.randrange(0, 40))})
        for n in range(chance.randrange(1, 10))
    }
    partitions = [Partition(domain) for domain in data]
    everything = sorted((key for keys in data.values() for key in keys), reverse=True)
    seen: list[str] = []
    positions: dict[int, str | None] = {}
    done = False
    while not done:
        entries, positions, done = merged_page(pages(data), partitions, positions, chance.randrange(1, 30))
        seen += [key for key, _ in entries]
    assert seen == everything


def test_a_page_reads_about_the_page_not_the_page_from_every_partition() -> None:
    """Nine partitions (a domain's eight write shards and its old key), 200 entries each, interleaved: a page
    of 50 reads the page and a step of each partition, not 51 from each (459)."""
    data = {f"s{n}": [f"{index * 9 + n:05d}" for index in range(200)] for n in range(9)}
    read: list[int] = []

    def fetch(partition: Partition, after: str | None, limit: int) -> IndexPage:
        page = pages(data)(partition, after, limit)
        read.append(len(page.entries))
        return page

    partitions = [Partition(domain) for domain in data]
    entries, _, _ = merged_page(fetch, partitions, {}, 50)
    newest = sorted((key for keys in data.values() for key in keys), reverse=True)[:50]
    assert [key for key, _ in entries] == newest
    assert sum(read) <= 50 + 9 * 7
