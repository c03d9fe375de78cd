"""Sending domains: registering one with the email provider and reporting the DNS records it needs."""

from __future__ import annotations

from datetime import datetime

from posthorn.errors import Conflict, NotFound
from posthorn.models.domains import DnsRecord, DomainRecord, DomainStatus, IdentityStatus
from posthorn.ports import CredentialStore, DomainIdentities, DomainStore


def dns_records(domain: str, identity: IdentityStatus) -> list[DnsRecord]:
    """Easy DKIM's three CNAMEs, plus a DMARC policy to start from."""
    records = [
        DnsRecord(
            type="CNAME",
            name=f"{token}._domainkey.{domain}",
            value=f"{token}.dkim.amazonses.com",
            purpose="dkim",
        )
        for token in identity.dkim_tokens
    ]
    records.append(DnsRecord(type="TXT", name=f"_dmarc.{domain}", value="v=DMARC1; p=none;", purpose="dmarc"))
    return records


def _record(domain: str, identity: IdentityStatus, created_at: datetime) -> DomainRecord:
    return DomainRecord(
        domain=domain,
        status=DomainStatus.VERIFIED if identity.verified else DomainStatus.PENDING,
        dns_records=dns_records(domain, identity),
        created_at=created_at,
    )


def register_domain(
    domain: str, store: DomainStore, identities: DomainIdentities, now: datetime
) -> tuple[DomainRecord, bool]:
    """Register a domain (idempotent). Returns the record and whether it was new."""
    existing = store.get_domain(domain)
    if existing is not None:
        return refresh_domain(domain, store, identities), False
    record = _record(domain, identities.create(domain), now)
    store.put_domain(record)
    return record, True


def refresh_domain(domain: str, store: DomainStore, identities: DomainIdentities) -> DomainRecord:
    existing = store.get_domain(domain)
    if existing is None:
        raise NotFound(f"no domain {domain}")
    if existing.verified:
        return existing
    current = _record(domain, identities.status(domain), existing.created_at)
    if current != existing:
        store.put_domain(current)
    return current


def delete_domain(domain: str, store: DomainStore, credentials: CredentialStore) -> None:
    """Forget a domain: no credential may name it any more (409 while one does, revoked ones included:
    their record still says what they were for). The SES identity is kept, with its DKIM keys, so the
    DNS records stay valid if the domain is registered again; suppressions recorded for it stay too."""
    if store.get_domain(domain) is None:
        raise NotFound(f"no domain {domain}")
    users = [c.username for c in credentials.list_credentials() if domain in c.domains]
    if users:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        raise Conflict(f"{domain} is still named by credential(s) {shown}: remove it from them (PATCH) first")
    if not store.delete_domain(domain):
        raise NotFound(f"no domain {domain}")
