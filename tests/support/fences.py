"""What the fence tests share (tests/unit/test_relay_aiosmtpd_fence.py, test_send_api_powertools_fence.py):
a library's source as a short hash, and the version it is pinned at in each file that pins it."""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def source_hash(function: Callable[..., Any]) -> str:
    """sha256 (its first 16 hex digits) of `inspect.getsource(function)`."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def pins(package: str, *paths: str) -> dict[str, str]:
    """The version each file pins `package` at (`package==X` or `package[extra]==X`)."""
    found = {}
    for path in paths:
        match = re.search(rf"{re.escape(package)}(?:\[\w+\])?==([\w.]+)", (ROOT / path).read_text())
        found[path] = match.group(1) if match else "(not pinned)"
    return found
