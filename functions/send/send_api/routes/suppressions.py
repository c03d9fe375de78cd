"""The suppression list (read: `read`; changes: `send`), scoped to the credential's domains."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, ValidationFailed
from posthorn.logic.events import suppressions
from posthorn.logic.insight.listing import SuppressionFilters
from posthorn.logic.insight.listing import list_suppressions as list_page
from posthorn.models.suppressions import (
    CreateSuppressionRequest,
    Suppression,
    SuppressionList,
    SuppressionPage,
    SuppressionReason,
)
from posthorn.ports import Clock, SuppressionIndex, SuppressionStore
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers, request_example
from send_api.query import BAD_CURSOR, Since, only_known_parameters
from send_api.responses import json_response
from send_api.routes.messages import utc

router = APIGatewayRouter()
DomainFilter = Annotated[str | None, Query(description="Only this one of the credential's domains")]
Suppressions = Annotated[SuppressionStore, Depends(wiring.suppressions)]
NO_DOMAIN = NotFound("no domain example.org for this credential")
NOT_SUPPRESSED = NotFound("bounced@example.net is not suppressed")


LIST_PARAMETERS = frozenset({"domain", "reason", "since", "limit", "cursor"})


@router.get(
    "/v1/suppressions",
    operation_id="list_suppressions",
    summary="The suppression list of the credential's domains, newest first, with cursor pagination",
    tags=["suppressions"],
    responses=answers(
        Success(
            200,
            "A page of entries; `next_cursor` is null on the last page",
            SuppressionPage,
            example=examples.SUPPRESSION_PAGE,
        ),
        errors=[ValidationFailed, BAD_CURSOR, NO_DOMAIN],
    ),
)
def list_suppressions(
    credential: CallerCredential,
    index: Annotated[SuppressionIndex, Depends(wiring.suppressions)],
    key: Annotated[bytes, Depends(wiring.cursor_key)],
    domain: DomainFilter = None,
    reason: Annotated[SuppressionReason | None, Query(description="bounce, complaint or manual")] = None,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Entries per page (1-100)")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=4096, description="`next_cursor` of the previous page")
    ] = None,
) -> SuppressionPage:
    only_known_parameters(router, LIST_PARAMETERS)
    filters = SuppressionFilters(domain=domain.lower() if domain else None, reason=reason, since=utc(since))
    entries, next_cursor = list_page(credential, filters, limit=limit, cursor=cursor, index=index, key=key)
    return SuppressionPage(suppressions=entries, next_cursor=next_cursor)


@router.get(
    "/v1/suppressions/<email>",
    operation_id="get_suppression",
    summary="Whether an address is suppressed, per domain",
    tags=["suppressions"],
    responses=answers(
        Success(200, "The address's entries, one per domain", SuppressionList, example=examples.SUPPRESSIONS),
        errors=[ValidationFailed, NO_DOMAIN, NOT_SUPPRESSED],
    ),
)
def get_suppression(
    email: str, credential: CallerCredential, store: Suppressions, domain: DomainFilter = None
) -> SuppressionList:
    entries = suppressions.find(credential, store, unquote(email), domain)
    return SuppressionList(suppressions=entries)


@router.delete(
    "/v1/suppressions/<email>",
    operation_id="delete_suppression",
    summary="Send to an address again",
    tags=["suppressions"],
    responses=answers(Success(204, "Removed"), errors=[ValidationFailed, NO_DOMAIN, NOT_SUPPRESSED]),
)
def delete_suppression(
    email: str, credential: CallerCredential, store: Suppressions, domain: DomainFilter = None
) -> Response[None]:
    suppressions.remove(credential, store, unquote(email), domain)
    return Response(status_code=204)


@router.post(
    "/v1/suppressions",
    operation_id="create_suppression",
    summary="Suppress an address by hand",
    description="201 with the new entry; 200 with the entry already there when the address is suppressed "
    "for that domain (its first reason and date are kept).",
    tags=["suppressions"],
    responses=answers(
        Success(201, "Suppressed", Suppression, example=examples.SUPPRESSION),
        Success(200, "Already suppressed: the entry as it was", Suppression, example=examples.SUPPRESSION),
        errors=[InvalidJson, ValidationFailed, NO_DOMAIN],
    ),
)
def add_suppression(
    request: Annotated[
        CreateSuppressionRequest,
        Body(embed=False, openapi_examples=request_example(examples.SUPPRESSION_REQUEST, "By hand")),
    ],
    credential: CallerCredential,
    store: Suppressions,
    clock: Annotated[Clock, Depends(wiring.clock)],
) -> Response[Suppression]:
    entry, created = suppressions.add_manual(credential, store, request, clock.now())
    return json_response(201 if created else 200, entry)
