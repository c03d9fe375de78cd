"""A whole number in a request. pydantic's lax `int` takes JSON `true` as 1 (Schemathesis created a
credential with `"rate_limit_per_second": true`); strict mode would also refuse `1.0`, which JSON Schema
counts as an integer. So: any integer, `1.0` included, and never a boolean."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean)]
