"""The composition root's one mechanism: everything wiring keeps is made by a factory that `reset()` forgets
and `override()` replaces; nothing is kept where neither reaches."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from posthorn import wiring


@pytest.fixture(autouse=True)
def fresh_wiring() -> Iterator[None]:
    wiring.reset()
    yield
    wiring.reset()


def test_nothing_in_wiring_is_cached_outside_its_factories() -> None:
    """A `functools.cache` is what reset() and override() cannot reach."""
    cached = [name for name, value in vars(wiring).items() if hasattr(value, "cache_clear")]
    assert cached == []


KEPT_PER_PROCESS: list[Callable[[], object]] = [
    wiring.recent_webhooks,
    wiring.opened_secrets,
    wiring.attempt_calls,
    wiring.store_calls,
]


@pytest.mark.parametrize("factory", KEPT_PER_PROCESS, ids=lambda factory: factory.__name__)
def test_what_a_warm_process_keeps_is_kept_until_a_reset(factory: Callable[[], object]) -> None:
    first = factory()
    assert factory() is first
    wiring.reset()
    assert factory() is not first


@pytest.mark.parametrize("factory", KEPT_PER_PROCESS, ids=lambda factory: factory.__name__)
def test_what_a_warm_process_keeps_can_be_overridden_until_a_reset(factory: Callable[[], object]) -> None:
    fake = object()
    wiring.override(factory, fake)
    assert factory() is fake
    wiring.reset()
    assert factory() is not fake


def test_an_override_rebuilds_what_was_built_before_it() -> None:
    """So whatever held the replaced thing holds the override instead (wiring.override says why)."""
    recent, pool = wiring.recent_webhooks(), wiring.store_calls()
    wiring.override(wiring.opened_secrets, {"sealed": "secret"})
    assert wiring.opened_secrets() == {"sealed": "secret"}
    assert wiring.recent_webhooks() is not recent
    assert wiring.store_calls() is not pool


def test_only_a_factory_can_be_overridden() -> None:
    """An override of anything else would silently do nothing."""
    with pytest.raises(TypeError, match="not a cached factory"):
        wiring.override(wiring.send_context, object())  # assembled per request from the factories
    with pytest.raises(TypeError):
        wiring.override(functools.cache(lambda: 1), 2)
