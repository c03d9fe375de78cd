"""`Idempotency-Key`: the same key and body replay the first response; a different body, or a first
request still in flight, is a conflict. Keys are scoped to the credential and kept 24 hours.

A claim is a lease: if the process that claimed a key dies mid-request, the key can be claimed again once
the lease runs out, so a crash never blocks a client's retry for a whole day.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from posthorn.errors import IdempotencyConflict, IdempotencyInFlight, ValidationFailed
from posthorn.models.idempotency import StoredResponse
from posthorn.ports import IdempotencyStore

MAX_KEY_LENGTH = 256
LEASE_SECONDS = 60


@dataclass(frozen=True)
class IdempotencyKeys:
    """Where keys are claimed and their answers kept, and for how long (the template's idempotency TTL)."""

    store: IdempotencyStore
    ttl_seconds: int


def fingerprint(body: Any) -> str:
    """A hash of the request body's meaning: the same JSON with other whitespace or key order is the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_key(username: str, key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise ValidationFailed.on("Idempotency-Key", f"must be 1-{MAX_KEY_LENGTH} printable characters")
    return f"{username}#{hashlib.sha256(key.encode()).hexdigest()}"


def begin(
    store: IdempotencyStore, scope: str, body_fingerprint: str, *, now: int, ttl_seconds: int
) -> StoredResponse | None:
    """Claim the key for this request; return the first response to replay, or None to go ahead."""
    existing = store.claim(
        scope, body_fingerprint, now=now, lease_seconds=LEASE_SECONDS, ttl_seconds=ttl_seconds
    )
    if existing is None:
        return None
    if existing.fingerprint != body_fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request body")
    if existing.response is None:
        raise IdempotencyInFlight("a request with this Idempotency-Key is still in flight; retry shortly")
    return existing.response


def should_remember(status: int) -> bool:
    """Remember final answers. A 5xx or 429 may succeed on retry, so the key is released instead."""
    return status < 500 and status != 429
