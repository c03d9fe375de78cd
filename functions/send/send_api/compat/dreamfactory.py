"""DreamFactory's email service (`POST /api/v2/{service}`), answered as DreamFactory answers: an app written
against a DreamFactory instance's `email` service moves by changing its host and its `X-DreamFactory-API-Key`.

DreamFactory's body is Posthorn's own field for field (`to`/`cc`/`bcc` as `{"name", "email"}` objects or
plain addresses, `subject`, `body_text`, `body_html`, `from_name`, `from_email`, `reply_to_name`,
`reply_to_email`), and it usually carries no From at all: DreamFactory takes the sender from the service's
configuration, which is the credential's `sender_defaults` here (applied by the send use case). Any other
field is a lookup that fills `{name}` in the subject and bodies, as DreamFactory's templates do: here it
becomes `template_data` (values HTML-escaped in body_html); one that fills nothing (a typo, another vendor's
field) is refused naming it, where DreamFactory would ignore it. Stored templates (`template`,
`template_id`) and attachments fetched from DreamFactory's storage services or a URL (`attachment`,
`import_url`) have nothing to stand on in Posthorn: they are refused naming the field, never dropped.

The answer is DreamFactory's `{"count": <recipients sent to>}` (200, also when SES was briefly unavailable
and the message was queued: DreamFactory has no other success), errors DreamFactory's
`{"error": {"code", "message", "status_code", "context"}}` with its status codes (its validation errors are
400s); `context` names Posthorn's error code and the field at fault.

The key is accepted only in the header. DreamFactory also reads `?api_key=` from the URL, but a URL is
written into access logs, browser histories and proxies: a request with one is refused 401 saying so."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from posthorn import errors
from posthorn.errors import PosthornError, Unauthorized, ValidationFailed
from posthorn.logic.sending.templating import placeholders
from posthorn.models.credentials import Credential
from posthorn.models.email import SendEmailRequest
from send_api.compat.surface import Surface, json_body, send_one, vendor_json
from send_api.contract import RATE_LIMIT_FIELDS, request_body, security_scheme
from send_api.errors import HTTP_STATUS, validation_failure

router = APIGatewayRouter()
KEY_HEADER = "X-DreamFactory-API-Key"
TAG = "compatible: DreamFactory"
# The OpenAPI security scheme of this surface's routes (send_api.docs puts every registered one in it).
SECURITY_SCHEME = security_scheme("dreamfactory", {"type": "apiKey", "in": "header", "name": KEY_HEADER})

# DreamFactory's fields that Posthorn cannot honour, and why (the error's text).
REFUSED = {
    "template": "stored DreamFactory templates are not supported: send subject and body_text/body_html",
    "template_id": "stored DreamFactory templates are not supported: send subject and body_text/body_html",
    "attachment": "attachments from DreamFactory storage services or URLs are not supported: use Posthorn's "
    "POST /v1/email with attachments or file_key",
    "import_url": "attachments from URLs are not supported: use Posthorn's POST /v1/email with attachments",
}
NOT_A_FIELD = "is not a field of DreamFactory's email service, nor a {name} the subject or bodies use"
ADDRESS_FIELDS = ("to", "cc", "bcc")
OWN_FIELDS = frozenset(
    {*ADDRESS_FIELDS, "subject", "body_text", "body_html", "from_name", "from_email", "reply_to_name",
     "reply_to_email"}
)  # fmt: skip

# DreamFactory's status for each of Posthorn's errors: its BadRequestException (400) is every refusal of
# the request's content; the rest keep the API's status (`send_api.errors.HTTP_STATUS`). `Conflict` is left
# out: only the administration routes raise it.
CONTENT_REFUSALS = (errors.ValidationFailed, errors.MissingTemplateData, errors.AllRecipientsSuppressed)
STATUS: dict[type[PosthornError], int] = {
    kind: 400 if kind in CONTENT_REFUSALS else status
    for kind, status in HTTP_STATUS.items()
    if kind is not errors.Conflict
}


# --- DreamFactory's request, as its API docs describe it (EmailRequest) -------------------------------------
# Recipients are checked by Posthorn's own model once they are a list (errors then name `to[0].email`, not a
# branch of a union); the document says what DreamFactory takes.
_ADDRESS = {
    "type": "object",
    "properties": {"email": {"type": "string"}, "name": {"type": ["string", "null"]}},
    "required": ["email"],
    "additionalProperties": False,
}
_RECIPIENTS = [
    {"type": "array", "items": {"anyOf": [_ADDRESS, {"type": "string"}]}},
    _ADDRESS,
    {"type": "string"},
]
Recipients = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [{**_RECIPIENTS[0], "minItems": 1}, *_RECIPIENTS[1:]],
            "description": "One or more recipients: {name, email} objects or addresses",
        }
    ),
]
MoreRecipients = Annotated[Any, WithJsonSchema({"anyOf": [*_RECIPIENTS, {"type": "null"}]})]
LOOKUP_TYPES = (str, int, float, bool)


def _lookups_schema(schema: dict[str, Any]) -> None:
    """Other fields are lookups (text, numbers, true/false), and the refused fields are not among them."""
    schema["propertyNames"] = {"not": {"enum": sorted(REFUSED)}}
    schema["additionalProperties"] = {"type": ["string", "number", "boolean"]}


class DreamFactoryEmail(BaseModel):
    """DreamFactory's email service request. Any other field is a lookup filling `{name}` in the subject and
    bodies; `template`, `template_id`, `attachment` and `import_url` are refused."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra=_lookups_schema,
    )

    to: Recipients
    cc: MoreRecipients = None
    bcc: MoreRecipients = None
    subject: str = Field(min_length=1)
    body_text: str | None = None
    body_html: str | None = None
    from_name: str | None = Field(default=None, description="Default: the credential's sender_defaults")
    from_email: str | None = Field(default=None, description="Default: the credential's sender_defaults")
    reply_to_name: str | None = None
    reply_to_email: str | None = None


class DreamFactoryErrorBody(BaseModel):
    code: int = Field(description="The HTTP status, as DreamFactory writes it")
    message: str
    status_code: int
    context: dict[str, Any] | None = Field(
        description="`code`: Posthorn's error code; `field` and `error`: the first field at fault"
    )


class DreamFactoryError(BaseModel):
    error: DreamFactoryErrorBody


class DreamFactoryCount(BaseModel):
    count: int = Field(description="How many recipients the message was sent to")


# --- the mapping -------------------------------------------------------------------------------------------
def _recipients(value: Any) -> Any:
    """DreamFactory takes a list, one `{name, email}` object or one address; Posthorn a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def to_message(body: dict[str, Any]) -> SendEmailRequest:
    """DreamFactory's request as Posthorn's message; ValidationFailed naming the field at fault."""
    for field in REFUSED:
        if field in body:
            raise ValidationFailed.on(field, REFUSED[field])
    try:
        request = DreamFactoryEmail.model_validate(body)
    except ValidationError as error:
        raise _failure(error) from None
    lookups = request.model_extra or {}
    for name, value in lookups.items():
        if not isinstance(value, LOOKUP_TYPES):
            raise ValidationFailed.on(
                name, "a lookup filling {" + name + "} must be text, a number or true/false"
            )
    used = {
        name
        for text in (request.subject, request.body_text, request.body_html)
        for name in placeholders(text or "")
    }
    for name in lookups:
        if name not in used:
            raise ValidationFailed.on(name, NOT_A_FIELD)
    message: dict[str, Any] = {
        field: value
        for field, value in request.model_dump(include=set(OWN_FIELDS - set(ADDRESS_FIELDS))).items()
        if value is not None
    }
    for field in ADDRESS_FIELDS:
        recipients = _recipients(body.get(field))
        if recipients or field == "to":
            message[field] = recipients
    if lookups:
        message["template_data"] = dict(lookups)
    try:
        return SendEmailRequest.model_validate(message)
    except ValidationError as error:
        raise _failure(error) from None


def _failure(error: ValidationError) -> PosthornError:
    located = [{**detail, "loc": ("body", *detail["loc"])} for detail in error.errors()]
    return validation_failure(located, "application/json")


def error_response(error: PosthornError) -> Response:
    """DreamFactory's error shape (df-core's RestException: `code`, `message`, `status_code`, `context`)."""
    status = next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 500)
    context: dict[str, Any] = {"code": error.code}
    if error.details:
        first = error.details[0]
        context.update({"field": first.get("field", ""), "error": first.get("message", "")})
    body = {"error": {"code": status, "message": error.message, "status_code": status, "context": context}}
    return vendor_json(status, body)


def api_key(headers: Any) -> str | None:
    return headers.get(KEY_HEADER) or headers.get(KEY_HEADER.lower())


SURFACE = Surface("DreamFactory", api_key, error_response)


# --- the route ---------------------------------------------------------------------------------------------
def _examples() -> dict[int, Any]:
    """The document's error examples, each as this surface sends it."""
    samples = {
        400: ValidationFailed.on("template", REFUSED["template"]),
        401: Unauthorized(f"the DreamFactory API key is missing: send it in {KEY_HEADER}"),
        403: errors.SenderNotAllowed("this credential may not send from example.org"),
        409: errors.IdempotencyConflict("this Idempotency-Key was used with a different request body"),
        413: errors.PayloadTooLarge("the encoded message is 41943552 bytes; SES accepts at most 41943040"),
        429: errors.RateLimited("rate limit of 14 messages per second exceeded", retry_after_seconds=1),
        502: errors.UpstreamRejected("SES rejected the message: 554 Message rejected"),
        503: errors.UpstreamUnavailable("SES is unavailable; the message was not sent"),
    }
    return {status: json.loads(str(error_response(sample).body)) for status, sample in samples.items()}


def _responses() -> dict[int, Any]:
    rate_fields = {
        name: {"description": text, "schema": {"type": "string"}} for name, text in RATE_LIMIT_FIELDS.items()
    }
    declared: dict[int, Any] = {
        200: {
            "description": "Sent (or queued, when SES was briefly unavailable): the recipients it goes to",
            "content": {
                "application/json": {
                    "model": DreamFactoryCount,
                    "examples": {"example": {"value": {"count": 1}}},
                }
            },
            "headers": rate_fields,
        }
    }
    for status, example in _examples().items():
        response: dict[str, Any] = {
            "description": "DreamFactory's error, for Posthorn's "
            + ", ".join(f"`{kind.code}`" for kind, sent in STATUS.items() if sent == status),
            "content": {
                "application/json": {"model": DreamFactoryError, "examples": {"example": {"value": example}}}
            },
        }
        if status != 401:
            response["headers"] = dict(rate_fields)
        if status == 429:
            response["headers"]["Retry-After"] = {
                "description": "Seconds until a retry can be accepted",
                "schema": {"type": "string"},
            }
        declared[status] = response
    return declared


SEED_EXAMPLE = {
    "to": [{"email": "user@example.net", "name": "John Doe"}],
    "subject": "Your Order Confirmation",
    "body_html": "<h1>Thank you for your order!</h1>",
    "body_text": "Thank you for your order!",
}


@router.post(
    "/api/v2/<service>",
    summary="DreamFactory: send an email through an email service",
    description=(
        "DreamFactory's email service request, answered as DreamFactory answers. The key goes in "
        f"`{KEY_HEADER}` (not in `?api_key=`, refused: a URL ends up in logs). Any service name is the "
        "credential's. Without `from_email`, the credential's `sender_defaults` supply the sender. Other "
        "fields fill `{name}` placeholders; `template`, `template_id`, `attachment` and `import_url` "
        "are refused."
    ),
    tags=[TAG],
    operation_id="dreamfactory_send_email",
    openapi_extensions={
        "requestBody": request_body("DreamFactory's EmailRequest", DreamFactoryEmail, SEED_EXAMPLE),
        "security": [{SECURITY_SCHEME: []}],
    },
    responses=_responses(),
)
def send(service: str) -> Response[Any]:
    def handle(credential: Credential) -> Response:
        message = to_message(json_body(router))
        result, limits = send_one(router, message, credential)
        return vendor_json(200, {"count": result.count}, limits.headers())

    query = router.current_event.query_string_parameters or {}
    if "api_key" in query or "session_token" in query:
        return SURFACE.failed(
            Unauthorized(
                "a key in the URL is not accepted: URLs are written into access logs; send it in "
                f"{KEY_HEADER} (and rotate the key that was in the URL)"
            )
        )
    return SURFACE.answer(router, handle, idempotency=True)
