"""A listing's reads: one page of an index partition, and which partition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # annotations only
    pass


class IndexPage(NamedTuple):
    """One page of an index partition, newest first: each entry's sort key and the index item's values."""

    entries: list[tuple[str, dict[str, Any]]]
    more: bool


# The message listing's partitions that every message of a domain writes to (all of its messages, a tag's,
# a status's) are each split over this many write shards (`adapters/dynamodb/listing.py`); a listing reads
# every shard and merges them. Recipient and client-reference partitions are one message's or a few.
LISTING_SHARDS = 8
SHARDED_KINDS = (None, "tag", "status")
# The statuses nearly every message passes through or ends in have no status partition: a message would
# otherwise put and delete an item there at each step of its life (7 of the 25 write units a message cost,
# bench/cost.py). A listing filtered by one of them reads the domain's partition and checks each message's
# own status, as it checks `from_email`; at most `READ_ROUNDS` x `limit` entries a page, so a page may be
# short while `next_cursor` says there are more. The other statuses (delayed, clicked, bounced, complained
# and the terminal ones) are reached by few messages, so their partitions cost little and keep those
# listings dense.
PATH_STATUSES = frozenset({"queued", "sent", "delivered", "opened"})


def has_status_partition(status: str) -> bool:
    """Whether messages in `status` are written under a status partition of their own."""
    return status not in PATH_STATUSES


class Partition(NamedTuple):
    """One index partition of a listing: a domain's messages (or suppressions), all of them (`kind` None)
    or those with one `value` of `kind` (`recipient`, `tag`, `client_reference`, `status`; `reason`), in
    write shard `shard` of it (0, the unsharded key, for a partition that is not sharded)."""

    domain: str
    kind: str | None = None
    value: str | None = None
    shard: int = 0
