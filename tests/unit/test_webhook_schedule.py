"""The retry schedule, its jitter, Retry-After, and what each answer means."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from posthorn.logic.webhooks.schedule import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_SECONDS,
    retry_after_seconds,
    retry_delay,
    verdict,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_schedule_is_the_contracts_5s_to_24h_ten_attempts_over_three_days() -> None:
    assert RETRY_DELAYS_SECONDS == (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert MAX_ATTEMPTS == 10
    assert 3 * 86400 < sum(RETRY_DELAYS_SECONDS) < 4 * 86400


@pytest.mark.parametrize(("failures", "base"), list(enumerate(RETRY_DELAYS_SECONDS, start=1)))
def test_each_retry_is_its_step_plus_up_to_ten_percent(failures: int, base: int) -> None:
    rng = random.Random(failures)
    delays = [retry_delay(failures, rng=rng) for _ in range(200)]
    spread = max(1.0, base * 0.1)
    assert all(d is not None and base <= d <= base + spread for d in delays)
    assert len({round(d or 0, 3) for d in delays}) > 100  # jittered, not one value


def test_no_retry_after_the_tenth_failure() -> None:
    assert retry_delay(MAX_ATTEMPTS) is None
    assert retry_delay(MAX_ATTEMPTS - 1) is not None


def test_retry_after_later_than_the_step_is_honoured_and_capped_at_a_day() -> None:
    assert retry_delay(1, retry_after=120, rng=random.Random(1)) == 120
    assert retry_delay(1, retry_after=10 * 86400, rng=random.Random(1)) == 86400


def test_retry_after_sooner_than_the_step_does_not_shorten_it() -> None:
    delay = retry_delay(2, retry_after=1, rng=random.Random(1))
    assert delay is not None
    assert delay >= 270


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read_as_seconds_or_http_date_on_429_and_503(status: int) -> None:
    assert retry_after_seconds(status, "30", NOW) == 30
    later = format_datetime(NOW + timedelta(minutes=2), usegmt=True)
    assert retry_after_seconds(status, later, NOW) == 120


@pytest.mark.parametrize(("status", "value"), [(500, "30"), (429, "soon"), (429, None), (None, "30")])
def test_retry_after_is_ignored_elsewhere_or_when_unreadable(status: int | None, value: str | None) -> None:
    assert retry_after_seconds(status, value, NOW) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "succeeded"),
        (204, "succeeded"),
        (299, "succeeded"),
        (410, "gone"),
        (301, "retry"),
        (302, "retry"),
        (404, "retry"),
        (429, "retry"),
        (500, "retry"),
        (None, "retry"),
    ],
)
def test_verdict_of_each_answer(status: int | None, expected: str) -> None:
    assert verdict(status) == expected
