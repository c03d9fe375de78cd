"""MailPace's send API (docs/api.md, "Compatible endpoints"): `POST /mailpace/api/v1/send`, as MailPace's
docs and its npm SDK (`@mailpace/mailpace.js`, `DomainClient`) send it, with the key in
`MailPace-Server-Token: <api_key>`, answered as MailPace answers (`{"id", "status"}`, `{"error": ...}`,
`{"errors": {field: [...]}}`).

What maps: from, to/cc/bcc (one address or a comma-separated list, `Name <address>` allowed), one replyto,
subject, htmlbody, textbody, inreplyto and references (the `In-Reply-To` and `References` headers),
list_unsubscribe, attachments (`name`, base64 `content`, `content_type`, `cid` for an inline one), tags (a
string or a list). Anything else is refused naming the field, never dropped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic import ValidationError as PydanticError

from posthorn import errors
from posthorn.errors import PosthornError, reply_for
from posthorn.models.addresses import split_display_address
from posthorn.models.credentials import Credential
from posthorn.models.email import SendEmailRequest
from send_api.compat import surface as compat
from send_api.compat.surface import MissingApiKey, Surface, json_body, send_one, vendor_json
from send_api.contract import INTERNAL_ERROR, request_body, security_scheme

router = APIGatewayRouter()
TAG = "compatible: MailPace"
SCHEME = security_scheme(
    "mailpace",
    {
        "type": "apiKey",
        "in": "header",
        "name": "MailPace-Server-Token",
        "description": "MailPace's domain API token is Posthorn's api_key",
    },
)

# --- what MailPace says for each of Posthorn's errors -----------------------------------------------------
# (HTTP status, MailPace's own `error` text or None for Posthorn's message), from MailPace's "Responses"
# page: 401 a missing (or, here, wrong) token, 403 the domain or the organization may not send, 406 a
# request that is not JSON, 400 `{"errors": {field: [...]}}` for a field (the `ERRORS_SHAPE` classes),
# "contains a blocked address" for a suppressed recipient. MailPace documents 400 "Invalid API Token" for a
# wrong token; Posthorn answers 401 as for a missing one (docs/api.md: a bad or missing key is the vendor's
# 401; the SDK's `InvalidAPIKey`). Rate limits, idempotency and upstream failures have no documented text:
# their statuses are the HTTP ones, the SDK's `UnknownError` / `ServiceUnavailableError`.
ERRORS: dict[type[PosthornError], tuple[int, str | None]] = {
    errors.InvalidJson: (406, "Invalid request format or content type"),
    MissingApiKey: (401, "Missing API Token"),
    errors.Unauthorized: (401, "Invalid API Token"),
    errors.CredentialSuspended: (403, "This organization is unable to send emails. Please contact support"),
    errors.Forbidden: (403, None),
    errors.SenderNotAllowed: (403, "Verified domain does not match domain in From address of email"),
    errors.DomainNotVerified: (403, "Domain DKIM DNS not verified, please complete DKIM Verification"),
    errors.DomainPaused: (403, None),
    errors.NotFound: (400, None),
    errors.Conflict: (409, None),
    errors.IdempotencyConflict: (409, None),
    errors.PayloadTooLarge: (413, None),
    errors.ValidationFailed: (400, None),
    errors.MissingTemplateData: (400, None),
    errors.AllRecipientsSuppressed: (400, "contains a blocked address"),
    errors.RateLimited: (429, None),
    errors.UpstreamRejected: (502, None),
    errors.UpstreamUnavailable: (503, None),
}
# Answered `{"errors": {field: [messages]}}` rather than `{"error": text}`.
ERRORS_SHAPE: tuple[type[PosthornError], ...] = (
    errors.ValidationFailed,
    errors.MissingTemplateData,
    errors.AllRecipientsSuppressed,
    errors.NotFound,
)


def api_key(headers: Mapping[str, str]) -> str | None:
    return (headers.get("mailpace-server-token") or "").strip() or None


def _field_errors(error: PosthornError, text: str | None) -> dict[str, list[str]]:
    if isinstance(error, errors.AllRecipientsSuppressed):
        return {"to": [text or error.message]}
    found: dict[str, list[str]] = {}
    for detail in error.details:
        found.setdefault(detail.get("field") or "base", []).append(detail.get("message", error.message))
    return found or {"base": [error.message]}


def render(error: PosthornError) -> Response:
    status, text = reply_for(ERRORS, error) or (500, None)
    if isinstance(error, ERRORS_SHAPE):
        return vendor_json(status, {"errors": _field_errors(error, text)})
    return vendor_json(status, {"error": text or error.message})


SURFACE = Surface("MailPace", api_key, render)


# --- MailPace's request and answers ----------------------------------------------------------------------
class MailPaceAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: StrictStr
    content: StrictStr = Field(description="The file's bytes, base64")
    content_type: StrictStr
    cid: StrictStr | None = Field(default=None, description="Makes it inline: the HTML shows it as cid:<cid>")


class MailPaceEmail(BaseModel):
    """`POST /mailpace/api/v1/send`: MailPace's send body. Addresses are `a@b.c` or `Name <a@b.c>`; to, cc
    and bcc may list several, separated by commas."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    sender: StrictStr | None = Field(
        default=None,
        alias="from",
        description="Optional here (required by MailPace): without it the credential's "
        "sender_defaults.from_email is used, and with no default it is refused as required",
    )
    to: StrictStr
    subject: StrictStr | None = None
    htmlbody: StrictStr | None = None
    textbody: StrictStr | None = None
    cc: StrictStr | None = None
    bcc: StrictStr | None = None
    replyto: StrictStr | None = Field(default=None, description="One address: Posthorn sends one Reply-To")
    inreplyto: StrictStr | None = None
    references: StrictStr | None = None
    list_unsubscribe: StrictStr | None = None
    attachments: list[MailPaceAttachment] | None = None  # null is absent, like every other field
    tags: StrictStr | list[StrictStr] | None = None


class MailPaceAnswer(BaseModel):
    """`id` is Posthorn's message_id (`GET /v1/messages/{id}`)."""

    id: str
    status: Literal["queued"]


class MailPaceError(BaseModel):
    error: str


class MailPaceFieldErrors(BaseModel):
    errors: dict[str, list[str]] = Field(description="Each refused field with its problems")


EXAMPLE: dict[str, Any] = {
    "from": "Example App <hello@example.com>",
    "to": "Ada Lovelace <success@simulator.amazonses.com>",
    "subject": "Your receipt",
    "htmlbody": "<p>Thanks for your order.</p>",
    "textbody": "Thanks for your order.",
    "tags": ["receipt"],
}
_EXAMPLES: dict[type[PosthornError], PosthornError] = {
    errors.Forbidden: errors.Forbidden("this credential lacks the 'send' permission"),
    errors.DomainPaused: errors.DomainPaused(
        "sending from example.com is paused by the deliverability guard"
    ),
    errors.NotFound: errors.NotFound(
        "unknown file", details=[{"field": "attachments", "message": "unknown"}]
    ),
    errors.Conflict: errors.Conflict("the resource is in use"),
    errors.IdempotencyConflict: errors.IdempotencyConflict("this Idempotency-Key was used with another body"),
    errors.PayloadTooLarge: errors.PayloadTooLarge("the message would be over SES's 40 MB"),
    errors.ValidationFailed: errors.ValidationFailed(
        "to: is invalid", details=[{"field": "to", "message": "'nobody' is not an email address"}]
    ),
    errors.MissingTemplateData: errors.MissingTemplateData("no value", details=[{"message": "no value"}]),
    errors.RateLimited: errors.RateLimited(
        "rate limit of 14 messages per second exceeded", retry_after_seconds=1
    ),
    errors.UpstreamRejected: errors.UpstreamRejected("SES rejected the message: 554 Message rejected"),
    errors.UpstreamUnavailable: errors.UpstreamUnavailable("SES is unavailable; the message was not sent"),
}


def _answers() -> dict[int, Any]:
    declared: dict[int, Any] = {
        200: {
            "description": "Accepted and queued for delivery",
            "content": {
                "application/json": {
                    "model": MailPaceAnswer,
                    "examples": {
                        "queued": {"value": {"id": "msg_01M8RNF16RVT63JAZRT5PK8PM5", "status": "queued"}}
                    },
                }
            },
        }
    }
    for kind, (status, text) in ERRORS.items():
        example = _EXAMPLES.get(kind) or kind(text or kind.code)
        model = MailPaceFieldErrors if issubclass(kind, ERRORS_SHAPE) else MailPaceError
        body = (
            {"errors": _field_errors(example, text)}
            if issubclass(kind, ERRORS_SHAPE)
            else {"error": text or example.message}
        )
        response = declared.setdefault(
            status, {"description": "", "content": {"application/json": {"model": model, "examples": {}}}}
        )
        response["content"]["application/json"]["examples"][
            kind.code if kind is not MissingApiKey else "missing"
        ] = {"value": body}
        response["description"] = "; ".join(filter(None, [response["description"], kind.__name__]))
    declared[500] = INTERNAL_ERROR
    return declared


# --- the mapping -----------------------------------------------------------------------------------------
def addresses(value: str) -> list[str]:
    """A comma-separated address list, split outside quotes and angle brackets (`"Doe, J" <j@x.y>`)."""
    found: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for character in value:
        if character == '"' and not angled:
            quoted = not quoted
        elif character == "<" and not quoted:
            angled = True
        elif character == ">" and not quoted:
            angled = False
        if character == "," and not quoted and not angled:
            found.append("".join(current))
            current = []
        else:
            current.append(character)
    found.append("".join(current))
    return [item.strip() for item in found if item.strip()]


# Posthorn's field names → MailPace's, for the keys of `errors`.
_FIELDS = {
    "from_email": "from",
    "from_name": "from",
    "reply_to_email": "replyto",
    "reply_to_name": "replyto",
    "body_text": "textbody",
    "body_html": "htmlbody",
}
_HEADERS = {"in-reply-to": "inreplyto", "references": "references"}


def mailpace_field(location: tuple[str | int, ...]) -> str:
    if not location:
        return ""
    head = str(location[0])
    if head == "headers" and len(location) > 1:
        return _HEADERS.get(str(location[1]).lower(), "headers")
    if head == "attachments" and len(location) > 2:
        return f"attachments.{location[2]}"
    return _FIELDS.get(head, head)


def message(body: Mapping[str, Any]) -> SendEmailRequest:
    """The body as the Posthorn message, or the ValidationFailed naming MailPace's fields."""
    try:
        email = MailPaceEmail.model_validate(body)
    except PydanticError as error:
        raise compat.invalid(error, lambda location: str(location[0]) if location else "") from None
    replies = addresses(email.replyto or "")
    if len(replies) > 1:
        raise errors.ValidationFailed.on("replyto", "Posthorn sends one Reply-To address; give at most one")
    if email.subject is None:
        raise errors.ValidationFailed.on("subject", "Posthorn needs a subject; give one")
    if email.htmlbody is None and email.textbody is None:  # said with MailPace's names, not Posthorn's
        raise errors.ValidationFailed.on("htmlbody", "give htmlbody or textbody (or both)")
    headers = {"In-Reply-To": email.inreplyto, "References": email.references}
    mapped: dict[str, Any] = {
        "to": addresses(email.to),
        "cc": addresses(email.cc or ""),
        "bcc": addresses(email.bcc or ""),
        "subject": email.subject,
        "body_text": email.textbody,
        "body_html": email.htmlbody,
        "headers": {name: value for name, value in headers.items() if value is not None},
        "list_unsubscribe": email.list_unsubscribe,
        "attachments": [
            {
                key: value
                for key, value in {
                    "name": item.name,
                    "content": item.content,
                    "content_type": item.content_type,
                    "content_id": item.cid,
                }.items()
                if value is not None
            }
            for item in email.attachments or []
        ],
        "tags": [email.tags] if isinstance(email.tags, str) else list(email.tags or []),
    }
    if email.sender is not None:  # absent: the credential's sender_defaults fill it (or refuse it) later
        name, address = split_display_address(email.sender.strip())
        mapped["from_email"], mapped["from_name"] = address, name or None
    if replies:
        reply_name, reply_address = split_display_address(replies[0])
        mapped["reply_to_email"] = reply_address
        mapped["reply_to_name"] = reply_name or None
    try:
        return SendEmailRequest.model_validate(mapped)
    except PydanticError as error:
        raise compat.invalid(error, mailpace_field) from None


def sendable(request: SendEmailRequest, credential: Credential) -> SendEmailRequest:
    """A message without `from` needs the credential's default From: else MailPace's field error."""
    if not compat.has_sender(request, credential):
        raise errors.ValidationFailed.on(
            "from", "is required: give it, or set the credential's sender_defaults.from_email"
        )
    return request


@router.post(
    "/mailpace/api/v1/send",
    summary="Send an email (MailPace's send API)",
    tags=[TAG],
    operation_id="mailpace_send",
    security=[{SCHEME: []}],
    responses=_answers(),
    openapi_extensions={"requestBody": request_body("MailPace's send body", MailPaceEmail, EXAMPLE)},
)
def send() -> Response[Any]:
    def handle(credential: Credential) -> Response:
        result, limits = send_one(router, sendable(message(json_body(router)), credential), credential)
        return vendor_json(200, {"id": result.message_id, "status": "queued"}, limits.headers())

    return SURFACE.answer(router, handle, idempotency=True)
