"""Default factories for pydantic fields: Python functions rather than the builtins `list` and `dict`.

When pydantic builds a model it reads each default factory's signature (does it take the validated data?).
A builtin's signature is parsed from its text by `tokenize`, whose first use compiles a large pattern: a
cost of the cold start of every function whose init builds such a model, for nothing. A function's
signature is read as it is. (tests/unit/test_cold_path.py checks the API's init never reaches `tokenize`.)"""

from __future__ import annotations

from typing import Any


def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[Any, Any]:
    return {}
