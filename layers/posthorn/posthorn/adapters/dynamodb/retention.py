"""How long what is written for a message is kept (docs/api.md, "Retention"): every item of a message (the
record, its events, its listing and status items, a held copy, its webhook deliveries) carries the same `ttl`,
epoch seconds = the message's creation + `MessageRetentionDays`, and DynamoDB's TTL deletes each at that time;
0 days writes no `ttl` (kept for ever). Counted from the message's creation, not from each item's own write,
so an event or a delivery made weeks later goes with its message, never after it.

DynamoDB deletes an expired item when it gets to it, up to about 48 hours late, so readers check the `ttl`
themselves (`expired`): a message past it is gone to every reader, deleted yet or not. Readers check the
stored value, not one computed from today's setting: a changed retention applies to what is written from then
on, and items keep the expiry they were written with, which is when DynamoDB deletes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posthorn.ports import Clock

DAY_SECONDS = 24 * 3600
TTL = "ttl"  # the attribute the tables' TimeToLiveSpecification names


class Retention:
    """`days` of MessageRetentionDays (0: for ever), and the clock readers judge expiry by."""

    def __init__(self, days: int, clock: Clock) -> None:
        if days < 0:
            raise ValueError("retention days cannot be negative")
        self.days = days
        self.clock = clock

    def ttl(self, created_at: datetime) -> int | None:
        """The `ttl` of every item of a message created at `created_at`; None: no expiry."""
        if not self.days:
            return None
        return int(created_at.timestamp()) + self.days * DAY_SECONDS

    def expired(self, values: Mapping[str, Any]) -> bool:
        """Whether an item read back (plain values) is past its `ttl`: DynamoDB's own rule, an item is
        expired once its ttl is not after now."""
        ttl = values.get(TTL)
        return ttl is not None and int(ttl) <= self.clock.now().timestamp()

    def expired_item(self, item: Mapping[str, Any]) -> bool:
        """`expired` for an item as DynamoDB's client gives it (`{"ttl": {"N": "..."}}`)."""
        ttl = item.get(TTL)
        return ttl is not None and int(ttl["N"]) <= self.clock.now().timestamp()
