"""The relay's limits (smtp_relay/protection.py): connections, sessions per credential, failed AUTHs per
address in a sliding window, and the DATA memory budget."""

from __future__ import annotations

import asyncio

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
