"""Reading back: a message, the listing indexes, the stats counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from datetime import datetime

    from posthorn.models.listing import IndexPage, Partition
    from posthorn.models.messages import MessageRecord


class MessageReader(Protocol):
    def get_message(self, message_id: str) -> tuple[MessageRecord, list[dict[str, Any]]] | None:
        """The message with its recipients (in request order) and its stored events."""
        ...


class MessageIndex(Protocol):
    """The listing routes: index partitions of messages (`adapters/dynamodb/listing.py`) and the records."""

    def index_page(
        self,
        partition: Partition,
        *,
        after: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> IndexPage:
        """Up to `limit` entries created from `since` to `until`, newest first, after the sort key `after`."""
        ...

    def message_records(self, message_ids: list[str]) -> dict[str, MessageRecord]: ...


class SuppressionIndex(Protocol):
    """The suppression list's pages (`GET /v1/suppressions`)."""

    def suppression_page(
        self, partition: Partition, *, after: str | None, since: datetime | None, limit: int
    ) -> IndexPage: ...


class StatsReader(Protocol):
    """`GET /v1/stats`: the hourly counters of one domain (or one tag of it) between two hours."""

    def hourly_counts(self, domain: str, tag: str | None, first: str, last: str) -> list[dict[str, Any]]: ...
