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


class Partition(NamedTuple):
    """One index partition of a listing: a domain's messages (or suppressions), all of them (`kind` None)
    or those with one `value` of `kind` (`recipient`, `tag`, `client_reference`, `status`; `reason`), in
    write shard `shard` of it (0, the unsharded key, for a partition that is not sharded)."""

    domain: str
    kind: str | None = None
    value: str | None = None
    shard: int = 0
