"""What the listing routes share about query strings: times, and refusing a parameter they do not know
(API.md: an unknown filter is 422, not silently ignored)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Query

from posthorn.errors import ValidationFailed

BAD_CURSOR = ValidationFailed.on("cursor", "is not a cursor this listing returned (or it was changed)")
Since = Annotated[
    datetime | None, Query(description="ISO 8601; from this time (a time without offset is UTC)")
]
Until = Annotated[datetime | None, Query(description="ISO 8601; up to this time")]


def only_known_parameters(router: BaseRouter, known: frozenset[str]) -> None:
    given = router.current_event.query_string_parameters or {}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter {unknown[0]}; this route takes {', '.join(sorted(known))}",
            details=[{"field": name, "message": "is not a parameter of this route"} for name in unknown],
        )
