"""The relay's limits (smtp_relay/protection.py): connections, sessions per credential, failed AUTHs per
address in a sliding window, and the DATA memory budget."""

from __future__ import annotations

import asyncio

import pytest

from smtp_relay.protection import AuthThrottle, ConnectionGate, MemoryBudget


def test_connections_and_sessions_per_credential_are_bounded_and_given_back() -> None:
    gate = ConnectionGate(max_connections=2, max_per_credential=1)
    assert gate.admit()
    assert gate.admit()
    assert not gate.admit()
    gate.leave()
    assert gate.admit()
    assert gate.join("ph_a")
    assert not gate.join("ph_a")
    assert gate.join("ph_b")
    gate.part("ph_a")
    assert gate.join("ph_a")


def test_failed_auths_block_an_address_until_the_window_passes() -> None:
    now = [1000.0]
    throttle = AuthThrottle(limit=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("192.0.2.1")
        throttle.failed("192.0.2.1")
    assert throttle.blocked("192.0.2.1")
    assert not throttle.blocked("192.0.2.2")
    now[0] += 61
    assert not throttle.blocked("192.0.2.1")


def test_an_address_failing_while_blocked_stays_blocked_and_holds_only_its_newest_failures() -> None:
    now = [1000.0]
    throttle = AuthThrottle(limit=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(10_000):  # failures from a blocked address are still counted (its AUTHs are checked)
        throttle.failed("192.0.2.1")
        now[0] += 0.01
    assert throttle.blocked("192.0.2.1")
    assert len(throttle._failures["192.0.2.1"]) == 3
    now[0] += 61
    assert not throttle.blocked("192.0.2.1")


def test_the_memory_budget_makes_a_transaction_wait_then_refuses_it() -> None:
    async def scenario() -> list[bool]:
        budget = MemoryBudget(capacity=100)
        assert await budget.reserve(80, wait_seconds=0.1)
        refused = await budget.reserve(30, wait_seconds=0.05)  # nothing is given back in time
        waiting = asyncio.create_task(budget.reserve(30, wait_seconds=1))
        await asyncio.sleep(0.01)
        await budget.release(80)
        return [refused, await waiting, budget.used == 30]

    assert asyncio.run(scenario()) == [False, True, True]


def test_the_throttle_forgets_addresses_whose_failures_left_the_window() -> None:
    now = [1000.0]
    throttle = AuthThrottle(limit=3, window_seconds=60, clock=lambda: now[0])
    for n in range(10_001):
        throttle.failed(f"192.0.2.{n % 250}.{n}")
    now[0] += 61
    throttle.failed("198.51.100.1")
    assert len(throttle._failures) == 1
    for n in range(20_000):
        assert not throttle.blocked(f"2001:db8::{n:x}")  # asking keeps nothing
    assert len(throttle._failures) == 1


def test_a_data_reservation_grows_with_the_message_and_is_given_back_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from smtp_relay import server
    from smtp_relay.server import COPIES, RESERVE_STEP, _Reservation

    monkeypatch.setattr(server, "RESERVE_WAIT_SECONDS", 0.05)

    async def scenario() -> list[int]:
        budget = MemoryBudget(capacity=10 * RESERVE_STEP * COPIES)
        reservation = _Reservation(budget)
        seen = []
        assert await reservation.cover(100)
        seen.append(budget.used)
        assert await reservation.cover(RESERVE_STEP + 1)
        seen.append(budget.used)
        assert not await _Reservation(budget).cover(20 * RESERVE_STEP)  # more than there is: refused
        await reservation.release()
        seen.append(budget.used)
        return seen

    assert asyncio.run(scenario()) == [RESERVE_STEP * COPIES, 2 * RESERVE_STEP * COPIES, 0]
