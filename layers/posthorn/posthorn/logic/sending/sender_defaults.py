"""A credential's sender defaults (docs/api.md, "Administration"), applied to a message that leaves out
its From or Reply-To. Every JSON entry point (`POST /v1/email`, each batch item, every compatible surface)
builds a `SendEmailRequest` and hands it to `prepare_message` or `accept_batch`; both complete it here, so
the rule is written once and no route can forget it.

A default name goes with its address: `from_name` is given to a message whose From is the default From (or
to any message, when the defaults name no From), so a message that names its own sender is never sent under
another sender's name. The same holds for `reply_to_name`."""

from __future__ import annotations

from typing import Any

from posthorn.errors import ValidationFailed
from posthorn.models.credentials import Credential
from posthorn.models.email import SendEmailRequest

NO_SENDER = "is required: give it, or set the credential's sender_defaults.from_email"


def with_sender_defaults(request: SendEmailRequest, credential: Credential) -> SendEmailRequest:
    """`request` with the credential's defaults where it has no value of its own (a copy, if any apply)."""
    defaults = credential.sender_defaults
    if defaults is None:
        return request
    changes: dict[str, Any] = {}
    from_email = request.from_email or defaults.from_email
    if request.from_email is None and defaults.from_email is not None:
        changes["from_email"] = defaults.from_email
    if (
        request.from_name is None
        and defaults.from_name is not None
        and _same(from_email, defaults.from_email)
    ):
        changes["from_name"] = defaults.from_name
    if request.reply_to_email is None and defaults.reply_to_email is not None:
        changes["reply_to_email"] = defaults.reply_to_email
        changes["reply_to_name"] = defaults.reply_to_name  # the request has none: it names no reply_to_email
    return request.model_copy(update=changes) if changes else request


def _same(address: str | None, default: str | None) -> bool:
    return default is None or (address is not None and address.lower() == default.lower())


def from_address(request: SendEmailRequest) -> str:
    """The From of a request the defaults were applied to; 422 naming `from_email` when there is none."""
    if request.from_email is None:
        raise ValidationFailed.on("from_email", NO_SENDER)
    return request.from_email
