"""Domains and credentials (permission `admin`)."""

from __future__ import annotations

from time import monotonic
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, ValidationFailed
from posthorn.logic.credentials import change_status, create_credential
from posthorn.logic.domains import refresh_domain, register_domain
from posthorn.logic.guard import GuardContext, domain_reputation, resume_domain
from posthorn.logic.held import release_held
from posthorn.models.addresses import normalize_domain
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    CredentialList,
    CredentialView,
    UpdateCredentialRequest,
)
from posthorn.models.domains import CreateDomainRequest, DomainView
from posthorn.ports import Clock, CredentialStore, DomainIdentities, DomainStore, HeldMessages, QueueBodies
from send_api import examples
from send_api.contract import Success, answers, request_example
from send_api.responses import json_response

router = APIGatewayRouter()
Domains = Annotated[DomainStore, Depends(wiring.domains)]
Identities = Annotated[DomainIdentities, Depends(wiring.identities)]
Credentials = Annotated[CredentialStore, Depends(wiring.credentials)]
Now = Annotated[Clock, Depends(wiring.clock)]
Guard = Annotated[GuardContext, Depends(wiring.guard_context)]
# How long a resume spends sending held messages back to the queue before it answers (API Gateway stops at
# 29 s); what is still held then goes out at the next resume, or when the worker next holds one.
RELEASE_SECONDS = 20.0
NO_DOMAIN = NotFound("no domain example.org")


@router.post(
    "/v1/domains",
    summary="Register a sending domain",
    tags=["admin"],
    responses=answers(
        Success(201, "Registered: publish its DNS records", DomainView, example=examples.NEW_DOMAIN),
        Success(200, "Already registered", DomainView, example=examples.NEW_DOMAIN),
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
) -> Response[DomainView]:
    record, created = register_domain(request.domain, domains, identities, clock.now())
    return json_response(201 if created else 200, DomainView.of(record))


def _domain_name(domain: str) -> str:
    try:
        return normalize_domain(domain)
    except ValueError:
        raise NotFound(f"no domain {domain}") from None


@router.get(
    "/v1/domains/<domain>",
    summary="A domain's verification status, DNS records and deliverability guard state",
    tags=["admin"],
    responses=answers(
        Success(
            200,
            "The domain, with its reputation over the guard's window",
            DomainView,
            example=examples.DOMAIN_VIEW,
        ),
        errors=[NO_DOMAIN],
    ),
)
def get_domain(domain: str, domains: Domains, identities: Identities, guard: Guard) -> DomainView:
    record = refresh_domain(_domain_name(domain), domains, identities)
    return DomainView.of(record, domain_reputation(record, guard))


@router.post(
    "/v1/domains/<domain>/resume",
    summary="Let a domain the deliverability guard paused send again; its held messages go out",
    tags=["guard"],
    responses=answers(
        Success(200, "Sending again, from a fresh window", DomainView, example=examples.RESUMED_DOMAIN),
        errors=[NO_DOMAIN],
    ),
)
def resume(
    domain: str,
    guard: Guard,
    held: Annotated[HeldMessages, Depends(wiring.held_messages)],
    queue: Annotated[QueueBodies, Depends(wiring.send_queue)],
    clock: Now,
) -> DomainView:
    record = resume_domain(_domain_name(domain), guard, clock.now())
    deadline = monotonic() + RELEASE_SECONDS
    release_held(record.domain, held, queue, time_left=lambda: deadline - monotonic())
    return DomainView.of(record, domain_reputation(record, guard))


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
