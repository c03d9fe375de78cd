"""What a process remembers of the store for a few seconds: the one time-based cache every warm process uses
(the relay's domains, suppression lists and credentials; the webhooks of a domain the fan-out reads;
the sender's webhooks; the send worker's paused domains).

A value is fresh for `seconds` from the moment the read that found it began, not from when it was kept: a
change made after that moment is seen at most `seconds` later, however long the read took: the bound the
promises built on these caches rest on (the relay honours a change the API answered within 2 s).
The clock is given (`time.monotonic` in use, a fake in tests); the cache reads nothing else. It keeps at most
`size` values, and forgets them all when full: the next reads refill it.

Thread-safe: the read runs outside the lock, so two threads that miss at once both read (the later one is
kept), which costs one extra read and never a wrong answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

SIZE = 10_000


class TtlCache(Generic[Key, Value]):
    """Values kept `seconds` after the read that found them began (none kept when `seconds` is 0)."""

    def __init__(self, seconds: float, clock: Callable[[], float], size: int = SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._kept: dict[Key, tuple[float, Value]] = {}
        self._lock = threading.Lock()

    def peek(self, key: Key) -> tuple[bool, Value | None]:
        """(True, the value) when a fresh one is kept, else (False, None): never a read."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and self._clock() - kept[0] < self.seconds:
            return True, kept[1]
        return False, None

    def get(self, key: Key, read: Callable[[], Value]) -> Value:
        """The kept value when fresh, else `read()` (then kept)."""
        began = self._clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and began - kept[0] < self.seconds:
            return kept[1]
        value = read()
        if self.seconds > 0:
            with self._lock:
                if key not in self._kept and len(self._kept) >= self.size:
                    self._kept.clear()
                self._kept[key] = (began, value)
        return value

    def forget(self, keys: Iterable[Key]) -> None:
        """Read these afresh next time (a change this process made itself is seen at once)."""
        with self._lock:
            for key in keys:
                self._kept.pop(key, None)
