"""The suppression list (read: `read`; changes: `send`), scoped to the credential's domains."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, ValidationFailed
from posthorn.logic import suppressions
from posthorn.models.suppressions import CreateSuppressionRequest, Suppression, SuppressionList
from posthorn.ports import Clock, SuppressionStore
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers, request_example
from send_api.responses import json_response

router = APIGatewayRouter()
DomainFilter = Annotated[str | None, Query(description="Only this one of the credential's domains")]
Suppressions = Annotated[SuppressionStore, Depends(wiring.suppressions)]
NO_DOMAIN = NotFound("no domain example.org for this credential")
NOT_SUPPRESSED = NotFound("bounced@example.net is not suppressed")


@router.get(
    "/v1/suppressions",
    summary="The suppression list of the credential's domains",
    tags=["suppressions"],
    responses=answers(
        Success(200, "The entries", SuppressionList, example=examples.SUPPRESSIONS),
        errors=[ValidationFailed, NO_DOMAIN],
    ),
)
def list_suppressions(
    credential: CallerCredential, store: Suppressions, domain: DomainFilter = None
) -> SuppressionList:
    entries = suppressions.list_for(credential, store, domain)
    return SuppressionList(suppressions=entries)


@router.get(
    "/v1/suppressions/<email>",
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
