"""The deliverability guard (docs/api.md, "Deliverability guard"): pause one tenant's domain before its
bounces or complaints put the whole SES account under review (SES reviews at 5 % bounces or 0.1 %
complaints).

The window is the domain's last `window` recipients sent, read from the hourly counters the events function
keeps for the stats (`adapters/dynamodb/stats.py`): hours newest first, the oldest hour taken in proportion
so the window holds `window` sends. Bounces and complaints count in the hour they are recorded, which is
the hour of their send or a little later. Reading the counters instead of keeping a ring of recipients
costs no write at all on the send path; the read happens only when a hard bounce or a complaint is counted
(a few per cent of events), and stops as soon as the window is full.

A resume starts a fresh window (`WindowStart`): the hours before it no longer count, and neither does what
the hour of the resume had counted until then.

How a pause is announced goes through one port, `GuardAnnouncements` (`announce_paused`,
`announce_resumed`): the alarm topic today, the domain's webhooks when they exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from posthorn.errors import NotFound
from posthorn.logic.guard.held import release_held
from posthorn.models.domains import DomainRecord, Reputation, WindowStart
from posthorn.models.stats import HourCounts
from posthorn.ports import GuardAnnouncements, GuardCounters, GuardDomains, HeldMessages, QueueBodies

# How long a resume spends sending held messages back to the queue before it answers (API Gateway stops at
# 29 s); what is still held then goes out at the next resume, or when the worker next holds one.
RELEASE_SECONDS = 20.0
# docs/api.md, "Deliverability guard": never on fewer than 5 bounces or 3 complaints, whatever the rates say.
MIN_BOUNCES = 5
MIN_COMPLAINTS = 3


class GuardPolicy(NamedTuple):
    """The template's GuardWindow, GuardMinimum, GuardBounceRate and GuardComplaintRate (rates as
    fractions: 4 % is 0.04)."""

    window: int = 10_000
    minimum: int = 1_000
    bounce_rate: float = 0.04
    complaint_rate: float = 0.0008


def hour_of(moment: datetime) -> str:
    """The counters' hour key: `2026-12-01T13` (UTC), which sorts as time does."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def reputation(hours: Iterable[HourCounts], window: int, start: WindowStart | None = None) -> Reputation:
    """The last `window` sends of a domain and their hard bounces and complaints, from its hourly counters
    (newest first). The oldest hour that does not fit whole is taken in proportion; nothing before `start`."""
    sent = bounced = complained = 0.0
    for hour in hours:
        if start is not None and hour.hour < start.hour:
            break
        hour_sent, hour_bounced, hour_complained = hour.sent, hour.bounced, hour.complained
        if start is not None and hour.hour == start.hour:
            hour_sent = max(0, hour_sent - start.sent)
            hour_bounced = max(0, hour_bounced - start.bounced)
            hour_complained = max(0, hour_complained - start.complained)
        share = 1.0
        if hour_sent and sent + hour_sent > window:
            share = (window - sent) / hour_sent
        sent += hour_sent * share
        bounced += hour_bounced * share
        complained += hour_complained * share
        if sent >= window:
            break
    whole_sent = round(sent)
    return Reputation(
        window=window,
        sent=whole_sent,
        bounced=round(bounced),
        complained=round(complained),
        bounce_rate=round(bounced / sent, 6) if sent else 0.0,
        complaint_rate=round(complained / sent, 6) if sent else 0.0,
    )


def pause_reason(current: Reputation, policy: GuardPolicy) -> str | None:
    """Why the domain must pause now, or None: only with `minimum` sends in the window and the floors met."""
    if current.sent < max(1, policy.minimum):
        return None
    if current.bounced >= MIN_BOUNCES and current.bounce_rate >= policy.bounce_rate:
        return (
            f"bounce rate {current.bounce_rate:.2%} over the last {current.sent} recipients"
            f" reached {policy.bounce_rate:.2%} ({current.bounced} hard bounces)"
        )
    if current.complained >= MIN_COMPLAINTS and current.complaint_rate >= policy.complaint_rate:
        return (
            f"complaint rate {current.complaint_rate:.2%} over the last {current.sent} recipients"
            f" reached {policy.complaint_rate:.2%} ({current.complained} complaints)"
        )
    return None


@dataclass(frozen=True)
class GuardContext:
    domains: GuardDomains
    counters: GuardCounters
    announcements: GuardAnnouncements
    policy: GuardPolicy


def domain_reputation(record: DomainRecord, context: GuardContext) -> Reputation:
    hours = context.counters.recent_hours(record.domain)
    return reputation(hours, context.policy.window, record.window_start)


def check_domain(domain: str, context: GuardContext, now: datetime) -> DomainRecord | None:
    """After a hard bounce or complaint was counted: pause the domain if its window says so. The paused
    record when this call paused it (and announced it), else None (healthy, already paused, or unknown)."""
    record = context.domains.get_domain(domain)
    if record is None or record.paused:
        return None
    current = domain_reputation(record, context)
    reason = pause_reason(current, context.policy)
    if reason is None:
        return None
    paused = context.domains.pause_domain(domain, at=now, reason=reason)
    if paused is not None:  # this call paused it: announce once, however many events race here
        context.announcements.announce_paused(paused, current)
    return paused


def resume_domain(domain: str, context: GuardContext, now: datetime) -> DomainRecord:
    """Sending resumes with a fresh window from now. Idempotent: resuming a sending domain changes nothing."""
    record = context.domains.get_domain(domain)
    if record is None:
        raise NotFound(f"no domain {domain}")
    if not record.paused:
        return record
    counted = context.counters.hour_counts(domain, hour_of(now))
    start = WindowStart(
        hour=counted.hour, sent=counted.sent, bounced=counted.bounced, complained=counted.complained
    )
    resumed = context.domains.resume_domain(domain, window_start=start)
    if resumed is None:  # resumed by someone else in between
        return context.domains.get_domain(domain) or record
    context.announcements.announce_resumed(resumed)
    return resumed


class Resumed(NamedTuple):
    record: DomainRecord
    released: int  # held messages sent back to the queue
    more: bool  # some are still held (out of time, or a queue failure): resuming again continues


def resume_and_release(
    domain: str,
    context: GuardContext,
    held: HeldMessages,
    queue: QueueBodies,
    *,
    now: datetime,
    monotonic: Callable[[], float],
    seconds: float = RELEASE_SECONDS,
) -> Resumed:
    """A resume as the API and the local page make it: the domain sends again (`resume_domain`), and its held
    messages go back to the queue for at most `seconds` (the rest at the next resume)."""
    record = resume_domain(domain, context, now)
    deadline = monotonic() + seconds
    released, more = release_held(record.domain, held, queue, time_left=lambda: deadline - monotonic())
    return Resumed(record, released, more)


class WebhookAndAlarmAnnouncements:
    """`GuardAnnouncements` to both: the alarm topic, and the domain's webhooks through the webhooks'
    entry point for the guard (`announce_domain_event` in `logic/webhooks/fanout.py`): `domain.paused` with
    the reason and the reputation, `domain.resumed`."""

    def __init__(
        self, alarms: GuardAnnouncements, announce: Callable[[str, str, datetime, dict[str, Any]], object]
    ):
        self._alarms = alarms
        self._announce = announce

    def announce_paused(self, record: DomainRecord, reputation: Reputation) -> None:
        self._alarms.announce_paused(record, reputation)
        details = {
            "paused_at": record.paused_at.isoformat() if record.paused_at else None,
            "paused_reason": record.paused_reason,
            "reputation": reputation.model_dump(),
        }
        self._announce("domain.paused", record.domain, record.paused_at or datetime.now(UTC), details)

    def announce_resumed(self, record: DomainRecord) -> None:
        self._alarms.announce_resumed(record)
        start = record.window_start.hour if record.window_start else ""
        self._announce("domain.resumed", record.domain, datetime.now(UTC), {"window_starts": start})
