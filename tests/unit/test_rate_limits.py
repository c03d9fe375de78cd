"""Rate limits and send pacing on one GCRA timestamp per key, with an in-memory store."""

from __future__ import annotations

import pytest

from posthorn.errors import RateLimited
from posthorn.logic.sending.rate_limits import (
    RATE_PER_SHARD,
    enforce,
    reserve_slots,
    shard_rates,
    standing,
    take,
)
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


def test_a_fast_credentials_bucket_is_split_into_shards_that_add_up_to_its_rate() -> None:
    assert shard_rates(10) == [10]
    assert shard_rates(RATE_PER_SHARD) == [RATE_PER_SHARD]
    assert shard_rates(2000) == [400] * 5
    assert shard_rates(1001) == [334, 334, 333]
    assert all(max(shard_rates(rate)) <= RATE_PER_SHARD for rate in range(1, 10_001, 7))
    assert all(sum(shard_rates(rate)) == rate for rate in range(1, 10_001, 7))


def test_a_sharded_credential_sends_its_whole_burst_at_once_and_not_one_more() -> None:
    store = FakeRateStore()
    for _ in range(2000):
        enforce(store, "ph_fast", rate=2000, count=1, now_us=NOW)
    assert sorted(store.tats) == ["credential#ph_fast", *(f"credential#ph_fast#{n}" for n in range(1, 5))]
    with pytest.raises(RateLimited) as raised:
        enforce(store, "ph_fast", rate=2000, count=1, now_us=NOW)
    assert raised.value.headers["RateLimit-Limit"] == "2000"
    assert raised.value.headers["RateLimit-Remaining"] == "0"
    assert raised.value.headers["Retry-After"] == "1"
    # 2.5 ms later each shard (400 a second) has given back one message: 5 in all, as 2,000 a second gives.
    later = NOW + 2500
    for _ in range(5):
        enforce(store, "ph_fast", rate=2000, count=1, now_us=later)
    with pytest.raises(RateLimited):
        enforce(store, "ph_fast", rate=2000, count=1, now_us=later)


def test_a_sharded_credential_is_held_to_its_rate_over_time() -> None:
    store = FakeRateStore()
    sent = 0
    for millisecond in range(3000):  # 3 s, 5 attempts a millisecond: 5,000 a second against 2,000
        for _ in range(5):
            try:
                enforce(store, "ph_fast", rate=2000, count=1, now_us=NOW + millisecond * 1000)
                sent += 1
            except RateLimited:
                pass
    assert 2000 + 2 * 2000 - 10 <= sent <= 2000 + 3 * 2000  # the burst, then the rate


def test_standing_of_a_sharded_credential_sums_its_shards() -> None:
    store = FakeRateStore()
    assert standing(store, "ph_fast", rate=2000, now_us=NOW).remaining == 2000
    for _ in range(300):
        enforce(store, "ph_fast", rate=2000, count=1, now_us=NOW)
    stands = standing(store, "ph_fast", rate=2000, now_us=NOW)
    assert (stands.limit, stands.remaining, stands.reset_seconds) == (2000, 1700, 1)
