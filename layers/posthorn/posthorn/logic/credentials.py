"""Credentials: creation, keyed hashing of secrets, status changes, and verifying a (username, secret) pair,
whether it came in an HTTP `Authorization` header (`authenticate`) or an SMTP AUTH (`verify_secret`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from posthorn.errors import CredentialSuspended, Forbidden, NotFound, Unauthorized, ValidationFailed
from posthorn.logic.ids import new_secret, new_username
from posthorn.models.credentials import (
    CreateCredentialRequest,
    CreatedCredential,
    Credential,
    CredentialStatus,
    CredentialView,
    Permission,
)
from posthorn.ports import CredentialStore, SenderDomains

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


# The SMTP AUTH username that says "the password is the whole api_key" (as Postmark's and Resend's do).
API_KEY_USERNAME = "posthorn"


def smtp_login(username: str, password: str) -> tuple[str, str]:
    """The (username, secret) an SMTP AUTH names: the credential's username and secret; or username
    `posthorn` and the api_key as password; or the api_key as both."""
    if username == API_KEY_USERNAME or (username == password and "." in username):
        try:
            return parse_api_key(password)
        except ValueError:
            raise Unauthorized("the password is not an api_key of the form <username>.<secret>") from None
    return username, password


def verify_secret(username: str, secret: str, store: CredentialStore, pepper: bytes) -> Credential:
    """The active credential `username` whose secret is `secret`. A miss costs what a wrong secret costs (the
    same keyed hash, compared in constant time against a dummy) and answers with the same message."""
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


def authenticate(header: str | None, store: CredentialStore, pepper: bytes) -> Credential:
    """The credential an HTTP `Authorization` header names (Bearer or Basic)."""
    username, secret = parse_authorization(header)
    return verify_secret(username, secret, store, pepper)


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
    for index, domain in enumerate(request.domains):
        if domains.get_domain(domain) is None:
            raise ValidationFailed.on(
                f"domains[{index}]", f"{domain} is not registered: POST /v1/domains first"
            )
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


def change_status(username: str, status: CredentialStatus, store: CredentialStore) -> Credential:
    """Suspend, reactivate or revoke. Revoking is final: a revoked credential is never active again."""
    current = store.get_credential(username)
    if current is None:
        raise NotFound(f"no credential {username}")
    if current.status is CredentialStatus.REVOKED and status is not CredentialStatus.REVOKED:
        raise ValidationFailed.on("status", "a revoked credential cannot be reactivated; create a new one")
    updated = store.set_credential_status(username, status)
    if updated is None:
        raise NotFound(f"no credential {username}")
    return updated


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
