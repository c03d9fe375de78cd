"""The one place where errors become HTTP responses, in API.md's error shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from posthorn.errors import InvalidJson, PosthornError, ValidationFailed


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json.dumps({"error": error})


def error_response(error: PosthornError) -> Response:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(error.code, error.message, error.details),
        headers=dict(error.headers),
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


def validation_failure(errors: Sequence[dict[str, Any]], content_type: str) -> PosthornError:
    """Translate request-validation errors: unparseable or non-object bodies are 400, the rest 422."""
    if any(error.get("type") in {"json_invalid", "unsupported_content_type"} for error in errors):
        return InvalidJson("the request body is not valid JSON (send Content-Type: application/json)")
    if content_type and not content_type.startswith("application/json"):
        return InvalidJson("the request body must be JSON, sent with Content-Type: application/json")
    if any(
        error.get("type") in {"model_attributes_type", "dict_type", "missing"} and len(error["loc"]) <= 1
        for error in errors
    ):
        return InvalidJson("the request body must be a JSON object")
    details = []
    for error in errors:
        detail = {"field": field_path(error.get("loc", ())), "message": _message(error)}
        if not detail["field"]:
            detail.pop("field")
        details.append(detail)
    summary = "; ".join(
        f"{d['field']}: {d['message']}" if "field" in d else d["message"] for d in details[:3]
    )
    return ValidationFailed(f"the request is invalid: {summary}", details=details)
