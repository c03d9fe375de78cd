"""`GET /v1/stats`: sums of the hourly counters of the credential's domains (or one domain, or one tag),
by day or by hour. Counters are kept by the hour, so `since` and `until` count whole hours: the hour each
falls in is included.

Every count is per recipient: `sent` a recipient SES accepted (its Send event), `bounced` a hard bounce,
`opened` and `clicked` a recipient that opened or clicked at least once; `failed` and `suppressed` also
count what Posthorn failed or left out before SES saw it. Rates are over `sent` (docs/api.md, "Messages and
events").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from posthorn.errors import ValidationFailed
from posthorn.logic.events.suppressions import scope
from posthorn.logic.guard.pausing import hour_of
from posthorn.models.credentials import Credential
from posthorn.models.stats import StatsBucket, StatsCounts, StatsRates, StatsView
from posthorn.ports import StatsReader

DEFAULT_DAYS = 30
# The longest range a series may cover: a year by day, 31 days by hour.
MAX_RANGE = {"day": timedelta(days=366), "hour": timedelta(days=31)}
FIELDS = tuple(StatsCounts.model_fields)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _start_of(moment: datetime, interval: str) -> datetime:
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour.replace(hour=0) if interval == "day" else hour


def stats_for(
    credential: Credential,
    reader: StatsReader,
    *,
    now: datetime,
    domain: str | None = None,
    tag: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    interval: str = "day",
) -> StatsView:
    domains = scope(credential, domain)
    return domain_stats(
        domains,
        reader,
        now=now,
        domain=domains[0] if domain is not None else None,
        tag=tag,
        since=since,
        until=until,
        interval=interval,
    )


def domain_stats(
    domains: list[str],
    reader: StatsReader,
    *,
    now: datetime,
    domain: str | None,
    tag: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    interval: str = "day",
) -> StatsView:
    """The sums over `domains` (`domain`: the one asked for, or None for all of a credential's)."""
    until = until or now
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since > until:
        raise ValidationFailed.on("since", "must not be after until")
    if until - since > MAX_RANGE[interval]:
        raise ValidationFailed.on(
            "since", f"a series by {interval} covers at most {MAX_RANGE[interval].days} days"
        )
    step = timedelta(days=1) if interval == "day" else timedelta(hours=1)
    buckets: dict[datetime, dict[str, int]] = {}
    start = _start_of(since, interval)
    while start <= until:
        buckets[start] = dict.fromkeys(FIELDS, 0)
        start += step
    for name in domains:
        for row in reader.hourly_counts(name, tag, hour_of(since), hour_of(until)):
            at = _start_of(datetime.strptime(row["hour"], "%Y-%m-%dT%H").replace(tzinfo=UTC), interval)
            bucket = buckets.get(at)
            if bucket is not None:
                for field in FIELDS:
                    bucket[field] += int(row.get(field, 0))
    totals: dict[str, Any] = dict.fromkeys(FIELDS, 0)
    for bucket in buckets.values():
        for field in FIELDS:
            totals[field] += bucket[field]
    sent = totals["sent"]
    return StatsView(
        since=since,
        until=until,
        domain=domain,
        tag=tag,
        interval=interval,
        totals=StatsCounts(**totals),
        rates=StatsRates(
            bounce=_rate(totals["bounced"], sent),
            complaint=_rate(totals["complained"], sent),
            open=_rate(totals["opened"], sent),
            click=_rate(totals["clicked"], sent),
        ),
        series=[StatsBucket(start=start, **counts) for start, counts in buckets.items()],
    )
