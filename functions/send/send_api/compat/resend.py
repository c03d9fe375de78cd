"""Resend's send routes (docs/api.md, "Compatible endpoints"): `POST /resend/emails` and
`POST /resend/emails/batch`, taken as Resend's API reference and its official SDKs send them and answered as
Resend answers, so an app moves by pointing its SDK at `<api>/resend` with a Posthorn api_key as the key.
The SDKs' base URL: npm `resend` takes `new Resend(key, {baseUrl})` or `RESEND_BASE_URL`; PyPI `resend`
reads the module attribute `resend.api_url` (from `RESEND_API_URL` at import).

What maps: `from` ("Name <addr>"), `to`/`cc`/`bcc` (a string or a list), `reply_to` (one address), `subject`,
`html`, `text` (`""` means no text part, as Resend's opt-out), `headers` (`List-Unsubscribe` becomes
Posthorn's `list_unsubscribe`; `List-Unsubscribe-Post: List-Unsubscribe=One-Click` is written by Posthorn
with an https one), `attachments` (`filename`, `content` as base64, a list of byte values as the Python SDK
sends `list(bytes)`, or a Node Buffer's JSON `{"type": "Buffer", "data": [...]}`; `content_type`;
`content_id` or the Python SDK's `inline_content_id` for an inline image), `tags` (each `{name, value}` is
the message's metadata `name: value`: Posthorn's tags are bare labels, Resend's are pairs, and metadata is
what Posthorn's webhooks and `GET /v1/messages/{id}` give back), and `Idempotency-Key`.

Refused, naming the field (REFUSED): `scheduled_at`, `template`, `topic_id`, `react` (the Node SDK renders
React to `html` itself; a raw `react` field is not something the API can render), an attachment's `path`
(Posthorn does not fetch URLs), more than one `reply_to`, and any other field.

The batch takes up to 100 emails, Resend's `x-batch-validation` modes: `strict` (the default) refuses the
whole batch for the first email that would be refused (its fields, its sender, every recipient
suppressed, too large once encoded) before any is queued (Resend: "sends the batch only if all emails in the
request are valid"); `permissive` queues the valid ones and lists `errors: [{index, message}]`. An email off
the documented shape (a field's type or limit, a field Resend does not have) refuses the whole batch in
either mode, as any request off the document is refused. Only an email that could not be stored or queued
(the store or the queue unavailable) is listed in `errors` in strict mode: the others are queued by then.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from posthorn import errors, wiring
from posthorn.errors import PosthornError, ValidationFailed, reply_for
from posthorn.logic.sending.batches import BatchRefused
from posthorn.logic.sending.sender_defaults import from_address, with_sender_defaults
from posthorn.logic.sending.steps import check_sender
from posthorn.models.addresses import domain_of, split_display_address
from posthorn.models.credentials import Credential
from posthorn.models.email import SendEmailRequest
from send_api.compat.surface import (
    MissingApiKey,
    Surface,
    accept_many,
    has_sender,
    json_body,
    send_one,
    vendor_json,
)
from send_api.contract import ERROR_REF, INTERNAL_ERROR, RATE_LIMIT_FIELDS, schema_ref
from send_api.provided import provided
from send_api.request_body import BodyNotJson, is_json, json_value, not_json_message

router = APIGatewayRouter()
TAG = "compatible: Resend"
MAX_BATCH = 100  # Resend's batch limit
MAX_ADDRESSES = 50  # Resend's per-field limit (Posthorn's: 50 across to, cc and bcc)


# --- Resend's request, as its API reference and SDKs send it (the document says it with these models) ---
class MissingRequiredField(ValidationFailed):
    """Resend's 422 `missing_required_field`, worded as Resend words it."""

    @classmethod
    def named(cls, field: str, what: str | None = None) -> MissingRequiredField:
        message = f"Missing `{what or field}` field."
        return cls(message, details=[{"field": field, "message": message}])


class InvalidAttachment(ValidationFailed):
    """Resend's 422 `invalid_attachment`."""


Addresses = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
AddressField = Addresses | Annotated[list[Addresses], Field(min_length=1, max_length=MAX_ADDRESSES)]
Byte = Annotated[int, Field(ge=0, le=255)]
TagText = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]


class NodeBuffer(BaseModel):
    """`JSON.stringify(buffer)`: what a Node Buffer becomes in a JSON body (older `resend` versions)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Buffer"]
    data: list[Byte]


class ResendAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content: str | list[Byte] | NodeBuffer = Field(
        description="Base64, a list of byte values (Python SDK), or a Node Buffer's JSON"
    )
    content_type: str | None = None
    content_id: str | None = Field(default=None, description="Makes it an inline image: `cid:<content_id>`")
    inline_content_id: str | None = Field(default=None, description="The Python SDK's name for content_id")


class ResendTag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[TagText, StringConstraints(min_length=1, max_length=64)]
    value: Annotated[TagText, StringConstraints(max_length=256)] | None = None


class ResendEmail(BaseModel):
    """A `POST /emails` body (and each item of `POST /emails/batch`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    from_: Addresses | None = Field(
        default=None,
        alias="from",
        description='"addr" or "Name <addr>". Optional here (required by Resend): without it the '
        "credential's sender_defaults.from_email is used, and with no default it is refused as missing",
    )
    to: AddressField
    subject: Annotated[str, StringConstraints(min_length=1, max_length=998)]
    cc: AddressField | None = None
    bcc: AddressField | None = None
    reply_to: Addresses | Annotated[list[Addresses], Field(max_length=1)] | None = Field(
        default=None, description="One address: Posthorn sets a single Reply-To"
    )
    html: str | None = None
    text: str | None = None
    headers: dict[str, str] | None = None
    attachments: list[ResendAttachment] | None = None
    tags: Annotated[list[ResendTag], Field(max_length=20)] | None = Field(
        default=None, description="Each becomes the message's metadata `name: value`"
    )


class ResendSent(BaseModel):
    id: str = Field(description="Posthorn's message_id: GET /v1/messages/{id}")


class ResendBatchError(BaseModel):
    index: int
    message: str


def _absent(value: object) -> bool:
    return value is None


class ResendBatchSent(BaseModel):
    data: list[ResendSent]
    errors: list[ResendBatchError] | None = Field(
        default=None,
        exclude_if=_absent,
        description="`permissive` mode (and an email refused as it was stored): the emails not queued",
    )


class ResendError(BaseModel):
    """Resend's error body."""

    statusCode: int
    name: str
    message: str


# Fields of Resend's API Posthorn cannot honour: refused with the reason, never dropped.
REFUSED: dict[str, str] = {
    "scheduled_at": "Posthorn sends at once and does not schedule; call the API when the email is due",
    "template": "Posthorn does not store Resend templates; send the rendered html and text",
    "topic_id": "Posthorn has no topics; send to the recipients who opted in",
    "react": "the Node SDK renders `react` to html itself; send html",
}


# --- Posthorn's errors in Resend's words -----------------------------------------------------------------
# Every PosthornError class (send_api/errors.py HTTP_STATUS) → Resend's status and error name
# (resend.com/docs/api-reference/errors; the SDKs' RESEND_ERROR_CODE_KEY). The message is Posthorn's own.
ANSWERS: dict[type[PosthornError], tuple[int, str]] = {
    PosthornError: (500, "internal_server_error"),
    errors.InvalidJson: (400, "validation_error"),
    MissingApiKey: (401, "missing_api_key"),
    errors.Unauthorized: (403, "invalid_api_key"),
    errors.CredentialSuspended: (403, "invalid_api_key"),
    errors.Forbidden: (401, "restricted_api_key"),  # a key without `send`: restricted
    errors.SenderNotAllowed: (403, "invalid_from_address"),
    errors.DomainNotVerified: (403, "validation_error"),  # Resend: "The domain is not verified"
    errors.DomainPaused: (403, "validation_error"),
    errors.NotFound: (404, "not_found"),
    errors.Conflict: (409, "validation_error"),  # not raised by a send
    errors.IdempotencyConflict: (409, "invalid_idempotent_request"),
    errors.IdempotencyInFlight: (409, "concurrent_idempotent_requests"),
    errors.PayloadTooLarge: (422, "validation_error"),
    errors.ValidationFailed: (422, "validation_error"),
    MissingRequiredField: (422, "missing_required_field"),
    InvalidAttachment: (422, "invalid_attachment"),
    errors.MissingTemplateData: (422, "validation_error"),  # no template data here: not raised
    errors.AllRecipientsSuppressed: (422, "validation_error"),
    errors.RateLimited: (429, "rate_limit_exceeded"),
    errors.UpstreamRejected: (502, "application_error"),
    errors.UpstreamUnavailable: (503, "application_error"),
}
IDEMPOTENCY_KEY = "Idempotency-Key"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="posthorn", charset="UTF-8"'}


def answer_of(error: PosthornError) -> tuple[int, str]:
    if isinstance(error, ValidationFailed) and any(d.get("field") == IDEMPOTENCY_KEY for d in error.details):
        return 400, "invalid_idempotency_key"
    return reply_for(ANSWERS, error) or (500, "internal_server_error")


def error_json(error: PosthornError) -> dict[str, Any]:
    status, name = answer_of(error)
    return {"statusCode": status, "name": name, "message": error.message}


def render(error: PosthornError) -> Response:
    body = error_json(error)
    return vendor_json(body["statusCode"], body, CHALLENGE if body["statusCode"] == 401 else None)


def api_key(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <api_key>`, as both SDKs send it."""
    scheme, _, key = (headers.get("authorization") or "").strip().partition(" ")
    return (key.strip() or None) if scheme.lower() == "bearer" else None


surface = Surface(name="Resend", api_key=api_key, render=render)


# --- the mapping ------------------------------------------------------------------------------------------
# A Posthorn field (its first location) → the Resend field a client knows it by.
RESEND_FIELD = {
    "from_email": "from",
    "from_name": "from",
    "reply_to_email": "reply_to",
    "reply_to_name": "reply_to",
    "body_text": "text",
    "body_html": "html",
    "metadata": "tags",
    "list_unsubscribe": "headers.List-Unsubscribe",
}
ATTACHMENT_FIELD = {"name": "filename"}


class Malformed(Exception):
    """An email off Resend's documented shape (a type, a limit, a field it has not): the refusal it carries
    refuses the whole batch in either `x-batch-validation` mode, as a request off the document is refused."""

    def __init__(self, refusal: ValidationFailed) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def message_of(body: Any) -> SendEmailRequest:
    """One Resend email as Posthorn's message, or the error naming the Resend field that stops it."""
    try:
        return _message_of(body)
    except Malformed as malformed:
        raise malformed.refusal from None


def _message_of(body: Any) -> SendEmailRequest:
    if not isinstance(body, dict):
        raise Malformed(ValidationFailed.on("(body)", "an email must be a JSON object"))
    for field, reason in REFUSED.items():
        if body.get(field) is not None:
            raise ValidationFailed.on(field, f"not supported by Posthorn: {reason}")
    attachments = body.get("attachments")
    for index, attachment in enumerate(attachments if isinstance(attachments, list) else []):
        if isinstance(attachment, dict) and attachment.get("path") is not None:
            raise InvalidAttachment.on(
                f"attachments[{index}].path",
                "Posthorn does not fetch URLs: send the file's bytes as content (base64)",
            )
    body = {key: value for key, value in body.items() if not (key in REFUSED and value is None)}
    try:
        for field in ("to", "cc", "bcc"):
            _check_addresses(field, body.get(field), required=field == "to")
        if isinstance(body.get("reply_to"), list) and len(body["reply_to"]) > 1:
            raise ValidationFailed.on("reply_to", "Posthorn sets one Reply-To address: give one")
        email = ResendEmail.model_validate(body)
    except ValidationError as error:
        raise Malformed(_refusal(error, resend=True)) from None
    except ValidationFailed as refusal:
        raise Malformed(refusal) from None
    if email.html is None and not email.text:
        raise MissingRequiredField.named("html", "html` or `text")
    try:
        return SendEmailRequest.model_validate(_posthorn_fields(email))
    except ValidationError as error:
        raise _refusal(error, resend=False) from None


def _check_addresses(field: str, value: Any, *, required: bool) -> None:
    """`to`/`cc`/`bcc` is a string or a list of 1-50: said as such, not as the union's first branch's
    "Input should be a valid string" (pydantic reports the `str` branch first)."""
    if value is None:
        if required:
            raise MissingRequiredField.named(field)
        return
    if isinstance(value, list) and len(value) > MAX_ADDRESSES:
        raise ValidationFailed.on(
            field, f"at most {MAX_ADDRESSES} recipients per email (Resend's limit), not {len(value)}"
        )
    if isinstance(value, list) and not value:
        raise ValidationFailed.on(field, "give at least one address")
    if not isinstance(value, str | list):
        raise ValidationFailed.on(field, "must be an address or a list of addresses")


def _posthorn_fields(email: ResendEmail) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "to": _listed(email.to),
        "cc": _listed(email.cc),
        "bcc": _listed(email.bcc),
        "subject": email.subject,
        "body_html": email.html,
        "body_text": email.text or None,  # "" is Resend's "no text part"
    }
    if email.from_ is not None:  # absent: the credential's sender_defaults fill it (or refuse it) later
        from_name, from_email = split_display_address(email.from_)
        fields.update(from_email=from_email, from_name=from_name or None)
    reply_to = _listed(email.reply_to)
    if reply_to:
        name, address = split_display_address(reply_to[0])
        fields.update(reply_to_email=address, reply_to_name=name or None)
    headers = dict(email.headers or {})
    unsubscribe = _pop(headers, "list-unsubscribe")
    one_click = _pop(headers, "list-unsubscribe-post")
    if one_click is not None and (
        one_click.strip() != "List-Unsubscribe=One-Click" or "<https://" not in (unsubscribe or "")
    ):
        raise ValidationFailed.on(
            "headers.List-Unsubscribe-Post",
            "Posthorn writes `List-Unsubscribe-Post: List-Unsubscribe=One-Click` itself for an https "
            "List-Unsubscribe; give only List-Unsubscribe",
        )
    fields["headers"] = headers
    if unsubscribe is not None:
        fields["list_unsubscribe"] = unsubscribe
    fields["attachments"] = [_attachment(index, item) for index, item in enumerate(email.attachments or [])]
    tags = email.tags or []
    if len({tag.name for tag in tags}) != len(tags):
        raise ValidationFailed.on("tags", "each tag name may be given once (they become metadata keys)")
    fields["metadata"] = {tag.name: tag.value or "" for tag in tags}
    return fields


def _attachment(index: int, attachment: ResendAttachment) -> dict[str, Any]:
    content = attachment.content
    if isinstance(content, NodeBuffer):
        content = content.data
    if isinstance(content, list):
        content = base64.b64encode(bytes(content)).decode("ascii")
    content_id = attachment.content_id or attachment.inline_content_id
    if attachment.content_id and attachment.inline_content_id not in (None, attachment.content_id):
        raise InvalidAttachment.on(f"attachments[{index}].content_id", "differs from inline_content_id")
    return {
        "name": attachment.filename,
        "content": content,
        "content_type": attachment.content_type,
        "content_id": content_id.strip("<>") if content_id else None,
    }


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _pop(headers: dict[str, str], name: str) -> str | None:
    for given in list(headers):
        if given.lower() == name:
            return headers.pop(given)
    return None


def _refusal(error: ValidationError, *, resend: bool) -> ValidationFailed:
    """The first problem pydantic found, named as the Resend field (`to[3]`, `attachments[0].filename`)."""
    problem = error.errors()[0]
    location = [part for part in problem["loc"] if isinstance(part, int) or not _union_member(part)]
    field = _field_path(location, resend=resend) or str((problem.get("ctx") or {}).get("field", ""))
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "missing" and len(location) == 1:
        return MissingRequiredField.named(field)
    if problem["type"] == "extra_forbidden" and len(location) == 1:
        return ValidationFailed.on(field, "not a field of Resend's send API that Posthorn takes")
    kind = InvalidAttachment if field.startswith("attachments") else ValidationFailed
    return kind.on(field or "(body)", message)


def _union_member(part: str | int) -> bool:
    """pydantic names the union member it tried (`str`, `list[...]`, `NodeBuffer`) in an error location."""
    return isinstance(part, str) and (
        part in {"str", "int", "NodeBuffer"} or part.startswith(("list[", "constrained-str", "function-"))
    )


def _field_path(location: list[str | int], *, resend: bool) -> str:
    path = ""
    for position, part in enumerate(location):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        if not resend and position == 0:
            part = RESEND_FIELD.get(part, part)
        elif not resend and location[0] == "attachments":
            part = ATTACHMENT_FIELD.get(part, part)
        elif not resend and location[0] in ("to", "cc", "bcc") and part in ("email", "name"):
            continue  # a Resend recipient is one string
        path += f".{part}" if path else part
    return path


# --- the routes -----------------------------------------------------------------------------------------
def sendable(message: SendEmailRequest, credential: Credential) -> SendEmailRequest:
    """A message without `from` needs the credential's default From: else Resend's missing-field error."""
    if not has_sender(message, credential):
        raise MissingRequiredField.named("from")
    return message


def _send(credential: Credential) -> Response:
    message = sendable(message_of(json_body(router)), credential)
    result, limits = send_one(router, message, credential)
    return vendor_json(200, {"id": result.message_id}, limits.headers())


def _batch_body(app: Any) -> dict[str, Any]:
    """What the batch's Idempotency-Key is bound to: its emails and its validation mode."""
    return {"emails": _emails(app), "mode": _mode(app)}


def _emails(app: Any) -> list[Any]:
    raw = app.current_event.decoded_body
    content_type = app.current_event.headers.get("content-type")
    if not is_json(content_type):
        raise errors.InvalidJson(not_json_message(content_type))
    if not raw:
        raise errors.InvalidJson("the request body is empty: send a JSON array of emails")
    try:
        value = json_value(raw)
    except BodyNotJson as error:
        raise errors.InvalidJson(error.msg) from None
    if not isinstance(value, list):
        raise errors.InvalidJson("the request body must be a JSON array of emails")
    if not 1 <= len(value) <= MAX_BATCH:
        raise ValidationFailed.on("(body)", f"a batch holds 1 to {MAX_BATCH} emails, not {len(value)}")
    return value


def _mode(app: Any) -> str:
    mode = (app.current_event.headers.get("x-batch-validation") or "strict").strip().lower()
    if mode not in ("strict", "permissive"):
        raise ValidationFailed.on("x-batch-validation", "must be strict or permissive")
    return mode


def batch_items(
    emails: list[Any], mode: str, credential: Credential
) -> list[SendEmailRequest | PosthornError]:
    """Each email as a message or the refusal `permissive` lists at its index. An email off the documented
    shape refuses the batch in either mode (the first, as `emails[i]: ...`): `permissive` forgives an
    email Posthorn will not send, not a request the document says is wrong."""
    items: list[SendEmailRequest | PosthornError] = []
    for index, email in enumerate(emails):
        try:
            items.append(sendable(_message_of(email), credential))
        except Malformed as malformed:
            if mode == "permissive":
                malformed.refusal.message = f"emails[{index}]: {malformed.refusal.message}"
                raise malformed.refusal from None
            items.append(malformed.refusal)
        except PosthornError as error:
            items.append(error)
    return items


def _send_batch(credential: Credential) -> Response:
    emails, mode = _emails(router), _mode(router)
    items = batch_items(emails, mode, credential)
    if mode == "strict":
        _all_sendable(items, credential)
    try:
        result, limits = accept_many(router, items, credential, all_or_nothing=mode == "strict")
    except BatchRefused as whole:  # strict: an email refused as it was stored (all suppressed, too large)
        whole.error.message = f"emails[{whole.index}]: {whole.error.message}"
        raise whole.error from None
    answer: dict[str, Any] = {
        "data": [{"id": item.message_id} for item in result.results if item.status == "queued"]
    }
    refused = [
        {"index": item.index, "message": item.error.message if item.error else "rejected"}
        for item in result.results
        if item.status == "rejected"
    ]
    if refused or mode == "permissive":
        answer["errors"] = refused
    return vendor_json(200, answer, limits.headers())


def _all_sendable(items: list[SendEmailRequest | PosthornError], credential: Credential) -> None:
    """Strict mode: the first email that is invalid, or whose sender this key may not use, refuses all."""
    domains = provided(router, wiring.send_context).domains
    allowed: set[str] = set()
    for index, item in enumerate(items):
        refusal = item if isinstance(item, PosthornError) else None
        if isinstance(item, SendEmailRequest):
            try:
                sender = from_address(with_sender_defaults(item, credential))
                if domain_of(sender) not in allowed:
                    allowed.add(check_sender(credential, sender, domains))
            except PosthornError as error:
                refusal = error
        if refusal is not None:
            refusal.message = f"emails[{index}]: {refusal.message}"
            raise refusal


# --- what the document says ---------------------------------------------------------------------------
EXAMPLE_EMAIL: dict[str, Any] = {
    "from": "Example App <hello@example.com>",
    "to": ["success@simulator.amazonses.com"],
    "subject": "Your receipt",
    "html": "<p>Thanks for your order.</p>",
    "text": "Thanks for your order.",
    "tags": [{"name": "category", "value": "receipt"}],
}
EXAMPLE_ID = "msg_01M8RNF16RVT63JAZRT5PK8PM5"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _parameters(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    idempotency = {
        "name": IDEMPOTENCY_KEY,
        "in": "header",
        "required": False,
        "description": "Send the same key again to get the first answer instead of a second email",
        "schema": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": r"^[^\x00-\x1f\x7f]+$"},
    }
    return [idempotency, *extra]


def _described(
    success: tuple[str, type[BaseModel], dict[str, Any]], refusals: list[PosthornError]
) -> dict[int, Any]:
    """The route's answers: its success, and each refusal in Resend's shape with a real example (as
    `render` writes it). 429 and 502 may also be API Gateway's own (the error object), so either."""
    described, model, example = success
    responses: dict[int, Any] = {
        200: {
            "description": described,
            "content": {"application/json": {"model": model, "examples": {"example": {"value": example}}}},
            "headers": _headers(RATE_LIMIT_FIELDS),
        }
    }
    for refusal in refusals:
        status, name = answer_of(refusal)
        response = responses.setdefault(
            status,
            {"description": "", "content": {"application/json": {"schema": _schema(status), "examples": {}}}},
        )
        examples = response["content"]["application/json"]["examples"]
        key = name if name not in examples else f"{name}_{len(examples) + 1}"
        examples[key] = {"summary": type(refusal).__name__, "value": error_json(refusal)}
        response["description"] = "; ".join(filter(None, [response["description"], f"`{name}`"]))
        if status == 401:
            response["headers"] = _headers({"WWW-Authenticate": "The scheme that authenticates: Bearer"})
        else:
            response["headers"] = _headers(RATE_LIMIT_FIELDS)
        if status == 429:
            response["headers"] |= _headers({"Retry-After": "Seconds until a retry can be accepted"})
    responses[500] = INTERNAL_ERROR
    return responses


def _schema(status: int) -> dict[str, Any]:
    resend = schema_ref(ResendError)
    return {"anyOf": [resend, {"$ref": ERROR_REF}]} if status in (429, 502) else resend


def _headers(described: Mapping[str, str]) -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": "string"}} for name, text in described.items()}


REFUSALS: list[PosthornError] = [
    errors.InvalidJson("the request body is not valid JSON: Expecting value (line 1, column 1)"),
    ValidationFailed.on(IDEMPOTENCY_KEY, "must be 1-256 printable characters"),
    MissingApiKey("the Resend API key is missing"),
    errors.Forbidden("this credential lacks the 'send' permission"),
    errors.Unauthorized("unknown credential or wrong secret"),
    errors.SenderNotAllowed("this credential may not send from example.org"),
    errors.DomainNotVerified("example.com is not verified yet: publish its DNS records"),
    errors.IdempotencyConflict("this Idempotency-Key was used with a different request body"),
    errors.IdempotencyInFlight("a request with this Idempotency-Key is still in flight; retry shortly"),
    ValidationFailed.on("scheduled_at", f"not supported by Posthorn: {REFUSED['scheduled_at']}"),
    MissingRequiredField.named("to"),
    InvalidAttachment.on("attachments[0].path", "Posthorn does not fetch URLs: send the file's bytes"),
    errors.AllRecipientsSuppressed("every recipient is on the suppression list for example.com"),
    errors.RateLimited("rate limit of 14 messages per second exceeded", retry_after_seconds=1),
    errors.UpstreamRejected("SES rejected the message: 554 Message rejected"),
    errors.UpstreamUnavailable("SES is unavailable; the message was not sent"),
]


@router.post(
    "/resend/emails",
    summary="Send one email (Resend's POST /emails)",
    description="\n\n".join(__doc__.split("\n\n")[1:3]) if __doc__ else None,
    tags=[TAG],
    operation_id="resend_send_email",
    security=BEARER,
    openapi_extensions={
        "parameters": _parameters(),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": schema_ref(ResendEmail),
                    "examples": {"example": {"value": EXAMPLE_EMAIL}},
                }
            },
        },
    },
    responses=_described(("Sent", ResendSent, {"id": EXAMPLE_ID}), REFUSALS),
)
def send_email() -> Response[str]:
    return surface.answer(router, _send, idempotency=True)


@router.post(
    "/resend/emails/batch",
    summary="Queue up to 100 emails (Resend's POST /emails/batch)",
    description=__doc__.split("\n\n")[3] if __doc__ else None,
    tags=[TAG],
    operation_id="resend_send_batch",
    security=BEARER,
    openapi_extensions={
        "parameters": _parameters(
            {
                "name": "x-batch-validation",
                "in": "header",
                "required": False,
                "description": "`strict` (all or nothing, the default) or `permissive`",
                "schema": {"type": "string", "enum": ["strict", "permissive"]},
            }
        ),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": schema_ref(ResendEmail),
                        "minItems": 1,
                        "maxItems": MAX_BATCH,
                    },
                    "examples": {"example": {"value": [EXAMPLE_EMAIL]}},
                }
            },
        },
    },
    responses=_described(
        ("Queued: an id per email", ResendBatchSent, {"data": [{"id": EXAMPLE_ID}]}),
        [refusal for refusal in REFUSALS if not isinstance(refusal, errors.UpstreamRejected)],
    ),
)
def send_batch() -> Response[str]:
    return surface.answer(router, _send_batch, idempotency=True, body=_batch_body)
