"""Credentials: creation, keyed hashing of secrets, and authenticating an Authorization header."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from posthorn.errors import CredentialSuspended, Forbidden, Unauthorized
from posthorn.logic.ids import new_secret, new_username
from posthorn.logic.ports import CredentialStore
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    Credential,
    CredentialStatus,
    CredentialView,
    Permission,
)

HASH_SCHEME = "hmac-sha256"
MAX_USERNAME_LENGTH = 128
# Compared against when the username is unknown, so a miss costs the same time as a wrong secret.
_DUMMY_HASH = f"{HASH_SCHEME}${'0' * 64}"


def hash_secret(pepper: bytes, username: str, secret: str) -> str:
    """Keyed hash (HMAC-SHA256 with a key from Secrets Manager). Secrets are 256-bit random, so a keyed
    fast hash is as strong as a slow one here, and costs microseconds per request instead of ~50 ms."""
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


def authenticate(header: str | None, store: CredentialStore, pepper: bytes) -> Credential:
    username, secret = parse_authorization(header)
    # DynamoDB refuses keys over 2048 bytes with an error, not a miss: never look such a name up.
    credential = store.get_credential(username) if len(username) <= MAX_USERNAME_LENGTH else None
    expected = credential.secret_hash if credential else _DUMMY_HASH
    if not hmac.compare_digest(hash_secret(pepper, username, secret), expected) or credential is None:
        raise Unauthorized("unknown credential or wrong secret")
    if credential.status is CredentialStatus.REVOKED:
        raise Unauthorized("this credential has been revoked")
    if credential.status is CredentialStatus.SUSPENDED:
        raise CredentialSuspended("this credential is suspended")
    return credential


def require(credential: Credential, permission: Permission) -> None:
    if not credential.may(permission):
        raise Forbidden(f"this credential lacks the '{permission.value}' permission")


def create_credential(
    request: CreateCredentialRequest, store: CredentialStore, pepper: bytes, now: datetime
) -> CreatedCredential:
    username, secret = new_username(), new_secret()
    credential = Credential(
        username=username,
        secret_hash=hash_secret(pepper, username, secret),
        name=request.name,
        domains=request.domains,
        permissions=request.permissions,
        status=CredentialStatus.ACTIVE,
        rate_limit_per_second=request.rate_limit_per_second,
        created_at=now,
    )
    store.put_credential(credential)
    return CreatedCredential(
        **CredentialView.of(credential).model_dump(), secret=secret, api_key=api_key(username, secret)
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
