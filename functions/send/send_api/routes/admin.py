"""Domains and credentials (permission `admin`)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn.errors import NotFound, ValidationFailed
from posthorn.logic.credentials import create_credential
from posthorn.logic.domains import refresh_domain, register_domain
from posthorn.models.addresses import normalize_domain
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    CredentialList,
    CredentialStatus,
    CredentialView,
    UpdateCredentialRequest,
)
from posthorn.models.domains import CreateDomainRequest, DomainRecord
from send_api import dependencies
from send_api.idempotency import json_response

router = APIGatewayRouter()


@router.post("/v1/domains", summary="Register a sending domain", tags=["admin"])
def create_domain(request: Annotated[CreateDomainRequest, Body(embed=False)]) -> Response[DomainRecord]:
    record, created = register_domain(
        request.domain, dependencies.store(), dependencies.identities(), dependencies.clock.now()
    )
    return json_response(201 if created else 200, record)


@router.get("/v1/domains/<domain>", summary="A domain's verification status and DNS records", tags=["admin"])
def get_domain(domain: str) -> DomainRecord:
    try:
        name = normalize_domain(domain)
    except ValueError:
        raise NotFound(f"no domain {domain}") from None
    return refresh_domain(name, dependencies.store(), dependencies.identities())


@router.post("/v1/credentials", summary="Create a credential (its secret is shown once)", tags=["admin"])
def create(request: Annotated[CreateCredentialRequest, Body(embed=False)]) -> Response[CreatedCredential]:
    store = dependencies.store()
    for index, domain in enumerate(request.domains):
        if store.get_domain(domain) is None:
            raise ValidationFailed.on(
                f"domains[{index}]", f"{domain} is not registered: POST /v1/domains first"
            )
    created = create_credential(request, store, dependencies.pepper(), dependencies.clock.now())
    return json_response(201, created)


@router.get("/v1/credentials", summary="List credentials (never their secrets)", tags=["admin"])
def list_credentials() -> CredentialList:
    credentials = sorted(dependencies.store().list_credentials(), key=lambda c: c.created_at)
    return CredentialList(credentials=[CredentialView.of(c) for c in credentials])


@router.patch(
    "/v1/credentials/<username>", summary="Suspend, reactivate or revoke a credential", tags=["admin"]
)
def update(username: str, request: Annotated[UpdateCredentialRequest, Body(embed=False)]) -> CredentialView:
    store = dependencies.store()
    current = store.get_credential(username)
    if current is None:
        raise NotFound(f"no credential {username}")
    if current.status is CredentialStatus.REVOKED and request.status is not CredentialStatus.REVOKED:
        raise ValidationFailed.on("status", "a revoked credential cannot be reactivated; create a new one")
    updated = store.set_credential_status(username, request.status)
    if updated is None:
        raise NotFound(f"no credential {username}")
    return CredentialView.of(updated)
