"""Rate limits and send pacing, both on one shared timestamp per key (GCRA, the "generic cell rate
algorithm": a token bucket written as the time at which the bucket is next empty).

A key's `tat` (theoretical arrival time) moves forward by `1 / rate` per message. A credential may send
while `tat` is less than one second ahead of now (its bucket holds `rate` messages). A request larger than
the bucket (a batch of 500 at 10/s) is admitted when the bucket is full and leaves `tat` in the future, so
the credential waits out the debt: over time it never sends more than its rate. The store moves `tat` with
one conditional write, so every API instance shares the same bucket.

The send worker uses the same timestamp as a schedule: `reserve_slots` takes the next free send times at
the SES maximum send rate, across every concurrent worker.

A credential's bucket is one item, written once per message it sends; DynamoDB takes about 1,000 write units
a second on one partition key. A credential faster than `RATE_PER_SHARD` has its bucket split into shards,
each with its share of the rate and of the burst (`shard_rates`), so no shard's item takes more than about
that many writes a second. A message goes to the shard its time picks and, when that one is full, to the
next: the credential still sends at most its rate (the sum of the shards') and at once as many as its burst.
Shard 0 is the unsharded key, so a credential whose rate rises past the line keeps its bucket.
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
# The most messages a second one bucket item takes (a write each; a refusal of a full bucket costs one more
# only when this process has not seen it full): well under a partition key's 1,000 write units a second.
RATE_PER_SHARD = 400
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


def credential_key(username: str, shard: int = 0) -> str:
    return f"credential#{username}" if shard == 0 else f"credential#{username}#{shard}"


def shard_rates(rate: int) -> list[int]:
    """Each shard's messages a second: `rate` split into shards of at most RATE_PER_SHARD, as evenly as
    whole numbers allow (they add up to `rate`)."""
    shards = max(1, math.ceil(rate / RATE_PER_SHARD))
    share, extra = divmod(rate, shards)
    return [share + (1 if index < extra else 0) for index in range(shards)]


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
    """`take` for a credential, over its shards; raises `RateLimited` (429, with `Retry-After` and
    `RateLimit-*`) when none of them has room. The decision speaks for the whole credential: its rate is
    the limit; what remains is the shard's that took the messages, times the shards (they fill alike)."""
    rates = shard_rates(rate)
    first = (now_us // 1000) % len(rates)  # which shard a millisecond picks: every instance spreads alike
    refusals: list[RateDecision] = []
    for step in range(len(rates)):
        shard = (first + step) % len(rates)
        decision = take(store, credential_key(username, shard), rate=rates[shard], count=count, now_us=now_us)
        if decision.allowed:
            return decision._replace(limit=rate, remaining=min(rate, decision.remaining * len(rates)))
        refusals.append(decision)
    retry_after = min(refused.retry_after_seconds for refused in refusals)
    decision = RateDecision(
        False,
        limit=rate,
        remaining=0,
        reset_seconds=max(refused.reset_seconds for refused in refusals),
        retry_after_seconds=retry_after,
    )
    noun = "message" if count == 1 else f"{count} messages"
    raise RateLimited(
        f"this credential may send {rate} messages per second; retry the {noun} in {retry_after} s",
        retry_after_seconds=retry_after,
        headers=decision.headers(),
    )


def standing(store: RateStore, username: str, *, rate: int, now_us: int) -> RateDecision:
    """Where a credential's bucket stands, without counting anything: the `RateLimit-*` fields of an answer
    that sent no message (a read, an error). One read per shard (one for all but the fastest credentials)."""
    shards = [
        _decision(store.tat(credential_key(username, shard)), rate=shard_rate, now_us=now_us)
        for shard, shard_rate in enumerate(shard_rates(rate))
    ]
    return RateDecision(
        True,
        limit=rate,
        remaining=sum(shard.remaining for shard in shards),
        reset_seconds=max(shard.reset_seconds for shard in shards),
    )


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
