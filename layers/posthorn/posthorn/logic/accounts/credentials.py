"""Credentials: creation, keyed hashing of secrets, changes (`PATCH`), secret rotation, and verifying a
(username, secret) pair, whether it came in an HTTP `Authorization` header (`authenticate`) or an SMTP AUTH
(`verify_secret`): both read the stored credential every time, so a revoked, suspended or rotated secret
stops working at once everywhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from posthorn.errors import CredentialSuspended, Forbidden, NotFound, Unauthorized, ValidationFailed
from posthorn.logic.ids import new_secret, new_username
from posthorn.models.addresses import domain_of
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    Credential,
    CredentialStatus,
    CredentialView,
    Permission,
    SenderDefaults,
    UpdateCredentialRequest,
)
from posthorn.ports import CredentialStore, SenderDomains

HASH_SCHEME = "hmac-sha256"
MAX_USERNAME_LENGTH = 128
# Compared against when the username is unknown, so a miss costs the same time as a wrong secret.
_DUMMY_HASH = f"{HASH_SCHEME}${'0' * 64}"


def hash_secret(pepper: bytes, username: str, secret: str) -> str:
    """Keyed hash (HMAC-SHA256 with a key from Secrets Manager). Secrets are 256-bit random, so a keyed
    fast hash is as strong as a slow one here, and costs microseconds per request, where a slow hash is
    made to cost tens of milliseconds."""
    digest = hmac.new(pepper, f"{username}:{secret}".encode(), hashlib.sha256).hexdigest()
    return f"{HASH_SCHEME}${digest}"


def api_key(username: str, secret: str) -> str:
    return f"{username}.{secret}"


def parse_api_key(key: str) -> tuple[str, str]:
    username, dot, secret = key.partition(".")
    if not dot or not username or not secret:
        raise ValueError("an api_key has the form <username>.<secret>")
    return username, secret


def parse_authorization(header: str | None) -> tuple[str, str]:
    """`Bearer <username>.<secret>` or `Basic base64(<username>:<secret>)` → (username, secret)."""
    if not header:
        raise Unauthorized("Authorization header is missing: use Bearer <api_key> or Basic auth")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        try:
            return parse_api_key(value)
        except ValueError:
            raise Unauthorized("the Bearer token is not an api_key of the form <username>.<secret>") from None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, non-ASCII input, UnicodeDecodeError
            raise Unauthorized("the Basic credentials are not valid base64") from None
        username, colon, secret = decoded.partition(":")
        if colon and username and secret:
            return username, secret
        raise Unauthorized("the Basic credentials must be <username>:<secret>")
    raise Unauthorized("unsupported Authorization scheme: use Bearer or Basic")


def smtp_login(username: str, password: str) -> tuple[str, str]:
    """The (username, secret) an SMTP AUTH names: the credential's username and its secret; or, when the
    password is the whole api_key, any username (docs/api.md, "SMTP relay": `posthorn`, ZeptoMail's
    `emailapikey`, the api_key again as MailPace and OhMySMTP write it, or the From address). Secrets never
    hold a ".", so a password with one is an api_key."""
    if "." in password:
        try:
            return parse_api_key(password)
        except ValueError:
            raise Unauthorized("the password is not an api_key of the form <username>.<secret>") from None
    return username, password


def verify_secret(
    username: str, secret: str, store: CredentialStore, pepper: bytes, *, now: datetime
) -> Credential:
    """The active credential `username` whose secret is `secret` (or whose previous secret it is, within the
    overlap a rotation gave it). A miss costs what a wrong secret costs (the same keyed hashes, compared in
    constant time against dummies) and answers with the same message."""
    # DynamoDB refuses keys over 2048 bytes with an error, not a miss: never look such a name up.
    credential = store.get_credential(username) if len(username) <= MAX_USERNAME_LENGTH else None
    return verify_hash(credential, hash_secret(pepper, username, secret), now=now)


def verify_hash(credential: Credential | None, given: str, *, now: datetime) -> Credential:
    """`verify_secret` for a secret's keyed hash (`hash_secret`): what an SMTP session keeps to check its
    credential again later (the secret itself is never kept)."""
    current = hmac.compare_digest(given, credential.secret_hash if credential else _DUMMY_HASH)
    previous = hmac.compare_digest(given, (credential and credential.previous_secret_hash) or _DUMMY_HASH)
    in_overlap = bool(
        credential
        and credential.previous_secret_expires_at is not None
        and now < credential.previous_secret_expires_at
    )
    if credential is None or not (current or (previous and in_overlap)):
        raise Unauthorized("unknown credential or wrong secret")
    if credential.status is CredentialStatus.REVOKED:
        raise Unauthorized("this credential has been revoked")
    if credential.status is CredentialStatus.SUSPENDED:
        raise CredentialSuspended("this credential is suspended")
    return credential


def authenticate(header: str | None, store: CredentialStore, pepper: bytes, *, now: datetime) -> Credential:
    """The credential an HTTP `Authorization` header names (Bearer or Basic)."""
    username, secret = parse_authorization(header)
    return verify_secret(username, secret, store, pepper, now=now)


def require(credential: Credential, permission: Permission) -> None:
    if not credential.may(permission):
        raise Forbidden(f"this credential lacks the '{permission.value}' permission")


def create_credential(
    request: CreateCredentialRequest,
    store: CredentialStore,
    domains: SenderDomains,
    pepper: bytes,
    now: datetime,
) -> CreatedCredential:
    """A new credential for registered domains only; its secret is in the answer and nowhere else."""
    _require_registered(request.domains, domains)
    _require_own_sender(request.sender_defaults, request.domains)
    username, secret = new_username(), new_secret()
    credential = Credential(
        username=username,
        secret_hash=hash_secret(pepper, username, secret),
        name=request.name,
        domains=request.domains,
        permissions=request.permissions,
        status=CredentialStatus.ACTIVE,
        rate_limit_per_second=request.rate_limit_per_second,
        sender_defaults=request.sender_defaults,
        created_at=now,
    )
    store.put_credential(credential)
    return CreatedCredential(
        **CredentialView.of(credential).model_dump(), secret=secret, api_key=api_key(username, secret)
    )


def _require_registered(names: list[str], domains: SenderDomains) -> None:
    for index, domain in enumerate(names):
        if domains.get_domain(domain) is None:
            raise ValidationFailed.on(
                f"domains[{index}]", f"{domain} is not registered: POST /v1/domains first"
            )


def _require_own_sender(defaults: SenderDefaults | None, names: list[str]) -> None:
    """A default From is one the credential may send from: else every message relying on it would fail."""
    if defaults is None or defaults.from_email is None:
        return
    domain = domain_of(defaults.from_email)
    if domain not in names:
        raise ValidationFailed.on(
            "sender_defaults.from_email",
            f"{domain} is not one of the credential's domains ({', '.join(names)})",
        )


_STAYS_REVOKED = "a revoked credential cannot be reactivated; create a new one"


def update_credential(
    username: str, request: UpdateCredentialRequest, store: CredentialStore, domains: SenderDomains
) -> Credential:
    """Change the fields the request gives. Revoking is final: a revoked credential is never active again,
    checked by the write itself (a concurrent revoke is not undone)."""
    current = store.get_credential(username)
    if current is None:
        raise NotFound(f"no credential {username}")
    changes: dict[str, Any] = request.model_dump(mode="json", include=request.model_fields_set)
    reactivates = request.status is not None and request.status is not CredentialStatus.REVOKED
    if reactivates and current.status is CredentialStatus.REVOKED:
        raise ValidationFailed.on("status", _STAYS_REVOKED)
    if request.domains is not None:
        _require_registered(request.domains, domains)
    if {"domains", "sender_defaults"} & request.model_fields_set:  # the two as they will be
        given = "sender_defaults" in request.model_fields_set
        _require_own_sender(
            request.sender_defaults if given else current.sender_defaults, request.domains or current.domains
        )
    if not changes:
        return current
    updated = store.update_credential(username, changes, unless_revoked=reactivates)
    if updated is None:  # deleted, or revoked since it was read
        if store.get_credential(username) is None:
            raise NotFound(f"no credential {username}")
        raise ValidationFailed.on("status", _STAYS_REVOKED)
    return updated


def rotate_secret(
    username: str, keep_old_seconds: int, store: CredentialStore, pepper: bytes, now: datetime
) -> CreatedCredential:
    """A new secret, shown once. The old one stops working at once, or `keep_old_seconds` from now (so the
    apps using it can be moved over). A revoked credential gets no new secret."""
    current = store.get_credential(username)
    if current is None:
        raise NotFound(f"no credential {username}")
    if current.status is CredentialStatus.REVOKED:
        raise ValidationFailed.on("status", "a revoked credential gets no new secret; create a new one")
    secret = new_secret()
    changes: dict[str, Any] = {
        "secret_hash": hash_secret(pepper, username, secret),
        "previous_secret_hash": current.secret_hash if keep_old_seconds else None,
        "previous_secret_expires_at": (
            (now + timedelta(seconds=keep_old_seconds)).isoformat() if keep_old_seconds else None
        ),
    }
    updated = store.update_credential(username, changes, unless_revoked=True)
    if updated is None:  # deleted, or revoked since it was read
        if store.get_credential(username) is None:
            raise NotFound(f"no credential {username}")
        raise ValidationFailed.on("status", "a revoked credential gets no new secret; create a new one")
    return CreatedCredential(
        **CredentialView.of(updated).model_dump(), secret=secret, api_key=api_key(username, secret)
    )


def seed_credential(
    store: CredentialStore,
    pepper: bytes,
    key: str,
    *,
    name: str,
    permissions: list[Permission],
    domains: list[str],
    now: datetime,
) -> Credential:
    """Store a credential whose api_key is already chosen: a stack's first admin (`POSTHORN_ADMIN_KEY`)."""
    username, secret = parse_api_key(key)
    credential = Credential(
        username=username,
        secret_hash=hash_secret(pepper, username, secret),
        name=name,
        domains=domains,
        permissions=permissions,
        status=CredentialStatus.ACTIVE,
        created_at=now,
    )
    store.put_credential(credential)
    return credential
