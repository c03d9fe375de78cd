"""Request bodies the tests start from."""

from __future__ import annotations

from typing import Any


def email_body(**overrides: Any) -> dict[str, Any]:
    """A minimal valid `POST /v1/email` body; an override of `...` removes that field."""
    body: dict[str, Any] = {
        "from_email": "hello@example.com",
        "to": ["user@example.net"],
        "subject": "Hi",
        "body_text": "Hello",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}
