"""Rate limits and send pacing on one GCRA timestamp per key, with an in-memory store."""

from __future__ import annotations

import pytest

from posthorn.errors import RateLimited
from posthorn.logic.sending.rate_limits import enforce, reserve_slots, take
from send_api.errors import http_status
from tests.support.fakes import FakeRateStore

SECOND = 1_000_000
NOW = 1_800_000_000 * SECOND


def test_first_message_is_allowed_with_the_bucket_in_the_headers() -> None:
    decision = take(FakeRateStore(), "k", rate=10, count=1, now_us=NOW)
    assert decision.allowed
    assert decision.headers() == {"RateLimit-Limit": "10", "RateLimit-Remaining": "9", "RateLimit-Reset": "1"}


def test_a_burst_of_the_rate_is_allowed_and_the_next_message_waits_a_tenth_of_a_second() -> None:
    store = FakeRateStore()
    assert all(take(store, "k", rate=10, count=1, now_us=NOW).allowed for _ in range(10))
    refused = take(store, "k", rate=10, count=1, now_us=NOW)
    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    assert refused.remaining == 0
    assert take(store, "k", rate=10, count=1, now_us=NOW + SECOND // 10).allowed


def test_a_batch_counts_each_message_and_leaves_the_credential_waiting_out_the_debt() -> None:
    store = FakeRateStore()
    assert take(store, "k", rate=10, count=500, now_us=NOW).allowed  # a full bucket admits a big batch
    refused = take(store, "k", rate=10, count=1, now_us=NOW + 10 * SECOND)
    assert not refused.allowed
    assert refused.retry_after_seconds == 40
    assert refused.reset_seconds == 40
    assert take(store, "k", rate=10, count=1, now_us=NOW + 50 * SECOND).allowed


def test_a_batch_larger_than_the_bucket_needs_the_bucket_full() -> None:
    store = FakeRateStore()
    assert take(store, "k", rate=10, count=1, now_us=NOW).allowed
    assert not take(store, "k", rate=10, count=20, now_us=NOW).allowed
    assert take(store, "k", rate=10, count=20, now_us=NOW + SECOND // 10).allowed


def test_a_refused_request_costs_nothing() -> None:
    store = FakeRateStore()
    for _ in range(10):
        take(store, "k", rate=10, count=1, now_us=NOW)
    before = dict(store.tats)
    for _ in range(5):
        assert not take(store, "k", rate=10, count=1, now_us=NOW).allowed
    assert store.tats == before


def test_keys_do_not_share_a_bucket() -> None:
    store = FakeRateStore()
    assert take(store, "a", rate=1, count=1, now_us=NOW).allowed
    assert take(store, "b", rate=1, count=1, now_us=NOW).allowed
    assert not take(store, "a", rate=1, count=1, now_us=NOW).allowed


def test_enforce_raises_rate_limited_with_retry_after_and_ratelimit_headers() -> None:
    store = FakeRateStore()
    enforce(store, "ph_user", rate=1, count=1, now_us=NOW)
    with pytest.raises(RateLimited) as raised:
        enforce(store, "ph_user", rate=1, count=1, now_us=NOW)
    assert http_status(raised.value) == 429
    assert raised.value.code == "rate_limited"
    assert raised.value.headers == {
        "Retry-After": "1",
        "RateLimit-Limit": "1",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",
    }


def test_send_slots_are_spaced_at_the_rate_and_continue_where_the_last_reservation_ended() -> None:
    store = FakeRateStore()
    first = reserve_slots(store, "ses", rate=4, count=3, now_us=NOW)
    assert first == [NOW / SECOND, NOW / SECOND + 0.25, NOW / SECOND + 0.5]
    second = reserve_slots(store, "ses", rate=4, count=2, now_us=NOW)
    assert second == [NOW / SECOND + 0.75, NOW / SECOND + 1.0]
    assert reserve_slots(store, "ses", rate=4, count=0, now_us=NOW) == []


def test_slots_after_an_idle_time_start_now_without_a_burst() -> None:
    store = FakeRateStore()
    reserve_slots(store, "ses", rate=2, count=2, now_us=NOW)
    later = NOW + 60 * SECOND
    assert reserve_slots(store, "ses", rate=2, count=2, now_us=later) == [
        later / SECOND,
        later / SECOND + 0.5,
    ]
