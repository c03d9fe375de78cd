"""Identifiers: time-ordered message ids (ULID layout, Crockford base32) and random public names."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    return "".join(_CROCKFORD[(value >> (5 * index)) & 31] for index in reversed(range(length)))


def new_message_id(now_ms: int | None = None) -> str:
    """`msg_` + 26 characters: 48 bits of milliseconds then 80 random bits, so ids sort by creation time."""
    milliseconds = int(time.time() * 1000) if now_ms is None else now_ms
    return "msg_" + _base32(milliseconds, 10) + _base32(secrets.randbits(80), 16)


def new_username() -> str:
    return "ph_" + secrets.token_hex(10)


def new_secret() -> str:
    return secrets.token_urlsafe(32)
