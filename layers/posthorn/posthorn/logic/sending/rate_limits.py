"""Rate limits and send pacing, both on one shared timestamp per key (GCRA, the "generic cell rate
algorithm": a token bucket written as the time at which the bucket is next empty).

A key's `tat` (theoretical arrival time) moves forward by `1 / rate` per message. A credential may send
while `tat` is less than one second ahead of now (its bucket holds `rate` messages). A request larger than
the bucket (a batch of 500 at 10/s) is admitted when the bucket is full and leaves `tat` in the future, so
the credential waits out the debt: over time it never sends more than its rate. The store moves `tat` with
one conditional write, so every API instance shares the same bucket.

The send worker uses the same timestamp as a schedule: `reserve_slots` takes the next free send times at
the SES maximum send rate, across every concurrent worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from posthorn.errors import RateLimited
from posthorn.ports import Clock, RateStore

if TYPE_CHECKING:
    from posthorn.models.credentials import Credential

MICROS = 1_000_000
# The one schedule every send worker takes its send times from (the SES account's maximum send rate).
SES_PACE_KEY = "ses-max-send-rate"


class RateDecision(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int = 0

    def headers(self) -> dict[str, str]:
        """The `RateLimit-*` fields (IETF httpapi draft): the bucket, what is left now, seconds until full."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def credential_key(username: str) -> str:
    return f"credential#{username}"


def _decision(tat: int, *, rate: int, now_us: int) -> RateDecision:
    interval = MICROS // rate
    ahead = max(0, tat - now_us)
    remaining = max(0, (rate * interval - ahead) // interval)
    return RateDecision(True, limit=rate, remaining=remaining, reset_seconds=math.ceil(ahead / MICROS))


def take(store: RateStore, key: str, *, rate: int, count: int, now_us: int) -> RateDecision:
    """Count `count` messages against `rate` per second for `key`."""
    interval = MICROS // rate
    capacity = rate
    need = min(count, capacity)
    latest_start = now_us + (capacity - need) * interval
    allowed, tat = store.advance(key, now_us=now_us, cost_us=count * interval, latest_start_us=latest_start)
    decision = _decision(tat, rate=rate, now_us=now_us)
    remaining, reset = decision.remaining, decision.reset_seconds
    if allowed:
        return decision
    retry_after = max(1, math.ceil((tat - latest_start) / MICROS))
    return RateDecision(
        False, limit=capacity, remaining=remaining, reset_seconds=reset, retry_after_seconds=retry_after
    )


def enforce(store: RateStore, username: str, *, rate: int, count: int, now_us: int) -> RateDecision:
    """`take` for a credential; raises `RateLimited` (429, with `Retry-After` and `RateLimit-*`) when over."""
    decision = take(store, credential_key(username), rate=rate, count=count, now_us=now_us)
    if not decision.allowed:
        noun = "message" if count == 1 else f"{count} messages"
        raise RateLimited(
            f"this credential may send {rate} messages per second; retry the {noun} "
            f"in {decision.retry_after_seconds} s",
            retry_after_seconds=decision.retry_after_seconds,
            headers=decision.headers(),
        )
    return decision


def standing(store: RateStore, username: str, *, rate: int, now_us: int) -> RateDecision:
    """Where a credential's bucket stands, without counting anything: the `RateLimit-*` fields of an answer
    that sent no message (a read, an error). One read of the bucket."""
    return _decision(store.tat(credential_key(username)), rate=rate, now_us=now_us)


@dataclass(frozen=True)
class CredentialRates:
    """The API's rate limit: each credential's rate (its own `rate_limit_per_second`, else the stack's
    default) against its bucket in `store`, at the time `clock` says. What the `RateLimit-*` fields of an
    answer say."""

    store: RateStore
    clock: Clock
    default_rate: int

    def rate_of(self, credential: Credential) -> int:
        return credential.rate_limit_per_second or self.default_rate

    def take(self, credential: Credential, count: int) -> RateDecision:
        """Count messages against the credential's rate, shared by every instance (429 when over)."""
        return enforce(
            self.store, credential.username, rate=self.rate_of(credential), count=count, now_us=self._now_us()
        )

    def standing(self, credential: Credential) -> RateDecision:
        """The bucket as it stands, for an answer that counted no message."""
        return standing(self.store, credential.username, rate=self.rate_of(credential), now_us=self._now_us())

    def _now_us(self) -> int:
        return int(self.clock.now().timestamp() * MICROS)


def reserve_slots(store: RateStore, key: str, *, rate: float, count: int, now_us: int) -> list[float]:
    """The next `count` send times (epoch seconds) at `rate` per second, shared by everyone using `key`."""
    if count <= 0:
        return []
    interval = max(1, int(MICROS / rate))
    _, tat = store.advance(key, now_us=now_us, cost_us=count * interval, latest_start_us=None)
    first = tat - count * interval
    return [(first + index * interval) / MICROS for index in range(count)]
