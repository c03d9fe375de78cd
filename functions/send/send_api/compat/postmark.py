"""Postmark's send API (`POST /email`, `POST /email/batch`) under `/postmark`, so an app written for Postmark
moves by changing its base URL and its server token (docs/api.md, "Compatible endpoints").

Postmark's official Node.js SDK (`postmark` on npm) builds its URL as `{useHttps ? "https" : "http"}://
{requestHost}{path}`: `new ServerClient(apiKey, {requestHost: "<api host>/<stage>/postmark"})` (with
`useHttps: false` for `make run`'s `127.0.0.1:<port>/postmark`) points it here.

What maps: From ("Name <addr>" or addr), To/Cc/Bcc (comma-separated, with names), ReplyTo (one address),
Subject, HtmlBody, TextBody, Headers [{Name, Value}], Attachments [{Name, Content, ContentType, ContentID,
ContentLength, Disposition}] (a ContentID, "cid:" or not, makes the part inline), Tag (→ tags), Metadata,
TrackOpens, TrackLinks (None → off; HtmlOnly and HtmlAndText → on: SES tracks the links of the HTML part),
MessageStream ("outbound" or absent). What Posthorn cannot honour is refused with Postmark's 422 /
ErrorCode 300 naming the field, never dropped: any other field (TemplateId, TemplateAlias, TemplateModel,
InlineCss, ...), another MessageStream, TrackLinks "TextOnly" (SES rewrites no plain-text link), more than
one ReplyTo address, a Tag that is not a Posthorn tag, a header Posthorn writes itself.

Errors are Postmark's `{"ErrorCode", "Message"}` with Postmark's statuses (`ANSWERS`, one line per
PosthornError class); a batch answers 200 with an ErrorCode per message, as Postmark's does."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from posthorn import errors, wiring
from posthorn.errors import AllRecipientsSuppressed, InvalidJson, PosthornError, ValidationFailed, reply_for
from posthorn.logic.sending.steps import recipients_of
from posthorn.models.addresses import split_display_address
from posthorn.models.batches import MAX_BATCH_MESSAGES
from posthorn.models.credentials import Credential
from posthorn.models.email import SendEmailRequest
from send_api.compat.surface import Surface, accept_many, send_one, vendor_json
from send_api.contract import RATE_LIMIT_FIELDS, request_body, security_scheme
from send_api.errors import field_path
from send_api.provided import provided
from send_api.request_body import BodyNotJson, json_value

router = APIGatewayRouter()

TAG = "compatible: Postmark"
KEY_HEADER = "X-Postmark-Server-Token"
SECURITY_SCHEME = security_scheme(
    "postmark",
    {
        "type": "apiKey",
        "in": "header",
        "name": KEY_HEADER,
        "description": "Posthorn's api_key, as the server token",
    },
)

# Postmark's ErrorCodes (postmarkapp.com/developer/api/overview#error-codes) this surface answers with.
BAD_TOKEN = 10
MAINTENANCE = 100
INVALID_REQUEST = 300
SIGNATURE_NOT_FOUND = 400
SIGNATURE_NOT_CONFIRMED = 401
INVALID_JSON = 402
INCOMPATIBLE_JSON = 403
NOT_ALLOWED_TO_SEND = 405
INACTIVE_RECIPIENT = 406
TOO_MANY_BATCH_MESSAGES = 410
RATE_LIMIT_EXCEEDED = 429


class IncompatibleJson(ValidationFailed):
    """JSON that is not a message (or, for a batch, not an array): Postmark's "incompatible JSON" (403)."""


class TooManyBatchMessages(ValidationFailed):
    """A batch over 500 messages: Postmark's own code for it (410), a 422 like every other refusal."""


# Every PosthornError as Postmark answers it: (HTTP status, ErrorCode), Postmark's meaning beside it.
# Postmark puts every refusal of a request's content in a 422 with its code and has no 403: a key without
# `send` is a token that cannot send (401 / 10, as Postmark answers an account token on a server route).
ANSWERS: dict[type[PosthornError], tuple[int, int]] = {
    errors.Unauthorized: (401, BAD_TOKEN),  # bad or missing API token
    errors.Forbidden: (401, BAD_TOKEN),  # the key lacks `send`
    errors.InvalidJson: (422, INVALID_JSON),  # invalid JSON
    errors.CredentialSuspended: (422, NOT_ALLOWED_TO_SEND),  # not allowed to send
    errors.DomainPaused: (422, NOT_ALLOWED_TO_SEND),  # (Postmark pauses a sender over its bounce rate too)
    errors.SenderNotAllowed: (422, SIGNATURE_NOT_FOUND),  # sender signature not found
    errors.DomainNotVerified: (422, SIGNATURE_NOT_CONFIRMED),  # sender signature not confirmed
    errors.AllRecipientsSuppressed: (422, INACTIVE_RECIPIENT),  # inactive recipient
    TooManyBatchMessages: (422, TOO_MANY_BATCH_MESSAGES),  # too many batch messages
    IncompatibleJson: (422, INCOMPATIBLE_JSON),  # incompatible JSON
    errors.ValidationFailed: (422, INVALID_REQUEST),  # invalid email request
    errors.MissingTemplateData: (422, INVALID_REQUEST),  # (not reachable: no template_data is mapped)
    errors.NotFound: (422, INVALID_REQUEST),  # (a send refers to nothing by id; kept for completeness)
    errors.Conflict: (422, INVALID_REQUEST),
    # Posthorn's Idempotency-Key reused with another body, or still running: Postmark has no such error; 409
    # as every other surface answers it (the SDK's UnknownError with this message), ErrorCode 300.
    errors.IdempotencyConflict: (409, INVALID_REQUEST),
    errors.UpstreamRejected: (422, INVALID_REQUEST),  # SES refused the message for good: not sent
    errors.PayloadTooLarge: (413, INVALID_REQUEST),  # Postmark's 413 "payload too large"
    errors.RateLimited: (429, RATE_LIMIT_EXCEEDED),  # rate limit exceeded, with Retry-After
    errors.UpstreamUnavailable: (503, MAINTENANCE),  # Postmark's 503 "service unavailable", nothing accepted
}
# A batch item's error arrives as its code (`ApiError.code`): the same table by code.
ERROR_CODES: dict[str, int] = {
    kind.code: code
    for kind, (_, code) in ANSWERS.items()
    if kind not in (TooManyBatchMessages, IncompatibleJson)
}


def answer_of(error: PosthornError) -> tuple[int, int]:
    """(HTTP status, ErrorCode) for `error`: its class's, else its nearest listed base's; 500, 0 if none."""
    return reply_for(ANSWERS, error) or (500, 0)


def render(error: PosthornError) -> Response:
    status, code = answer_of(error)
    return vendor_json(status, {"ErrorCode": code, "Message": error.message})


SURFACE = Surface("Postmark", api_key=lambda headers: headers.get(KEY_HEADER), render=render)


# --- the request, as Postmark's SDKs send it ----------------------------------------------------------
class PostmarkHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    Name: str
    Value: str


class PostmarkAttachment(BaseModel):
    """An attachment as Postmark takes it: its bytes in base64; a `ContentID` makes it an inline part."""

    model_config = ConfigDict(extra="forbid", strict=True)

    Name: str
    Content: str = Field(description="The file's bytes, base64")
    ContentType: str
    ContentID: str | None = Field(default=None, description='"cid:logo.png" (or "logo.png"): an inline part')
    ContentLength: int | None = Field(default=None, ge=0, description="The decoded size, if given")
    Disposition: Literal["attachment", "inline"] | None = Field(
        default=None, description="`inline` with a ContentID, `attachment` without"
    )


class PostmarkMessage(BaseModel):
    """`POST /postmark/email`'s body: Postmark's send fields that Posthorn honours, and nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True)

    From: str | None = Field(
        default=None,
        description='"sender@example.com" or "Name <sender@example.com>". Optional here (required by '
        "Postmark): without it the credential's sender_defaults.from_email is used, and with no default "
        "it is refused as required",
    )
    To: str = Field(description="Comma-separated, with names: 'Jane <jane@example.net>, bob@example.net'")
    Cc: str | None = None
    Bcc: str | None = None
    ReplyTo: str | None = Field(default=None, description="One address, with or without a name")
    Subject: str = Field(min_length=1)
    HtmlBody: str | None = None
    TextBody: str | None = None
    Tag: str | None = Field(default=None, description="One Posthorn tag: 1-64 of A-Z a-z 0-9 _ -")
    Metadata: dict[str, str] | None = None
    Headers: list[PostmarkHeader] | None = None
    Attachments: list[PostmarkAttachment] | None = None
    TrackOpens: bool | None = None
    TrackLinks: Literal["None", "HtmlAndText", "HtmlOnly"] | None = Field(
        default=None, description="`TextOnly` is refused: SES tracks the links of the HTML part"
    )
    MessageStream: Literal["outbound"] | None = Field(
        default=None, description="Posthorn has one stream: `outbound` (the default)"
    )


class PostmarkSent(BaseModel):
    """Postmark's answer to an accepted message; `MessageID` is Posthorn's message_id."""

    To: str
    SubmittedAt: str = Field(description="When Posthorn accepted it (ISO 8601)")
    MessageID: str
    ErrorCode: Literal[0]
    Message: Literal["OK"]


class PostmarkError(BaseModel):
    """Postmark's error: `ErrorCode` (postmarkapp.com/developer/api/overview#error-codes) and a message."""

    ErrorCode: int
    Message: str


# Postmark fields Posthorn cannot honour, and why (any other unknown field: "not a field of this route").
UNSUPPORTED: dict[str, str] = {
    "TemplateId": "Posthorn keeps no stored templates (Postmark's /email/withTemplate is not offered)",
    "TemplateAlias": "Posthorn keeps no stored templates (Postmark's /email/withTemplate is not offered)",
    "TemplateModel": "Posthorn keeps no stored templates (Postmark's /email/withTemplate is not offered)",
    "InlineCss": "Posthorn does not inline CSS",
}
# Posthorn's field (the first part of its error's path) → the Postmark field it came from.
POSTMARK_FIELD: dict[str, str] = {
    "from_email": "From",
    "from_name": "From",
    "to": "To",
    "cc": "Cc",
    "bcc": "Bcc",
    "reply_to_email": "ReplyTo",
    "reply_to_name": "ReplyTo",
    "subject": "Subject",
    "body_text": "TextBody",
    "body_html": "HtmlBody",
    "attachments": "Attachments",
    "headers": "Headers",
    "tags": "Tag",
    "metadata": "Metadata",
}
_ATTACHMENT_FIELD = {
    "name": "Name",
    "content": "Content",
    "content_type": "ContentType",
    "content_id": "ContentID",
}


def invalid(field: str, reason: str) -> ValidationFailed:
    """Postmark's ErrorCode 300, naming the field (as `details[].field` too, for the batch and the logs)."""
    return ValidationFailed(f"Invalid '{field}': {reason}", details=[{"field": field, "message": reason}])


def message_of(body: Any) -> SendEmailRequest:
    """A Postmark message as Posthorn's send request, or ValidationFailed naming the Postmark field."""
    if not isinstance(body, dict):
        raise IncompatibleJson("a message must be a JSON object")
    for name in body:
        if name not in PostmarkMessage.model_fields:
            reason = UNSUPPORTED.get(name, "is not a field of Postmark's email API that Posthorn honours")
            raise invalid(name, f"not supported: {reason}")
    if body.get("TrackLinks") == "TextOnly":
        raise invalid("TrackLinks", "TextOnly is not supported: SES tracks the links of the HTML part only")
    if body.get("MessageStream") not in (None, "outbound"):
        raise invalid(
            "MessageStream", f"no stream {body['MessageStream']!r}: Posthorn has one stream, 'outbound'"
        )
    try:
        message = PostmarkMessage.model_validate(body)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise invalid(field_path(first["loc"]) or "body", _reason(first)) from None
    return _request(message)


def _reason(error: Mapping[str, Any]) -> str:
    if error.get("type") == "missing":
        return "is required"
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ")


def _request(message: PostmarkMessage) -> SendEmailRequest:
    if message.HtmlBody is None and message.TextBody is None:
        raise invalid("TextBody", "provide either TextBody or HtmlBody or both")
    fields: dict[str, Any] = {
        "to": addresses(message.To),
        "cc": addresses(message.Cc or ""),
        "bcc": addresses(message.Bcc or ""),
        "subject": message.Subject,
        "body_text": message.TextBody,
        "body_html": message.HtmlBody,
        "headers": _headers(message.Headers or []),
        "attachments": [_attachment(index, a) for index, a in enumerate(message.Attachments or [])],
        "tags": [message.Tag] if message.Tag is not None else [],
        "metadata": message.Metadata or {},
        "track_opens": bool(message.TrackOpens),
        "track_clicks": message.TrackLinks in ("HtmlAndText", "HtmlOnly"),
    }
    if message.From is not None:  # absent: the credential's sender_defaults fill it (or refuse it) later
        sender_name, sender = _one_address("From", message.From)
        fields["from_email"], fields["from_name"] = sender, sender_name or None
    if message.ReplyTo:
        reply_name, reply = _one_address("ReplyTo", message.ReplyTo)
        fields["reply_to_email"], fields["reply_to_name"] = reply, reply_name or None
    try:
        return SendEmailRequest.model_validate(fields)
    except ValidationError as error:
        raise _named(error.errors(include_url=False)[0]) from None


def _named(error: Mapping[str, Any]) -> ValidationFailed:
    """Posthorn's refusal of a mapped field (a pydantic error), said of the Postmark field it came from."""
    location = list(error.get("loc", ()))
    path = field_path(location) if location else str((error.get("ctx") or {}).get("field", ""))
    return said_of_postmark(path, _reason(error))


_PATH = re.compile(r"^(?P<name>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<inner>[a-z_]+))?")


def said_of_postmark(path: str, reason: str) -> ValidationFailed:
    """A refusal of Posthorn's field at `path` (`attachments[0].content`, `to[2]`) as a refusal of the
    Postmark field it came from (`Attachments[0].Content`, the 3rd address of `To`)."""
    found = _PATH.match(path)
    if found is None:
        return invalid("body", reason)
    name, index, inner = found["name"], found["index"], found["inner"]
    field = POSTMARK_FIELD.get(name, name)
    if field == "Attachments" and index is not None:
        field = f"Attachments[{index}]" + (
            f".{_ATTACHMENT_FIELD[inner]}" if inner in _ATTACHMENT_FIELD else ""
        )
    elif field in ("To", "Cc", "Bcc") and index is not None:
        reason = f"address {int(index) + 1}: {reason}"
    return invalid(field, reason)


def renamed(error: ValidationFailed) -> ValidationFailed:
    """A refusal from the send itself (an attachment's bytes, ...) naming Posthorn's field, renamed."""
    field = error.details[0].get("field") if error.details else None
    return said_of_postmark(field, error.details[0]["message"]) if field else error


def addresses(value: str) -> list[str]:
    """`'"Müller, Jürgen" <j@x.de>, bob@y.org'` → each mailbox as written, split on the commas that are
    not inside a quoted name or angle brackets (Posthorn's recipient rule then reads each one)."""
    found: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = 0
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            angle += 1
        elif char == ">" and not quoted and angle:
            angle -= 1
        elif char == "," and not quoted and not angle:
            found.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    found.append("".join(current).strip())
    return [mailbox for mailbox in found if mailbox]


def _one_address(field: str, value: str) -> tuple[str, str]:
    mailboxes = addresses(value)
    if len(mailboxes) != 1:
        raise invalid(field, "give exactly one address" if mailboxes else "is required")
    return split_display_address(mailboxes[0])


def _headers(headers: Sequence[PostmarkHeader]) -> dict[str, str]:
    """Postmark's list of headers as Posthorn's map: a name given twice is refused, not overwritten."""
    mapped: dict[str, str] = {}
    seen: set[str] = set()
    for index, header in enumerate(headers):
        if header.Name.lower() in seen:
            raise invalid(f"Headers[{index}]", f"header {header.Name!r} is given twice")
        seen.add(header.Name.lower())
        mapped[header.Name] = header.Value
    return mapped


def _attachment(index: int, attachment: PostmarkAttachment) -> dict[str, Any]:
    content_id = attachment.ContentID
    if content_id is not None and content_id.lower().startswith("cid:"):
        content_id = content_id[4:]
    if attachment.Disposition is not None and (attachment.Disposition == "inline") != bool(content_id):
        raise invalid(
            f"Attachments[{index}].Disposition",
            "an inline part needs a ContentID, and a part with a ContentID is inline",
        )
    if attachment.ContentLength is not None:
        try:
            size = len(base64.b64decode(attachment.Content, validate=True))
        except (binascii.Error, ValueError):
            raise invalid(f"Attachments[{index}].Content", "is not valid base64") from None
        if size != attachment.ContentLength:
            raise invalid(
                f"Attachments[{index}].ContentLength",
                f"is {attachment.ContentLength}; Content holds {size} bytes",
            )
    return {
        "name": attachment.Name,
        "content": attachment.Content,
        "content_type": attachment.ContentType,
        **({"content_id": content_id} if content_id else {}),
    }


def inactive(error: AllRecipientsSuppressed, request: SendEmailRequest) -> AllRecipientsSuppressed:
    """Postmark's wording, which its SDKs read the addresses from (`InactiveRecipientsError.recipients`)."""
    listed = ", ".join(recipient.email for recipient, _ in recipients_of(request))
    return AllRecipientsSuppressed(
        "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: "
        f"{listed}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a "
        f"manual suppression. ({error.message})"
    )


# --- the routes -------------------------------------------------------------------------------------
def _sent(to: str, message_id: str, at: datetime) -> dict[str, Any]:
    return {
        "To": to,
        "SubmittedAt": at.isoformat(timespec="milliseconds"),
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }


def _body() -> Any:
    raw = router.current_event.decoded_body
    if not raw:
        raise InvalidJson("the request body is empty: send a JSON message")
    try:
        return json_value(raw)
    except BodyNotJson as error:
        raise InvalidJson(error.msg) from None


def send(credential: Credential) -> Response:
    body = _body()
    request = message_of(body)
    try:
        result, limits = send_one(router, request, credential)
    except AllRecipientsSuppressed as error:
        raise inactive(error, request) from None
    except ValidationFailed as error:
        raise renamed(error) from None
    now = provided(router, wiring.clock).now()
    return vendor_json(200, _sent(body["To"], result.message_id, now), limits.headers())


def send_batch(credential: Credential) -> Response:
    body = _body()
    if not isinstance(body, list):
        raise IncompatibleJson("a batch is a JSON array of messages")
    if not body:
        raise invalid("body", "a batch holds at least one message")
    if len(body) > MAX_BATCH_MESSAGES:
        raise TooManyBatchMessages(f"a batch holds at most {MAX_BATCH_MESSAGES} messages, not {len(body)}")
    items: list[SendEmailRequest | PosthornError] = []
    for item in body:
        try:
            items.append(message_of(item))
        except PosthornError as error:
            items.append(error)
    result, limits = accept_many(router, items, credential)
    now = provided(router, wiring.clock).now()
    answers: list[dict[str, Any]] = []
    for item, outcome in zip(items, result.results, strict=True):
        if isinstance(item, PosthornError):  # refused by the mapping: its own class says its code
            answers.append({"ErrorCode": answer_of(item)[1], "Message": item.message})
            continue
        if outcome.message_id is not None:
            answers.append(_sent(body[outcome.index]["To"], outcome.message_id, now))
            continue
        assert outcome.error is not None  # a rejected item carries its error
        message = outcome.error.message
        if outcome.error.code == AllRecipientsSuppressed.code:
            message = inactive(AllRecipientsSuppressed(message), item).message
        elif outcome.error.code == ValidationFailed.code:
            details = [detail.model_dump(exclude_none=True) for detail in outcome.error.details or []]
            message = renamed(ValidationFailed(message, details=details)).message
        answers.append(
            {"ErrorCode": ERROR_CODES.get(outcome.error.code, INVALID_REQUEST), "Message": message}
        )
    return vendor_json(200, answers, limits.headers())


# --- the document --------------------------------------------------------------------------------------
EXAMPLE_MESSAGE: dict[str, Any] = {
    "From": "Zoë's Café <hello@example.com>",
    "To": '"Müller, Jürgen" <juergen@example.net>, team@example.net',
    "Subject": "Your receipt",
    "HtmlBody": "<p>Thanks for your order.</p>",
    "TextBody": "Thanks for your order.",
    "Tag": "receipt",
    "Metadata": {"order_id": "1234"},
    "TrackOpens": True,
    "TrackLinks": "HtmlOnly",
    "MessageStream": "outbound",
}
EXAMPLE_SENT: dict[str, Any] = _sent(
    EXAMPLE_MESSAGE["To"],
    "0100018c5f3b2a1e-4c7d9e2f-1a2b-4c3d-9e8f-7a6b5c4d3e2f-000000",
    datetime.fromisoformat("2026-12-06T19:30:00.123+00:00"),
)
_INACTIVE_EXAMPLE = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: "
    "juergen@example.net. Inactive recipients are ones that have generated a hard bounce, a spam complaint, "
    "or a manual suppression."
)
_TEMPLATE_REFUSED = (
    "Invalid 'TemplateId': not supported: Posthorn keeps no stored templates (Postmark's /email/withTemplate "
    "is not offered)"
)
# Each status this surface answers with, and its examples: (status, [(ErrorCode, Message)], headers).
_ERROR_EXAMPLES: tuple[tuple[int, list[tuple[int, str]], Mapping[str, str]], ...] = (
    (401, [(BAD_TOKEN, "unknown credential or wrong secret")], {}),
    (413, [(INVALID_REQUEST, "the message would be about 41943552 bytes once encoded; SES accepts at most "
                             "41943040")], RATE_LIMIT_FIELDS),
    (422, [
        (INVALID_REQUEST, _TEMPLATE_REFUSED),
        (SIGNATURE_NOT_FOUND, "this credential may not send from example.org"),
        (SIGNATURE_NOT_CONFIRMED, "example.com is not verified yet"),
        (INVALID_JSON, "the request body is not valid JSON: Expecting value (line 1, column 1)"),
        (INCOMPATIBLE_JSON, "a message must be a JSON object"),
        (NOT_ALLOWED_TO_SEND, "sending from example.com is paused by the deliverability guard"),
        (INACTIVE_RECIPIENT, _INACTIVE_EXAMPLE),
    ], RATE_LIMIT_FIELDS),
    (409, [(INVALID_REQUEST, "this Idempotency-Key was used with a different request body")], {}),
    (429, [(RATE_LIMIT_EXCEEDED, "rate limit of 14 messages per second exceeded")],
     {**RATE_LIMIT_FIELDS, "Retry-After": "Seconds until a retry can be accepted"}),
    (503, [(MAINTENANCE, "SES is unavailable; the message was not sent")], RATE_LIMIT_FIELDS),
)  # fmt: skip
_BATCH_ONLY = (TOO_MANY_BATCH_MESSAGES, "a batch holds at most 500 messages, not 501")


def _header_docs(described: Mapping[str, str]) -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": "string"}} for name, text in described.items()}


def _responses(success: dict[str, Any], *, batch: bool) -> dict[int, Any]:
    declared: dict[int, Any] = {200: success}
    for status, listed, headers in _ERROR_EXAMPLES:
        shown = [*listed, _BATCH_ONLY] if batch and status == 422 else listed
        declared[status] = {
            "description": "Postmark's error: " + ", ".join(f"ErrorCode {code}" for code, _ in shown),
            "content": {
                "application/json": {
                    "model": PostmarkError,
                    "examples": {
                        f"error_{code}": {"value": {"ErrorCode": code, "Message": text}}
                        for code, text in shown
                    },
                }
            },
            **({"headers": _header_docs(headers)} if headers else {}),
        }
    return declared


_BATCH_ITEMS = {"anyOf": [{"$ref": "#/components/schemas/PostmarkMessage"}, {"description": "anything else"}]}
_SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
# Postmark has no Idempotency-Key; Posthorn reads it here as on every entry point (API.md, "Guarantees").
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key again with the same body to get the first answer instead of a second "
    "send (Posthorn's, not Postmark's; 24 hours)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 256},
}


@router.post(
    "/postmark/email",
    summary="Send one message (Postmark's POST /email)",
    description=(
        "Postmark's send route: the key in `X-Postmark-Server-Token`, Postmark's fields and answers. "
        "Point Postmark's SDK here with `requestHost: '<api host>/<stage>/postmark'`."
    ),
    tags=[TAG],
    operation_id="postmark_send_email",
    security=_SECURITY,
    openapi_extensions={
        "requestBody": request_body("A Postmark message", PostmarkMessage, EXAMPLE_MESSAGE),
        "parameters": [_IDEMPOTENCY_KEY],
    },
    responses=_responses(
        {
            "description": "Sent (or queued when SES was briefly unavailable)",
            "content": {
                "application/json": {"model": PostmarkSent, "examples": {"sent": {"value": EXAMPLE_SENT}}}
            },
            "headers": _header_docs(RATE_LIMIT_FIELDS),
        },
        batch=False,
    ),
)
def postmark_send_email() -> Response[Any]:
    return SURFACE.answer(router, send, idempotency=True, body=lambda _: _body())


@router.post(
    "/postmark/email/batch",
    summary="Queue up to 500 messages (Postmark's POST /email/batch)",
    description=(
        "An array of Postmark messages. The answer is 200 with one entry per message, in order: "
        "Postmark's sent answer, or `{ErrorCode, Message}` for a message that was refused."
    ),
    tags=[TAG],
    operation_id="postmark_send_email_batch",
    security=_SECURITY,
    openapi_extensions={
        "parameters": [_IDEMPOTENCY_KEY],
        "requestBody": {
            "description": "Up to 500 Postmark messages",
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_BATCH_MESSAGES,
                        "items": _BATCH_ITEMS,
                    },
                    "examples": {
                        "example": {"value": [EXAMPLE_MESSAGE, {**EXAMPLE_MESSAGE, "TemplateId": 7}]}
                    },
                }
            },
        },
    },
    responses=_responses(
        {
            "description": "One entry per message, in order: sent, or Postmark's error for that message",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/PostmarkSent"},
                                {"$ref": "#/components/schemas/PostmarkError"},
                            ]
                        },
                    },
                    "examples": {
                        "one_sent_one_refused": {
                            "value": [
                                EXAMPLE_SENT,
                                {"ErrorCode": INVALID_REQUEST, "Message": _TEMPLATE_REFUSED},
                            ]
                        }
                    },
                }
            },
            "headers": _header_docs(RATE_LIMIT_FIELDS),
        },
        batch=True,
    ),
)
def postmark_send_email_batch() -> Response[Any]:
    return SURFACE.answer(router, send_batch, idempotency=True, body=lambda _: _body())
