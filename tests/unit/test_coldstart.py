"""posthorn.coldstart: the collector is paused during Lambda's init only, and always turned back on."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from posthorn.coldstart import lambda_init


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_outside_lambda_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    frozen = gc.get_freeze_count()
    with lambda_init():
        assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_in_lambda_the_collector_is_off_then_survivors_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    with lambda_init():
        assert not gc.isenabled()
        kept = [object() for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)


def test_a_failed_init_still_turns_the_collector_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    with pytest.raises(ImportError), lambda_init():
        raise ImportError("a handler that does not import")
    assert gc.isenabled()


def test_a_collector_someone_turned_off_stays_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    gc.disable()
    with lambda_init():
        pass
    assert not gc.isenabled()
