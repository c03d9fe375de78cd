"""`GET /v1/stats`: counts per recipient of what happened to a credential's messages, from the hourly
counters (`adapters/dynamodb/stats.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict


class StatsCounts(BaseModel):
    model_config = ConfigDict(defer_build=True)

    sent: int = 0
    delivered: int = 0
    delivery_delayed: int = 0
    bounced: int = 0
    complained: int = 0
    opened: int = 0
    clicked: int = 0
    rejected: int = 0
    failed: int = 0
    suppressed: int = 0


class StatsRates(BaseModel):
    model_config = ConfigDict(defer_build=True)

    bounce: float
    complaint: float
    open: float
    click: float


class StatsBucket(StatsCounts):
    start: datetime


class StatsView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    since: datetime
    until: datetime
    domain: str | None
    tag: str | None = None
    interval: str = "day"
    totals: StatsCounts
    rates: StatsRates
    series: list[StatsBucket]


class HourCounts(NamedTuple):
    """One hour of a domain's counters, as the guard reads them."""

    hour: str
    sent: int = 0
    bounced: int = 0
    complained: int = 0
