"""The deliverability guard's window arithmetic, thresholds and floors (logic/guard/pausing.py)."""

from __future__ import annotations

from posthorn.logic.guard.pausing import MIN_BOUNCES, MIN_COMPLAINTS, GuardPolicy, pause_reason, reputation
from posthorn.models.domains import Reputation, WindowStart
from posthorn.models.stats import HourCounts

POLICY = GuardPolicy(window=1000, minimum=100, bounce_rate=0.04, complaint_rate=0.0008)


def window(sent: int, bounced: int = 0, complained: int = 0) -> Reputation:
    return reputation([HourCounts("2026-12-01T10", sent, bounced, complained)], POLICY.window)


def test_the_window_takes_the_newest_hours_and_the_oldest_in_proportion() -> None:
    hours = [
        HourCounts("2026-12-01T12", sent=600, bounced=30),
        HourCounts("2026-12-01T11", sent=800, bounced=80),  # only half of it fits in a window of 1000
        HourCounts("2026-12-01T10", sent=500, bounced=500),  # outside the window entirely
    ]
    current = reputation(hours, 1000)
    assert (current.sent, current.bounced) == (1000, 30 + 40)
    assert current.bounce_rate == 0.07


def test_a_window_not_yet_full_counts_everything() -> None:
    current = reputation([HourCounts("2026-12-01T12", 30, 3, 1), HourCounts("2026-12-01T11", 20, 2)], 1000)
    assert (current.sent, current.bounced, current.complained) == (50, 5, 1)
    assert current.bounce_rate == 0.1


def test_a_resume_starts_a_fresh_window_without_what_its_hour_had_counted() -> None:
    hours = [
        HourCounts("2026-12-01T12", sent=40, bounced=2),
        HourCounts("2026-12-01T11", sent=100, bounced=60),  # the hour of the resume: 90 sent, 58 before it
        HourCounts("2026-12-01T10", sent=100, bounced=90),  # before the resume: gone
    ]
    start = WindowStart(hour="2026-12-01T11", sent=90, bounced=58)
    current = reputation(hours, 1000, start)
    assert (current.sent, current.bounced) == (50, 4)


def test_no_sends_is_a_zero_rate() -> None:
    assert reputation([], 1000) == Reputation(
        window=1000, sent=0, bounced=0, complained=0, bounce_rate=0.0, complaint_rate=0.0
    )


def test_the_bounce_rate_at_the_threshold_pauses() -> None:
    reason = pause_reason(window(1000, bounced=40), POLICY)
    assert reason is not None
    assert "bounce rate 4.00%" in reason
    assert pause_reason(window(1000, bounced=39), POLICY) is None


def test_the_complaint_rate_at_the_threshold_pauses() -> None:
    policy = POLICY._replace(complaint_rate=0.003)
    reason = pause_reason(window(1000, complained=3), policy)
    assert reason is not None
    assert "complaint rate" in reason
    assert pause_reason(window(1000, complained=2), policy) is None


def test_nothing_pauses_before_the_minimum_is_in_the_window() -> None:
    assert pause_reason(window(99, bounced=50), POLICY) is None
    assert pause_reason(window(100, bounced=50), POLICY) is not None


def test_never_on_fewer_than_five_bounces_or_three_complaints_whatever_the_rate() -> None:
    lenient = GuardPolicy(window=10, minimum=1, bounce_rate=0.01, complaint_rate=0.0001)
    assert (MIN_BOUNCES, MIN_COMPLAINTS) == (5, 3)
    assert pause_reason(window(10, bounced=4), lenient) is None
    assert pause_reason(window(10, bounced=5), lenient) is not None
    assert pause_reason(window(10, complained=2), lenient) is None
    assert pause_reason(window(10, complained=3), lenient) is not None


def test_the_template_defaults_are_api_md_s() -> None:
    from posthorn.settings import EventsSettings

    defaults = EventsSettings.model_fields
    assert defaults["guard_window"].default == 10_000
    assert defaults["guard_minimum"].default == 1_000
    assert defaults["guard_bounce_rate"].default == 4.0
    assert defaults["guard_complaint_rate"].default == 0.08
    assert GuardPolicy() == GuardPolicy(10_000, 1_000, 0.04, 0.0008)


def test_a_pause_and_a_resume_reach_the_alarm_topic_and_the_domains_webhooks() -> None:
    from datetime import UTC, datetime

    from posthorn.logic.guard.pausing import WebhookAndAlarmAnnouncements
    from posthorn.models.domains import Sending
    from tests.support.records import domain_record

    told: list[tuple[str, str]] = []

    class Alarms:
        def announce_paused(self, record: object, current: Reputation) -> None:
            told.append(("alarm", "paused"))

        def announce_resumed(self, record: object) -> None:
            told.append(("alarm", "resumed"))

    hooks: list[tuple[str, str, dict[str, object]]] = []
    announcements = WebhookAndAlarmAnnouncements(
        Alarms(), lambda kind, domain, at, details: hooks.append((kind, domain, details))
    )
    paused = domain_record().model_copy(
        update={
            "sending": Sending.PAUSED,
            "paused_at": datetime(2026, 12, 1, tzinfo=UTC),
            "paused_reason": "x",
        }
    )
    announcements.announce_paused(paused, window(1000, bounced=50))
    announcements.announce_resumed(domain_record())
    assert told == [("alarm", "paused"), ("alarm", "resumed")]
    assert [(kind, domain) for kind, domain, _ in hooks] == [
        ("domain.paused", "example.com"),
        ("domain.resumed", "example.com"),
    ]
    assert hooks[0][2]["paused_reason"] == "x"
    assert hooks[0][2]["reputation"]["bounced"] == 50  # type: ignore[index]


def test_a_resume_releases_held_messages_for_its_seconds_then_says_some_are_left() -> None:
    """One use case for the API's route and the local page: bounded, so a large backlog never holds the
    answer past API Gateway's 29 s; what is left goes out at the next resume."""
    from datetime import UTC, datetime

    from posthorn.logic.guard.pausing import GuardContext, resume_and_release
    from posthorn.models.domains import DomainRecord, Sending
    from posthorn.models.stats import HourCounts
    from tests.support.fakes import FakeHeldMessages, FakeQueueBodies
    from tests.support.records import domain_record

    paused = domain_record().model_copy(update={"sending": Sending.PAUSED})
    told: list[str] = []

    class Domains:
        def get_domain(self, domain: str) -> DomainRecord | None:
            return paused

        def pause_domain(self, domain: str, *, at: datetime, reason: str) -> DomainRecord | None:
            raise AssertionError("a resume pauses nothing")

        def resume_domain(self, domain: str, *, window_start: WindowStart) -> DomainRecord | None:
            return paused.model_copy(update={"sending": Sending.ENABLED, "window_start": window_start})

    class Counters:
        def recent_hours(self, domain: str) -> list[HourCounts]:
            return []

        def hour_counts(self, domain: str, hour: str) -> HourCounts:
            return HourCounts(hour, sent=40)

    class Announcements:
        def announce_paused(self, record: DomainRecord, current: Reputation) -> None:
            told.append("paused")

        def announce_resumed(self, record: DomainRecord) -> None:
            told.append("resumed")

    now = [0.0]

    class SlowQueue(FakeQueueBodies):
        def send_bodies(self, bodies: list[str]) -> set[int]:
            now[0] += 8.0  # each page of 100 takes 8 s
            return super().send_bodies(bodies)

    held = FakeHeldMessages()
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for index in range(400):
        held.hold("example.com", f"m{index}", f"body-{index}", at=at, created_at=at)
    guard = GuardContext(Domains(), Counters(), Announcements(), GuardPolicy())
    resumed = resume_and_release(
        "example.com", guard, held, SlowQueue(), now=at, monotonic=lambda: now[0], seconds=20
    )
    assert resumed.record.sending is Sending.ENABLED
    assert resumed.record.window_start == WindowStart(hour="2026-12-01T00", sent=40, bounced=0, complained=0)
    assert told == ["resumed"]
    assert (resumed.released, resumed.more) == (300, True)  # pages begun at 0, 8 and 16 s; none at 24 s
    assert len(held.held["example.com"]) == 100
