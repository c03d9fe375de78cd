"""Domains and credentials (permission `admin`)."""

from __future__ import annotations

from time import monotonic
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import Conflict, InvalidJson, NotFound, ValidationFailed
from posthorn.logic.accounts.credentials import (
    MAX_USERNAME_LENGTH,
    create_credential,
    rotate_secret,
    update_credential,
)
from posthorn.logic.accounts.domains import delete_domain, refresh_domain, register_domain
from posthorn.logic.guard.pausing import GuardContext, domain_reputation, resume_and_release
from posthorn.models.addresses import normalize_domain
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    CredentialList,
    CredentialView,
    RotateSecretRequest,
    UpdateCredentialRequest,
)
from posthorn.models.domains import CreateDomainRequest, DomainList, DomainView
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
NO_DOMAIN = NotFound("no domain example.org")

NO_CREDENTIAL = NotFound(f"no credential {examples.USERNAME}")


@router.post(
    "/v1/domains",
    operation_id="create_domain",
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
    operation_id="get_domain",
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
    operation_id="resume_domain",
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
    resumed = resume_and_release(
        _domain_name(domain), guard, held, queue, now=clock.now(), monotonic=monotonic
    )
    return DomainView.of(resumed.record, domain_reputation(resumed.record, guard))


@router.get(
    "/v1/domains",
    operation_id="list_domains",
    summary="Every registered domain, in the order registered",
    tags=["admin"],
    responses=answers(Success(200, "The domains", DomainList, example=examples.DOMAINS)),
)
def list_domains(domains: Domains) -> DomainList:
    return DomainList(domains=[DomainView.of(record) for record in domains.list_domains()])


@router.delete(
    "/v1/domains/<domain>",
    operation_id="delete_domain",
    summary="Forget a domain (409 while a credential names it)",
    description="Its SES identity (with its DKIM keys) and its suppressions are kept: registering it again "
    "needs no DNS change.",
    tags=["admin"],
    responses=answers(
        Success(204, "Deleted"),
        errors=[
            NO_DOMAIN,
            Conflict(
                f"example.com is still named by credential(s) {examples.USERNAME}: remove it from them "
                "(PATCH) first"
            ),
        ],
    ),
)
def remove_domain(domain: str, domains: Domains, credentials: Credentials) -> Response[None]:
    delete_domain(_domain_name(domain), domains, credentials)
    return Response(status_code=204)


@router.post(
    "/v1/credentials",
    operation_id="create_credential",
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
    operation_id="list_credentials",
    summary="List credentials (never their secrets)",
    tags=["admin"],
    responses=answers(Success(200, "Every credential", CredentialList, example=examples.CREDENTIALS)),
)
def list_credentials(credentials: Credentials) -> CredentialList:
    listed = sorted(credentials.list_credentials(), key=lambda c: c.created_at)
    return CredentialList(credentials=[CredentialView.of(c) for c in listed])


@router.get(
    "/v1/credentials/<username>",
    operation_id="get_credential",
    summary="One credential (never its secret)",
    tags=["admin"],
    responses=answers(
        Success(200, "The credential", CredentialView, example=examples.CREDENTIAL), errors=[NO_CREDENTIAL]
    ),
)
def get_credential(username: str, credentials: Credentials) -> CredentialView:
    found = credentials.get_credential(username) if len(username) <= MAX_USERNAME_LENGTH else None
    if found is None:
        raise NotFound(f"no credential {username}")
    return CredentialView.of(found)


@router.patch(
    "/v1/credentials/<username>",
    operation_id="update_credential",
    summary="Change a credential: status, name, domains, permissions, rate limit, sender defaults",
    description="Only the fields given change. A revoked credential stays revoked; domains must be "
    "registered; a null `rate_limit_per_second` goes back to the stack's default; a null "
    "`sender_defaults` clears them (a default `from_email` must stay on one of the credential's domains).",
    tags=["admin"],
    responses=answers(
        Success(200, "Updated", CredentialView, example=examples.SUSPENDED_CREDENTIAL),
        errors=[InvalidJson, ValidationFailed, NO_CREDENTIAL],
    ),
)
def update(
    username: str,
    request: Annotated[
        UpdateCredentialRequest,
        Body(embed=False, openapi_examples=request_example(examples.CREDENTIAL_UPDATE, "Suspend")),
    ],
    credentials: Credentials,
    domains: Domains,
) -> CredentialView:
    return CredentialView.of(update_credential(username, request, credentials, domains))


@router.post(
    "/v1/credentials/<username>/secret",
    operation_id="rotate_credential_secret",
    summary="Rotate a credential's secret (the new one is shown once)",
    description="The old secret stops working at once, or `keep_old_seconds` (at most 86400) from now, for "
    "the API and the SMTP relay alike. The body is optional.",
    tags=["admin"],
    responses=answers(
        Success(201, "Rotated", CreatedCredential, example=examples.CREATED_CREDENTIAL),
        errors=[
            InvalidJson,
            ValidationFailed.on("status", "a revoked credential gets no new secret; create a new one"),
            NO_CREDENTIAL,
        ],
    ),
)
def rotate(
    username: str,
    credentials: Credentials,
    pepper: Annotated[bytes, Depends(wiring.pepper)],
    clock: Now,
    request: Annotated[
        RotateSecretRequest | None,
        Body(embed=False, openapi_examples=request_example(examples.ROTATE_REQUEST, "A 10-minute overlap")),
    ] = None,
) -> Response[CreatedCredential]:
    keep_old = request.keep_old_seconds if request is not None else 0
    return json_response(201, rotate_secret(username, keep_old, credentials, pepper, clock.now()))
