"""Where an error gets its SMTP reply: the same domain error classes the API maps to HTTP statuses
(`send_api/errors.py`, `HTTP_STATUS`), each to the reply the contract gives it (docs/api.md, "SMTP relay"). A
permanent problem is a 5xx, a temporary one a 4xx, never the reverse. The text names the API's error code
first (`550 5.7.1 sender_not_allowed: ...`), as the contract has it wherever a refusal matches one, so a
client or an operator reads the same code in a bounce as in an API answer; only the rate limit keeps the
contract's exact wording."""

from __future__ import annotations

from posthorn import errors
from posthorn.errors import PosthornError, RateLimited, reply_for

SMTP_REPLY: dict[type[PosthornError], str] = {
    errors.Unauthorized: "535 5.7.8",
    errors.CredentialSuspended: "535 5.7.8",
    errors.Forbidden: "535 5.7.8",
    errors.SenderNotAllowed: "550 5.7.1",
    errors.DomainNotVerified: "550 5.7.1",
    errors.DomainPaused: "550 5.7.1",
    errors.AllRecipientsSuppressed: "550 5.1.1",
    errors.PayloadTooLarge: "552 5.3.4",
    errors.ValidationFailed: "550 5.6.0",
    errors.IdempotencyInFlight: "451 4.3.0",
    errors.IdempotencyConflict: "550 5.6.0",
    errors.RateLimited: "451 4.7.1",
    errors.UpstreamUnavailable: "451 4.3.0",
    errors.UpstreamRejected: "554 5.3.0",
}
# The outside world failing for a moment (DynamoDB, SQS, S3): nothing was accepted, the client retries.
TRANSIENT = "451 4.3.0 a service Posthorn depends on is unavailable just now; nothing was accepted, retry"
# The credential store failing while a client authenticates.
AUTH_UNAVAILABLE = "454 4.7.0 temporary authentication failure; retry"


def smtp_reply(error: PosthornError) -> str:
    """One reply line: the code the contract gives the error's class (or its nearest listed base), the API's
    error code and the error's text."""
    code = reply_for(SMTP_REPLY, error) or "451 4.3.0"
    if isinstance(error, RateLimited):
        return f"{code} rate limit exceeded, try again in {error.retry_after_seconds} s"
    named = f"{error.code}: " if error.code != PosthornError.code else ""
    return f"{code} {one_line(named + error.message)}"


def one_line(text: str) -> str:
    """Reply text on one line, printable ASCII, within SMTP's line length."""
    flat = " ".join(text.split())
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in flat)[:400]
