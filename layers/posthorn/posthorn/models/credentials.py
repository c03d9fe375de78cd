"""Credentials: who may call the API, for which domains, with which permissions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from posthorn.models.addresses import Address, normalize_domain
from posthorn.models.email import DisplayName
from posthorn.models.numbers import WholeNumber


class Permission(StrEnum):
    SEND = "send"
    READ = "read"
    FILES = "files"
    WEBHOOKS = "webhooks"
    ADMIN = "admin"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


Domain = Annotated[str, StringConstraints(max_length=253), AfterValidator(normalize_domain)]
MAX_KEEP_OLD_SECONDS = 86_400


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# The fields a credential is created with and may be changed to (`PATCH`): a credential sends for at least
# one domain (an admin credential too: the stack's seeded first admin is the one without any).
CredentialName = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
CredentialDomains = Annotated[list[Domain], Field(min_length=1, max_length=100), AfterValidator(_unique)]
Permissions = Annotated[list[Permission], Field(min_length=1), AfterValidator(_unique)]
RateLimit = Annotated[WholeNumber, Field(ge=1, le=10_000)]


def _absent(value: object) -> bool:
    return value is None


# The sender belongs to the credential, not to each app's code: DreamFactory's bodies carry no From at all
# (its service configuration holds the defaults), nor do many form and notification apps.
class SenderDefaults(BaseModel):
    """What a message gets when it leaves out from_email, from_name or reply_to_email (each optional).
    Fields not set are not shown."""

    model_config = ConfigDict(extra="forbid")

    from_email: Address | None = Field(
        default=None, exclude_if=_absent, description="On one of the credential's domains"
    )
    from_name: DisplayName | None = Field(
        default=None,
        exclude_if=_absent,
        description="For a message without from_name whose from_email is this from_email (or any message, "
        "without one)",
    )
    reply_to_email: Address | None = Field(default=None, exclude_if=_absent)
    reply_to_name: DisplayName | None = Field(default=None, exclude_if=_absent)

    @model_validator(mode="after")
    def _names_go_with_addresses(self) -> SenderDefaults:
        if self.reply_to_name is not None and self.reply_to_email is None:
            raise ValueError("reply_to_name needs reply_to_email")
        return self


# The admin routes' models are built on first use (`defer_build`): no other route and no other function
# uses them, and a model built at import adds to every cold start. `Credential` is used by
# every authenticated request, so it is built at import.
class CreateCredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: CredentialName
    domains: CredentialDomains
    permissions: Permissions
    rate_limit_per_second: RateLimit | None = None
    sender_defaults: SenderDefaults | None = None


class UpdateCredentialRequest(BaseModel):
    """`PATCH /v1/credentials/{username}`: the fields given change, the others stay (a null
    `rate_limit_per_second` goes back to the stack's default, a null `sender_defaults` clears them)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: CredentialStatus | None = None
    name: CredentialName | None = None
    domains: CredentialDomains | None = None
    permissions: Permissions | None = None
    rate_limit_per_second: RateLimit | None = None
    sender_defaults: SenderDefaults | None = None

    @field_validator("status", "name", "domains", "permissions")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out, not null")
        return value


class RotateSecretRequest(BaseModel):
    """`POST /v1/credentials/{username}/secret`: how long the old secret keeps working (0: not at all)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    keep_old_seconds: WholeNumber = Field(default=0, ge=0, le=MAX_KEEP_OLD_SECONDS)


class CredentialView(BaseModel):
    """What the API shows of a credential: never the secret, never its hash."""

    username: str
    name: str
    domains: list[str]
    permissions: list[Permission]
    status: CredentialStatus
    rate_limit_per_second: int | None = None
    sender_defaults: SenderDefaults | None = None
    created_at: datetime

    @classmethod
    def of(cls, credential: Credential) -> CredentialView:
        return cls.model_validate(credential.model_dump(exclude=Credential.SECRET_FIELDS))

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    def owns_domain(self, domain: str) -> bool:
        return domain.lower() in self.domains


class Credential(CredentialView):
    """A stored credential. `secret_hash` is a keyed hash; the secret itself is never stored. After a
    rotation with an overlap, `previous_secret_hash` is accepted too until `previous_secret_expires_at`."""

    SECRET_FIELDS: ClassVar[set[str]] = {"secret_hash", "previous_secret_hash", "previous_secret_expires_at"}

    secret_hash: str
    previous_secret_hash: str | None = None
    previous_secret_expires_at: datetime | None = None


class CreatedCredential(CredentialView):
    """Returned once, on creation: the only time the secret is shown."""

    model_config = ConfigDict(defer_build=True)

    secret: str
    api_key: str


class CredentialList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    credentials: list[CredentialView]
