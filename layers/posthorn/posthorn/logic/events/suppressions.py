"""The suppression list as a credential sees it: only its own domains, never another tenant's."""

from __future__ import annotations

from datetime import datetime

from posthorn.errors import NotFound, ValidationFailed
from posthorn.models.credentials import Credential
from posthorn.models.suppressions import CreateSuppressionRequest, Suppression
from posthorn.ports import SuppressionStore


def scope(credential: Credential, domain: str | None) -> list[str]:
    """The domains a request covers: the one asked for (if it is the credential's), else all of them."""
    if domain is None:
        return sorted(credential.domains)
    if not credential.owns_domain(domain):
        raise NotFound(f"no domain {domain} for this credential")
    return [domain.lower()]


def list_for(credential: Credential, store: SuppressionStore, domain: str | None) -> list[Suppression]:
    found = [entry for name in scope(credential, domain) for entry in store.list_suppressions(name)]
    return sorted(found, key=lambda entry: entry.created_at, reverse=True)


def find(
    credential: Credential, store: SuppressionStore, email: str, domain: str | None
) -> list[Suppression]:
    found = [entry for name in scope(credential, domain) if (entry := store.get_suppression(name, email))]
    if not found:
        raise NotFound(f"{email} is not suppressed")
    return found


def remove(credential: Credential, store: SuppressionStore, email: str, domain: str | None) -> None:
    removed = [name for name in scope(credential, domain) if store.delete_suppression(name, email)]
    if not removed:
        raise NotFound(f"{email} is not suppressed")


def add_manual(
    credential: Credential, store: SuppressionStore, request: CreateSuppressionRequest, now: datetime
) -> tuple[Suppression, bool]:
    """Suppress an address for a domain: (the entry, True) when it is new, else (the entry already there,
    with its first reason and date, False): adding it again changes nothing."""
    if request.domain is None and len(credential.domains) != 1:
        raise ValidationFailed.on("domain", "required: this credential sends for several domains (or none)")
    domain = scope(credential, request.domain)[0] if request.domain else credential.domains[0]
    entry = Suppression(email=request.email, domain=domain, reason="manual", created_at=now)
    created = store.add_suppression(entry)
    return (store.get_suppression(domain, request.email) or entry), created
