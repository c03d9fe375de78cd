"""Domains and credentials (permission `admin`)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, ValidationFailed
from posthorn.logic.credentials import change_status, create_credential
from posthorn.logic.domains import refresh_domain, register_domain
from posthorn.models.addresses import normalize_domain
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    CredentialList,
    CredentialView,
    UpdateCredentialRequest,
)
from posthorn.models.domains import CreateDomainRequest, DomainRecord
from posthorn.ports import Clock, CredentialStore, DomainIdentities, DomainStore
from send_api import examples
from send_api.contract import Success, answers, request_example
from send_api.responses import json_response

router = APIGatewayRouter()
Domains = Annotated[DomainStore, Depends(wiring.domains)]
Identities = Annotated[DomainIdentities, Depends(wiring.identities)]
Credentials = Annotated[CredentialStore, Depends(wiring.credentials)]
Now = Annotated[Clock, Depends(wiring.clock)]


@router.post(
    "/v1/domains",
    summary="Register a sending domain",
    tags=["admin"],
    responses=answers(
        Success(201, "Registered: publish its DNS records", DomainRecord, example=examples.DOMAIN),
        Success(200, "Already registered", DomainRecord, example=examples.DOMAIN),
        errors=[InvalidJson, ValidationFailed],
    ),
)
def create_domain(
    request: Annotated[
        CreateDomainRequest,
        Body(embed=False, openapi_examples=request_example(examples.DOMAIN_REQUEST, "A domain")),
    ],
    domains: Domains,
    identities: Identities,
    clock: Now,
) -> Response[DomainRecord]:
    record, created = register_domain(request.domain, domains, identities, clock.now())
    return json_response(201 if created else 200, record)


@router.get(
    "/v1/domains/<domain>",
    summary="A domain's verification status and DNS records",
    tags=["admin"],
    responses=answers(
        Success(200, "The domain", DomainRecord, example=examples.DOMAIN),
        errors=[NotFound("no domain example.org")],
    ),
)
def get_domain(domain: str, domains: Domains, identities: Identities) -> DomainRecord:
    try:
        name = normalize_domain(domain)
    except ValueError:
        raise NotFound(f"no domain {domain}") from None
    return refresh_domain(name, domains, identities)


@router.post(
    "/v1/credentials",
    summary="Create a credential (its secret is shown once)",
    tags=["admin"],
    responses=answers(
        Success(
            201,
            "Created; `secret` and `api_key` are never shown again",
            CreatedCredential,
            example=examples.CREATED_CREDENTIAL,
        ),
        errors=[InvalidJson, ValidationFailed],
    ),
)
def create(
    request: Annotated[
        CreateCredentialRequest,
        Body(embed=False, openapi_examples=request_example(examples.CREDENTIAL_REQUEST, "A web app")),
    ],
    credentials: Credentials,
    domains: Domains,
    pepper: Annotated[bytes, Depends(wiring.pepper)],
    clock: Now,
) -> Response[CreatedCredential]:
    created = create_credential(request, credentials, domains, pepper, clock.now())
    return json_response(201, created)


@router.get(
    "/v1/credentials",
    summary="List credentials (never their secrets)",
    tags=["admin"],
    responses=answers(Success(200, "Every credential", CredentialList, example=examples.CREDENTIALS)),
)
def list_credentials(credentials: Credentials) -> CredentialList:
    listed = sorted(credentials.list_credentials(), key=lambda c: c.created_at)
    return CredentialList(credentials=[CredentialView.of(c) for c in listed])


@router.patch(
    "/v1/credentials/<username>",
    summary="Suspend, reactivate or revoke a credential",
    tags=["admin"],
    responses=answers(
        Success(200, "Updated", CredentialView, example=examples.SUSPENDED_CREDENTIAL),
        errors=[InvalidJson, ValidationFailed, NotFound(f"no credential {examples.USERNAME}")],
    ),
)
def update(
    username: str,
    request: Annotated[
        UpdateCredentialRequest,
        Body(embed=False, openapi_examples=request_example(examples.CREDENTIAL_UPDATE, "Suspend")),
    ],
    credentials: Credentials,
) -> CredentialView:
    return CredentialView.of(change_status(username, request.status, credentials))
