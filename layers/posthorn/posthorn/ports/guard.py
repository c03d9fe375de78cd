"""The deliverability guard: the counters it reads, the domains it pauses, the messages it parks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from posthorn.ports.accounts import SenderDomains

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from collections.abc import Iterable
    from datetime import datetime

    from posthorn.models.domains import DomainRecord, Reputation, WindowStart
    from posthorn.models.send_queue import HeldMessage
    from posthorn.models.stats import HourCounts


class GuardCounters(Protocol):
    def recent_hours(self, domain: str) -> Iterable[HourCounts]:
        """The domain's hourly counters, newest first, read page by page as the caller iterates."""
        ...

    def hour_counts(self, domain: str, hour: str) -> HourCounts: ...


class GuardDomains(SenderDomains, Protocol):
    def pause_domain(self, domain: str, *, at: datetime, reason: str) -> DomainRecord | None:
        """Pause a domain that sends; the paused record, or None when it was paused already (or unknown)."""
        ...

    def resume_domain(self, domain: str, *, window_start: WindowStart) -> DomainRecord | None:
        """Let a paused domain send again from a fresh window; None when it was not paused."""
        ...


class GuardAnnouncements(Protocol):
    """Where the guard says it paused or resumed a domain: the alarm topic (and the domain's webhooks)."""

    def announce_paused(self, record: DomainRecord, reputation: Reputation) -> None: ...
    def announce_resumed(self, record: DomainRecord) -> None: ...


class HeldMessages(Protocol):
    """The send worker parks messages of a paused domain here; a resume sends them back to the queue."""

    def hold(self, domain: str, message_id: str, body: str, *, at: datetime, created_at: datetime) -> None:
        """Park a message from `at`; `created_at` is the message's own (its held copy expires with it)."""
        ...

    def held_messages(self, domain: str, *, limit: int) -> list[HeldMessage]: ...
    def forget_held(self, domain: str, held: list[HeldMessage]) -> None: ...


class QueueBodies(Protocol):
    """Queue messages sent again exactly as they were (a resume releases held messages)."""

    def send_bodies(self, bodies: list[str]) -> set[int]:
        """Send each body as a queue message; returns the positions that could not be sent."""
        ...
