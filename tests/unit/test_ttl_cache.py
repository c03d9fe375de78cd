"""The one time-based cache (logic/ttl_cache.py): fresh for `seconds` from when its read began, bounded,
forgettable, and reading nothing but the clock it is given."""

from __future__ import annotations

import threading

from posthorn.logic.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_for_its_seconds_then_read_again() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(5, clock)
    assert cache.get("k", lambda: 1) == 1
    clock.now = 4.9
    assert cache.get("k", lambda: 2) == 1
    assert cache.peek("k") == (True, 1)
    clock.now = 5.0
    assert cache.peek("k") == (False, None)
    assert cache.get("k", lambda: 3) == 3
    assert cache.peek("k") == (True, 3)


def test_freshness_counts_from_when_the_read_began_not_when_it_ended() -> None:
    """A read that takes a while does not stretch the bound: what it found was true when it began."""
    clock = Clock()
    cache: TtlCache[str, str] = TtlCache(2, clock)

    def slow_read() -> str:
        clock.now += 1.5
        return "found"

    assert cache.get("k", slow_read) == "found"
    clock.now = 1.9
    assert cache.peek("k") == (True, "found")
    clock.now = 2.0
    assert cache.peek("k") == (False, None)


def test_no_seconds_keeps_nothing() -> None:
    reads = iter(range(3))
    cache: TtlCache[str, int] = TtlCache(0, Clock())
    assert [cache.get("k", lambda: next(reads)) for _ in range(3)] == [0, 1, 2]
    assert cache.peek("k") == (False, None)


def test_peek_never_reads_and_none_is_a_value() -> None:
    cache: TtlCache[str, int | None] = TtlCache(5, Clock())
    assert cache.peek("absent") == (False, None)
    assert cache.get("absent", lambda: None) is None
    assert cache.peek("absent") == (True, None)  # known to be absent, unlike never read


def test_forgotten_keys_are_read_again_at_once() -> None:
    cache: TtlCache[str, int] = TtlCache(60, Clock())
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.forget(["a", "unknown"])
    assert cache.get("a", lambda: 10) == 10
    assert cache.get("b", lambda: 20) == 2


def test_it_keeps_at_most_size_values() -> None:
    cache: TtlCache[int, int] = TtlCache(60, Clock(), size=3)
    for key in range(3):
        cache.get(key, lambda: 0)
    cache.get(0, lambda: 99)  # a kept key is answered, nothing forgotten
    assert [cache.peek(key)[0] for key in range(3)] == [True, True, True]
    cache.get(3, lambda: 3)  # a fourth: the full cache is forgotten, the new value kept
    assert [cache.peek(key)[0] for key in range(4)] == [False, False, False, True]


def test_threads_that_miss_together_each_get_an_answer() -> None:
    cache: TtlCache[str, int] = TtlCache(60, Clock())
    started = threading.Barrier(8)
    answers: list[int] = []

    def ask() -> None:
        started.wait()
        answers.append(cache.get("k", lambda: 7))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [7] * 8
    assert cache.peek("k") == (True, 7)
