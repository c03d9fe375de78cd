"""One page of a listing over several index partitions (the credential's domains, each split over write
shards), newest first.

A k-way merge that reads each partition in small steps: every partition is read from where the cursor left
it, its share of the page at a time (`limit / partitions`, and one more), and read again only when the merge
has taken everything it gave and it has more. An entry is taken only when every partition that may hold a
newer one has its next entry in hand, so the page is exactly the newest `limit` entries overall. A page
therefore reads about `limit` entries plus a step per partition, not `limit` from each of them (8 write
shards of one domain made that 9 x 51 items for a page of 50).
"""

from __future__ import annotations

import math
from collections import deque
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
    after = dict(positions)
    reading = [
        index for index in range(len(partitions)) if not (index in positions and positions[index] is None)
    ]
    step = math.ceil(limit / max(1, len(reading))) + 1
    waiting: dict[int, deque[tuple[str, dict[str, Any]]]] = {index: deque() for index in reading}
    more = dict.fromkeys(reading, True)
    read_to = {index: positions.get(index) for index in reading}  # where the next read of each starts

    def refill(index: int) -> None:
        page = fetch(partitions[index], read_to[index], step)
        waiting[index].extend(page.entries)
        more[index] = page.more
        if page.entries:
            read_to[index] = page.entries[-1][0]

    taken: list[tuple[str, dict[str, Any]]] = []
    while len(taken) < limit:
        for index in reading:
            if not waiting[index] and more[index]:
                refill(index)
        heads = [index for index in reading if waiting[index]]
        if not heads:
            break
        newest = max(heads, key=lambda index: waiting[index][0][0])
        sk, values = waiting[newest].popleft()
        taken.append((sk, values))
        after[newest] = sk
    for index in reading:
        if not waiting[index] and not more[index]:
            after[index] = None  # read to the end, and all of it taken
    done = all(after.get(index, "") is None for index in range(len(partitions)))
    return taken, after, done
