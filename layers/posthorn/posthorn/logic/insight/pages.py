"""One page of a listing over several index partitions (one per domain of the credential), newest first.

Each partition is read from where the cursor left it, `limit` entries at most, and the entries merged by
sort key: the newest `limit` of the merge are exactly the newest `limit` overall, since each partition gave
everything newer than its last entry. A page therefore costs one Query of `limit` items per partition,
whatever the partitions hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posthorn.logic.insight.cursors import Positions
from posthorn.models.listing import IndexPage, Partition

# fetch(partition, after, limit) -> the partition's next entries after `after`.
Fetch = Callable[[Partition, str | None, int], IndexPage]


def merged_page(
    fetch: Fetch, partitions: list[Partition], positions: Positions, limit: int
) -> tuple[list[tuple[str, dict[str, Any]]], Positions, bool]:
    """The next `limit` entries across `partitions`, the positions after them, and whether every partition
    is read to the end."""
    fetched: dict[int, IndexPage] = {}
    for index, name in enumerate(partitions):
        if index in positions and positions[index] is None:
            continue
        fetched[index] = fetch(name, positions.get(index), limit + 1)  # one more: is there a next page
    merged = sorted(
        ((sk, index, values) for index, page in fetched.items() for sk, values in page.entries),
        key=lambda entry: entry[0],
        reverse=True,
    )[:limit]
    after = dict(positions)
    taken: dict[int, list[str]] = {}
    for sk, index, _ in merged:
        taken.setdefault(index, []).append(sk)
    for index, page in fetched.items():
        used = taken.get(index, [])
        if len(used) == len(page.entries) and not page.more:
            after[index] = None
        elif used:
            after[index] = used[-1]
    done = all(after.get(index, "") is None for index in range(len(partitions)))
    return [(sk, values) for sk, _, values in merged], after, done
