"""Standard Webhooks signatures (https://www.standardwebhooks.com): what any Standard Webhooks or Svix
verifier checks. A secret is `whsec_` + base64 of 32 random bytes; the key is those bytes. A delivery's
signature is `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")); several secrets
(during a rotation) give several signatures, space-separated, and a verifier accepts any one of them.

Written here rather than imported from the `standardwebhooks` package: it is the dozen lines below, and the
tests check them against the spec's own test vector and against both reference verifiers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random_source
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    signed = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], webhook_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: one `v1,...` per secret, newest first."""
    return " ".join(signature(secret, webhook_id, timestamp, body) for secret in secrets)


def headers(secrets: Iterable[str], webhook_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, webhook_id, timestamp, body),
    }
