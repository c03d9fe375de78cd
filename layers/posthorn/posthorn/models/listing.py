"""A listing's reads: one page of an index partition, and which partition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # annotations only
    pass


class IndexPage(NamedTuple):
    """One page of an index partition, newest first: each entry's sort key and the index item's values."""

    entries: list[tuple[str, dict[str, Any]]]
    more: bool


class Partition(NamedTuple):
    """One index partition of a listing: a domain's messages (or suppressions), all of them (`kind` None)
    or those with one `value` of `kind` (`recipient`, `tag`, `client_reference`, `status`; `reason`)."""

    domain: str
    kind: str | None = None
    value: str | None = None
