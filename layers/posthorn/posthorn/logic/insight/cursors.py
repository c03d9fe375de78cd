"""Listing cursors: opaque to a client, and tamper-evident.

A cursor carries where each index partition of a listing stopped (a sort key, or null once it is read to
the end) and is signed with HMAC-SHA256 over the caller's username and the listing's filters, with a key
derived from the stack's pepper. A cursor changed by hand, made up, taken from another credential or used
with other filters fails the check and is answered 422 `validation_error` on `cursor`. Even a valid one
only ever moves within the partitions the caller's own domains and filters name: the partitions are never
read from the cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from posthorn.errors import ValidationFailed

# Where each partition (by its position in the listing's partition list) stopped: absent = not read yet,
# a sort key = continue after it, None = read to the end.
Positions = dict[int, str | None]

_SIGNATURE_BYTES = 16


def derive_key(pepper: bytes) -> bytes:
    return hmac.new(pepper, b"posthorn listing cursor v1", hashlib.sha256).digest()


def _signature(key: bytes, username: str, scope: str, payload: str) -> str:
    material = "\n".join((username, scope, payload)).encode()
    digest = hmac.new(key, material, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def encode_cursor(key: bytes, username: str, scope: str, positions: Positions) -> str:
    document = json.dumps(
        {str(index): value for index, value in sorted(positions.items())}, separators=(",", ":")
    )
    payload = base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")
    return f"{payload}.{_signature(key, username, scope, payload)}"


def decode_cursor(key: bytes, username: str, scope: str, cursor: str) -> Positions:
    """The positions a cursor carries; ValidationFailed when it is not one this caller was given for this
    listing."""
    payload, _, signature = cursor.partition(".")
    expected = _signature(key, username, scope, payload)
    if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise ValidationFailed.on("cursor", "is not a cursor this listing returned (or it was changed)")
    try:
        document: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        positions = {int(index): value for index, value in document.items()}
    except (ValueError, AttributeError, binascii.Error):  # signed but unreadable: never ours
        raise ValidationFailed.on("cursor", "is not a cursor this listing returned") from None
    if not all(value is None or isinstance(value, str) for value in positions.values()):
        raise ValidationFailed.on("cursor", "is not a cursor this listing returned")
    return positions
