"""Domain errors. Each carries the API's error code and HTTP status; the API maps them in one place."""

from __future__ import annotations

from typing import ClassVar


class PosthornError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers: dict[str, str] = {}


class InvalidJson(PosthornError):
    code, status = "invalid_json", 400


class Unauthorized(PosthornError):
    code, status = "unauthorized", 401


class CredentialSuspended(PosthornError):
    code, status = "credential_suspended", 403


class Forbidden(PosthornError):
    code, status = "forbidden", 403


class SenderNotAllowed(PosthornError):
    code, status = "sender_not_allowed", 403


class DomainNotVerified(PosthornError):
    code, status = "domain_not_verified", 403


class NotFound(PosthornError):
    code, status = "not_found", 404


class Conflict(PosthornError):
    code, status = "conflict", 409


class IdempotencyConflict(PosthornError):
    code, status = "idempotency_conflict", 409


class PayloadTooLarge(PosthornError):
    code, status = "payload_too_large", 413


class ValidationFailed(PosthornError):
    code, status = "validation_error", 422

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", details=[{"field": field, "message": message}])


class MissingTemplateData(PosthornError):
    code, status = "missing_template_data", 422


class AllRecipientsSuppressed(PosthornError):
    code, status = "all_recipients_suppressed", 422


class RateLimited(PosthornError):
    code, status = "rate_limited", 429

    def __init__(
        self, message: str, *, retry_after_seconds: int, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.headers.update(headers or {})
        self.headers["Retry-After"] = str(retry_after_seconds)


class UpstreamRejected(PosthornError):
    code, status = "upstream_rejected", 502


class UpstreamUnavailable(PosthornError):
    code, status = "upstream_unavailable", 503
