"""When a failed delivery is tried again (docs/api.md, "Webhooks": about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
14 h, 20 h and 24 h, with jitter; `Retry-After` honoured on 429 and 503), and what an endpoint's answer
means.

Ten attempts over at least 3 days 3.5 hours. Jitter adds up to 10% to each delay (at least 1 s), so
deliveries that failed together (an endpoint that was down) do not all come back in the same second; it
only ever adds, so the schedule never ends sooner than the contract's "more than three days". `Retry-After` is
honoured as "not before": the later of it and the schedule's delay, capped at 24 h so an endpoint cannot
park a delivery forever.
"""

from __future__ import annotations

import random
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

RETRY_DELAYS_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1
JITTER = 0.1
RETRY_AFTER_CAP_SECONDS = 86400
# An endpoint that has answered nothing but failures for this long, when a delivery runs out of attempts, is
# disabled (and the alarm topic told): the whole schedule of that delivery (3+ days) failed, and no other
# delivery succeeded meanwhile.
DISABLE_AFTER_FAILING_SECONDS = 3 * 86400

Verdict = Literal["succeeded", "retry", "failed", "gone"]


def retry_delay(
    failures: int, *, retry_after: float | None = None, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after the `failures`-th failed one; None when it was the last."""
    if failures < 1 or failures >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS_SECONDS[failures - 1]
    spread = max(1.0, base * JITTER)
    delay = base + (rng or random).uniform(0, spread)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP_SECONDS))
    return max(1.0, delay)


def verdict(http_status: int | None) -> Verdict:
    """2xx is delivered; 410 Gone disables the webhook; anything else (3xx included: redirects are not
    followed) is tried again."""
    if http_status is not None and 200 <= http_status < 300:
        return "succeeded"
    if http_status == 410:
        return "gone"
    return "retry"


def retry_after_seconds(http_status: int | None, value: str | None, now: datetime) -> float | None:
    """A 429's or 503's `Retry-After` (delay-seconds or an HTTP date) in seconds; None otherwise."""
    if http_status not in (429, 503) or not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())
