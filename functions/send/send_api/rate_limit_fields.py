"""A credential's rate (its own `rate_limit_per_second`, else the stack's default) and where its bucket
stands: what the `RateLimit-*` fields of an answer say (`logic/sending/rate_limits.py` keeps the bucket)."""

from __future__ import annotations

from posthorn import wiring
from posthorn.logic.sending.rate_limits import RateDecision, enforce, standing
from posthorn.models.credentials import Credential


def rate_of(credential: Credential) -> int:
    from posthorn.settings import IntakeSettings

    return credential.rate_limit_per_second or wiring.settings(IntakeSettings).default_rate_limit_per_second


def _now_us() -> int:
    return int(wiring.clock().now().timestamp() * 1_000_000)


def take_messages(credential: Credential, count: int) -> RateDecision:
    """Count messages against the credential's rate, shared by every instance (429 when over)."""
    return enforce(
        wiring.rate_limits(), credential.username, rate=rate_of(credential), count=count, now_us=_now_us()
    )


def rate_standing(credential: Credential) -> RateDecision:
    """The bucket as it stands, for an answer that counted no message."""
    return standing(wiring.rate_limits(), credential.username, rate=rate_of(credential), now_us=_now_us())
