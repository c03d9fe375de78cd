"""`Idempotency-Key` as stored: the request's fingerprint and the response it got."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # annotations only
    pass


class StoredResponse(NamedTuple):
    status: int
    body: str


class IdempotencyRecord(NamedTuple):
    fingerprint: str
    response: StoredResponse | None  # None while the first request is in flight
