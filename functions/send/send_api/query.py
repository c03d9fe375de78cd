"""What the listing routes share about query strings: times, and refusing a parameter they do not know
(docs/api.md, "Messages and events": an unknown filter is 422, not silently ignored)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BeforeValidator

from posthorn.errors import ValidationFailed

BAD_CURSOR = ValidationFailed.on("cursor", "is not a cursor this listing returned (or it was changed)")
# A date, or a date and time, as ISO 8601 writes them (pydantic alone also takes "0.5" as a Unix time).
_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?")


def _iso_8601(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_8601.fullmatch(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-12-01T10:00:00Z")
    return value


Since = Annotated[
    datetime | None,
    BeforeValidator(_iso_8601),
    Query(description="ISO 8601; from this time (a time without offset is UTC)"),
]
Until = Annotated[datetime | None, BeforeValidator(_iso_8601), Query(description="ISO 8601; up to this time")]


def only_known_parameters(router: BaseRouter, known: frozenset[str]) -> None:
    given = router.current_event.query_string_parameters or {}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter {unknown[0]}; this route takes {', '.join(sorted(known))}",
            details=[{"field": name, "message": "is not a parameter of this route"} for name in unknown],
        )
