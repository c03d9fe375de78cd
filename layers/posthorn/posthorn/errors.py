"""Every error the domain raises, in two families, and what the adapters report to the logic.

- `PosthornError`: the request cannot be done as asked (a wrong secret, a foreign sender, a bad field).
  Each carries its error code (docs/api.md, "Errors"); retrying the same request gets the same answer. What
  a client is told is each entry point's own concern: the HTTP status in `send_api/errors.py`, the SMTP reply
  in the SMTP relay's reply table, both keyed by these classes.
- `TransientError`: the outside world failed for a moment (storage, SES, a queued body not readable yet).
  The logic retries, queues or gives up; an entry point that meets one answers "try again" (HTTP 503, SMTP
  4xx) and has accepted nothing.

`DeliveryRejected`, `FileUnavailable` and `UndeliverableUrl` are neither: they are final answers of the
outside world (SES's 5xx, a file key that can no longer be attached, a webhook URL that is not public) that
the logic turns into a domain error or an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

Reply = TypeVar("Reply")


def reply_for(table: Mapping[Any, Reply], error: Exception) -> Reply | None:
    """An entry point's reply to `error`: its class's entry in `table`, else its nearest listed base's."""
    return next((table[kind] for kind in type(error).__mro__ if kind in table), None)


# --- the domain's errors: the request cannot be done as asked ------------------------------------------
class PosthornError(Exception):
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers: dict[str, str] = {}


class InvalidJson(PosthornError):
    code = "invalid_json"


class Unauthorized(PosthornError):
    code = "unauthorized"


class CredentialSuspended(PosthornError):
    code = "credential_suspended"


class Forbidden(PosthornError):
    code = "forbidden"


class SenderNotAllowed(PosthornError):
    code = "sender_not_allowed"


class DomainNotVerified(PosthornError):
    code = "domain_not_verified"


class DomainPaused(PosthornError):
    """The deliverability guard paused sending from this domain (`logic/guard/pausing.py`) until it is
    resumed."""

    code = "domain_paused"


class NotFound(PosthornError):
    code = "not_found"


class Conflict(PosthornError):
    code = "conflict"


class IdempotencyConflict(PosthornError):
    code = "idempotency_conflict"


class IdempotencyInFlight(IdempotencyConflict):
    """The first request with this key is still being answered: a retry in a moment may be answered."""


class PayloadTooLarge(PosthornError):
    code = "payload_too_large"


class ValidationFailed(PosthornError):
    code = "validation_error"

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", details=[{"field": field, "message": message}])


class MissingTemplateData(PosthornError):
    code = "missing_template_data"


class AllRecipientsSuppressed(PosthornError):
    code = "all_recipients_suppressed"


class RateLimited(PosthornError):
    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after_seconds: int, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.headers.update(headers or {})
        self.headers["Retry-After"] = str(retry_after_seconds)


class UpstreamRejected(PosthornError):
    code = "upstream_rejected"


class UpstreamUnavailable(PosthornError):
    code = "upstream_unavailable"


# --- transient failures of the outside world: a retry may succeed ----------------------------------------
class TransientError(Exception):
    """Something outside failed for a moment; nothing was accepted because of it."""


class StorageUnavailable(TransientError):
    """The object store failed to answer, or broke off while an object was read: a retry may succeed."""


class DeliveryUnavailable(TransientError):
    """SES could not be reached, or kept answering with transient failures, within the time budget."""


class QueuedBodyMissing(TransientError):
    """The queued MIME could not be read (its S3 object is gone or unreadable)."""


# --- final answers of the outside world, which the logic decides about -----------------------------------
class DeliveryRejected(Exception):
    """SES refused the message permanently (a 5xx reply)."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply


class FileUnavailable(Exception):
    """A file key this credential cannot attach: unknown, deleted, expired, foreign, unchecked."""


class UndeliverableUrl(ValueError):
    """A webhook URL the sender may not deliver to (not https, or an address that is not public); the
    message says why, with no secret and no body in it. A 422 when a webhook is saved; a failed attempt
    when a name resolves that way later."""
