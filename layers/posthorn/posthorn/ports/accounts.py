"""Credentials and sending domains: their stores, and SES's record of a domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from posthorn.models.credentials import Credential
    from posthorn.models.domains import DomainRecord, IdentityStatus


class CredentialStore(Protocol):
    def get_credential(self, username: str) -> Credential | None: ...
    def put_credential(self, credential: Credential) -> None: ...
    def list_credentials(self) -> list[Credential]: ...
    def update_credential(
        self, username: str, fields: Mapping[str, Any], *, unless_revoked: bool
    ) -> Credential | None:
        """Set `fields` (JSON values; None removes one) on a stored credential and return it; None when
        there is none, or when `unless_revoked` and it is revoked (the condition is the write's own)."""
        ...


class SenderDomains(Protocol):
    """What the sender check reads."""

    def get_domain(self, domain: str) -> DomainRecord | None: ...


class DomainStore(SenderDomains, Protocol):
    def put_domain(self, record: DomainRecord) -> None: ...
    def list_domains(self) -> list[DomainRecord]:
        """Every registered domain, in the order they were registered."""
        ...

    def delete_domain(self, domain: str) -> bool:
        """Remove a domain's record; False when there was none."""
        ...


class DomainIdentities(Protocol):
    """The email provider's record of a sending domain (SES identities deployed, auto-verified locally)."""

    def create(self, domain: str) -> IdentityStatus: ...
    def status(self, domain: str) -> IdentityStatus: ...
