"""The one place where errors become HTTP responses, in the contract's error shape (docs/api.md, "Errors"):
the status of each domain error (`HTTP_STATUS`, beside which the SMTP relay keeps its own reply table for the
same classes), and what a transient failure of the outside world is answered with."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from posthorn import errors
from posthorn.errors import (
    InvalidJson,
    PosthornError,
    TransientError,
    UpstreamUnavailable,
    ValidationFailed,
    reply_for,
)
from send_api import request_log
from send_api.request_body import is_json, not_json_message

HTTP_STATUS: dict[type[PosthornError], int] = {
    errors.InvalidJson: 400,
    errors.Unauthorized: 401,
    errors.CredentialSuspended: 403,
    errors.Forbidden: 403,
    errors.SenderNotAllowed: 403,
    errors.DomainNotVerified: 403,
    errors.DomainPaused: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.IdempotencyConflict: 409,
    errors.PayloadTooLarge: 413,
    errors.ValidationFailed: 422,
    errors.MissingTemplateData: 422,
    errors.AllRecipientsSuppressed: 422,
    errors.RateLimited: 429,
    errors.UpstreamRejected: 502,
    errors.UpstreamUnavailable: 503,
}

# What a client is told when the outside world failed for a moment; the detail (object keys, replies) is
# for the log, not the client. Nothing was accepted.
TRANSIENT_ANSWER: dict[type[TransientError], str] = {
    errors.StorageUnavailable: "file storage is unavailable just now; retry the request",
}


def http_status(error: PosthornError) -> int:
    """The status the contract gives the error's class (or its nearest listed base); 500 for one it does
    not."""
    status = reply_for(HTTP_STATUS, error)
    return 500 if status is None else status


def from_transient(error: TransientError) -> PosthornError:
    answer = reply_for(TRANSIENT_ANSWER, error)
    return UpstreamUnavailable(
        answer or "a service Posthorn depends on is unavailable just now; retry the request"
    )


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json.dumps({"error": error})


# Header fields an answer with this error carries: a 401 names the schemes that authenticate (RFC 9110).
HTTP_HEADERS: dict[type[PosthornError], dict[str, str]] = {
    errors.Unauthorized: {
        "WWW-Authenticate": 'Bearer realm="posthorn", Basic realm="posthorn", charset="UTF-8"'
    },
}


def error_response(error: PosthornError) -> Response:
    request_log.note(code=error.code)
    return Response(
        status_code=http_status(error),
        content_type=content_types.APPLICATION_JSON,
        body=error_body(error.code, error.message, error.details),
        headers={**(reply_for(HTTP_HEADERS, error) or {}), **error.headers},
    )


def field_path(location: Sequence[str | int]) -> str:
    """pydantic's `("body", "to", 3, "email")` → `to[3].email`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("body",) and not part.startswith("function-"):
            path += f".{part}" if path else part
    return path


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_failure(errors: Sequence[dict[str, Any]], content_type: str | None) -> PosthornError:
    """Translate request-validation errors: unparseable or non-object bodies, and bodies that say they
    are not JSON, are 400 (`request_body`'s rule); the rest 422."""
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error")
            return InvalidJson(str(reason or "the request body is not valid JSON"))
    about_body = any(tuple(error.get("loc", ()))[:1] == ("body",) for error in errors)
    if (about_body and not is_json(content_type)) or any(
        e.get("type") == "unsupported_content_type" for e in errors
    ):
        return InvalidJson(not_json_message(content_type))
    if any(
        error.get("type") in {"model_attributes_type", "dict_type", "missing"} and len(error["loc"]) <= 1
        for error in errors
    ):
        return InvalidJson("the request body must be a JSON object")
    details = []
    for error in errors:
        # A model-level rule (no location of its own) may name its field in its context.
        named = (error.get("ctx") or {}).get("field")
        detail = {"field": field_path(error.get("loc", ())) or str(named or ""), "message": _message(error)}
        if not detail["field"]:
            detail.pop("field")
        details.append(detail)
    summary = "; ".join(
        f"{d['field']}: {d['message']}" if "field" in d else d["message"] for d in details[:3]
    )
    return ValidationFailed(f"the request is invalid: {summary}", details=details)
