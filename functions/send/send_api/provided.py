"""What the code around the routes takes from `posthorn.wiring`: authentication, and the `RateLimit-*`
fields of every answer (middleware and exception handlers, which Powertools does not inject). They name the
same factories the routes name in `Depends`, resolved the same way, the resolver's `dependency_overrides`
first, so a test that replaces a route's adapter replaces theirs too. Resolved when asked, not before: a
public route reads no credential and no pepper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

Provided = TypeVar("Provided")


def provided(app: Any, factory: Callable[[], Provided]) -> Provided:
    """What `Depends(factory)` gives a route of `app`."""
    overrides: dict[Callable[..., Any], Callable[..., Any]] = getattr(app, "dependency_overrides", None) or {}
    return cast(Provided, overrides.get(factory, factory)())
