"""What keeps one client from taking the relay down: connection limits (per task, per credential), failed
AUTH throttling (per connection in the handler, per client address here), and a bound on the DATA held in
memory at once. All of it lives on the event loop's thread: no locks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable


class ConnectionGate:
    """Open connections, and authenticated sessions per credential."""

    def __init__(self, max_connections: int, max_per_credential: int) -> None:
        self.max_connections = max_connections
        self.max_per_credential = max_per_credential
        self.open = 0
        self.sessions: Counter[str] = Counter()

    def admit(self) -> bool:
        if self.open >= self.max_connections:
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        self.open -= 1

    def join(self, username: str) -> bool:
        if self.sessions[username] >= self.max_per_credential:
            return False
        self.sessions[username] += 1
        return True

    def part(self, username: str) -> None:
        self.sessions[username] -= 1
        if self.sessions[username] <= 0:
            del self.sessions[username]


class AuthThrottle:
    """Failed AUTHs per client address in a sliding window: past the limit, the handler closes the connection
    on that address's next failure (a right secret from it still passes)."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, address: str) -> bool:
        failures = self._failures.get(address)
        return failures is not None and len(self._trimmed(failures)) >= self.limit

    def failed(self, address: str) -> None:
        if len(self._failures) > 10_000:  # forget the addresses whose failures are all out of the window
            self._failures = {a: f for a, f in self._failures.items() if self._trimmed(f)}
        # The newest `limit` failures decide; an address that keeps failing while blocked (its attempts are
        # still checked: a right secret from it passes) holds no more than that.
        self._failures.setdefault(address, deque(maxlen=self.limit)).append(self.clock())

    def _trimmed(self, failures: deque[float]) -> deque[float]:
        cutoff = self.clock() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures


class MemoryBudget:
    """Bytes of DATA in memory across every transaction. A transaction reserves what it may hold (its
    declared SIZE, else the largest message) before reading DATA, and gives it back when done."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._freed = asyncio.Condition()

    async def reserve(self, amount: int, *, wait_seconds: float) -> bool:
        amount = min(amount, self.capacity)
        if self.used + amount <= self.capacity:  # room now: no waiting (one event loop, so no race)
            self.used += amount
            return True
        async with self._freed:
            try:
                await asyncio.wait_for(
                    self._freed.wait_for(lambda: self.used + amount <= self.capacity), wait_seconds
                )
            except TimeoutError:
                return False
            self.used += amount
            return True

    async def release(self, amount: int) -> None:
        amount = min(amount, self.capacity)
        async with self._freed:
            self.used -= amount
            self._freed.notify_all()
