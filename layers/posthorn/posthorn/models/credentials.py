"""Credentials: who may call the API, for which domains, with which permissions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from posthorn.models.addresses import normalize_domain
from posthorn.models.numbers import WholeNumber


class Permission(StrEnum):
    SEND = "send"
    READ = "read"
    FILES = "files"
    ADMIN = "admin"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


Domain = Annotated[str, StringConstraints(max_length=253), AfterValidator(normalize_domain)]


# The admin routes' models are built on first use (`defer_build`): no other route and no other function
# uses them, and building a model at import costs ~0.3-1 ms of every cold start. `Credential` is used by
# every authenticated request, so it is built at import.
class CreateCredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    domains: list[Domain] = Field(default_factory=list, max_length=100)
    permissions: list[Permission] = Field(min_length=1)
    rate_limit_per_second: WholeNumber | None = Field(default=None, ge=1, le=10_000)

    @field_validator("domains", "permissions")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class UpdateCredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: CredentialStatus


class CredentialView(BaseModel):
    """What the API shows of a credential: never the secret, never its hash."""

    username: str
    name: str
    domains: list[str]
    permissions: list[Permission]
    status: CredentialStatus
    rate_limit_per_second: int | None = None
    created_at: datetime

    @classmethod
    def of(cls, credential: Credential) -> CredentialView:
        return cls.model_validate(credential.model_dump(exclude={"secret_hash"}))

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    def owns_domain(self, domain: str) -> bool:
        return domain.lower() in self.domains


class Credential(CredentialView):
    """A stored credential. `secret_hash` is a keyed hash; the secret itself is never stored."""

    secret_hash: str


class CreatedCredential(CredentialView):
    """Returned once, on creation: the only time the secret is shown."""

    model_config = ConfigDict(defer_build=True)

    secret: str
    api_key: str


class CredentialList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    credentials: list[CredentialView]
