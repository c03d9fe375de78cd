"""How a route declares what it answers, so the OpenAPI document lists every status it can send with its
real body. A route passes `responses=answers(...)`:

    @router.post("/v1/suppressions", summary=..., tags=["suppressions"], responses=answers(
        Success(201, "Suppressed", Suppression, example=SUPPRESSION),
        errors=[InvalidJson, ValidationFailed, NotFound("no domain example.org for this credential")],
    ))

- `Success(status, description, model, example=..., headers=...)`: each success status as sent (201, 202,
  204 with no model); `example` is a real answer, as JSON (a dict, not a model: nothing is built at init).
- `errors`: the domain error classes (`posthorn.errors`) the route can raise, or instances of them where
  the route's own message is the better example. Each becomes its status from `HTTP_STATUS`, with the
  error object as its schema and one example per code. Every route also gets `internal_error` (500), and
  an authenticated one (the default; `public=True` for the routes of `auth.PUBLIC`) `unauthorized`,
  `credential_suspended` and `forbidden`.

`finish(document)` then makes the generated document what it claims: Powertools' own 422
(`{"detail": [...]}`, which this API never sends) and response-validation 500 are replaced or dropped,
the error object's schemas added, public routes marked without security, tags put in a reader's order.
A unit test checks every route declares its answers, every example matches its schema, and the e2e
suite checks every answer it receives against the committed document (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel

from posthorn import errors
from posthorn.errors import PosthornError
from send_api.auth import PUBLIC
from send_api.errors import http_status

ERROR_REF = "#/components/schemas/ErrorObject"

# Relative to where the document is served (`<base>/v1/docs`): the API's base URL locally (`make run`), on
# the stage URL (`.../prod`) and behind a custom domain, without knowing which.
SERVERS = [{"url": "..", "description": "The API that serves this document"}]

# Tags in the order a reader meets them: send first, then what follows a send, administration last.
TAGS: tuple[tuple[str, str], ...] = (
    ("sending", "Send one message, or queue a batch"),
    ("messages", "A message's recipients and its event timeline"),
    ("suppressions", "Addresses Posthorn will not send to, per domain"),
    ("files", "The file cache: upload once, attach by `file_key`"),
    ("webhooks", "Events pushed to your endpoints"),
    ("guard", "The deliverability guard: bounce and complaint rates, paused domains"),
    ("admin", "Domains and credentials (permission `admin`)"),
    ("health", "Liveness (no credential)"),
    (
        "compatible: DreamFactory",
        "DreamFactory's email service, answered as DreamFactory answers (base URL `<api>`, any service name)",
    ),
    ("compatible: Resend", "Resend's send routes, as its SDKs call them (base URL `<api>/resend`)"),
    (
        "compatible: ZeptoMail",
        "ZeptoMail's send API, answered as ZeptoMail answers (base URL `<api>/zeptomail/`)",
    ),
    (
        "compatible: MailPace",
        "MailPace's send API, answered as MailPace answers (base URL `<api>/mailpace/`)",
    ),
    (
        "compatible: Postmark",
        "Postmark's send API, answered as Postmark answers (base URL `<api>/postmark`)",
    ),
)

# What each code means (docs/api.md, "Errors"), the summary of its examples.
MEANING: dict[type[PosthornError], str] = {
    errors.InvalidJson: "the body is not JSON, not UTF-8, or not an object",
    errors.Unauthorized: "no credential, wrong secret, unknown or revoked credential",
    errors.CredentialSuspended: "the credential is suspended",
    errors.Forbidden: "the credential lacks the permission the route needs",
    errors.SenderNotAllowed: "the From domain is not one of the credential's domains",
    errors.DomainNotVerified: "the From domain belongs to the credential but is not verified yet",
    errors.DomainPaused: "the deliverability guard paused sending from this domain",
    errors.NotFound: "unknown id, or one that belongs to another credential's domains",
    errors.Conflict: "the resource is in a state that does not allow this change",
    errors.IdempotencyConflict: "same Idempotency-Key, different body, or the first request still in flight",
    errors.PayloadTooLarge: "the message or file is over its size limit",
    errors.ValidationFailed: "a field fails validation; `details` names each one",
    errors.MissingTemplateData: "a {placeholder} has no value in template_data",
    errors.AllRecipientsSuppressed: "every recipient is on the suppression list",
    errors.RateLimited: "the credential is over its rate; retry after `Retry-After` seconds",
    errors.UpstreamRejected: "SES refused the message permanently",
    errors.UpstreamUnavailable: "a service Posthorn depends on is unavailable; nothing was accepted, retry",
}

# The example of each class when a route does not give its own (messages as the code words them).
EXAMPLES: dict[type[PosthornError], PosthornError] = {
    errors.InvalidJson: errors.InvalidJson("the request body is not valid JSON"),
    errors.Unauthorized: errors.Unauthorized("unknown credential or wrong secret"),
    errors.CredentialSuspended: errors.CredentialSuspended("this credential is suspended"),
    errors.Forbidden: errors.Forbidden("this credential lacks the 'send' permission"),
    errors.SenderNotAllowed: errors.SenderNotAllowed("this credential may not send from example.org"),
    errors.DomainNotVerified: errors.DomainNotVerified(
        "example.com is not verified yet: publish its DNS records (GET /v1/domains/example.com)"
    ),
    errors.DomainPaused: errors.DomainPaused(
        "sending from example.com is paused by the deliverability guard (bounce rate 4.12% over the last"
        " 10000 recipients reached 4.00% (412 hard bounces)); an admin resumes it with"
        " POST /v1/domains/example.com/resume"
    ),
    errors.NotFound: errors.NotFound(
        "no message 0100018c5f3b2a1e-4c7d9e2f-1a2b-4c3d-9e8f-7a6b5c4d3e2f-000000"
    ),
    errors.Conflict: errors.Conflict("the resource is in use"),
    errors.IdempotencyConflict: errors.IdempotencyConflict(
        "this Idempotency-Key was used with a different request body"
    ),
    errors.PayloadTooLarge: errors.PayloadTooLarge(
        "the message would be about 41943552 bytes once encoded; SES accepts at most 41943040"
    ),
    errors.ValidationFailed: errors.ValidationFailed(
        "the request is invalid: to[0].email: 'not-an-address' is not an email address",
        details=[{"field": "to[0].email", "message": "'not-an-address' is not an email address"}],
    ),
    errors.MissingTemplateData: errors.MissingTemplateData(
        "template_data has no value for: first_name",
        details=[{"field": "template_data.first_name", "message": "no value for {first_name}"}],
    ),
    errors.AllRecipientsSuppressed: errors.AllRecipientsSuppressed(
        "every recipient is on the suppression list for example.com"
    ),
    errors.RateLimited: errors.RateLimited(
        "rate limit of 14 messages per second exceeded", retry_after_seconds=1
    ),
    errors.UpstreamRejected: errors.UpstreamRejected("SES rejected the message: 554 Message rejected"),
    errors.UpstreamUnavailable: errors.UpstreamUnavailable("SES is unavailable; the message was not sent"),
}

AUTHENTICATION: tuple[type[PosthornError], ...] = (
    errors.Unauthorized,
    errors.CredentialSuspended,
    errors.Forbidden,
)

# What every answer to an authenticated request carries (README, "Rate limits"; `send_api.app`).
RATE_LIMIT_FIELDS: dict[str, str] = {
    "RateLimit-Limit": "Messages per second this credential may send (the size of its bucket)",
    "RateLimit-Remaining": "Messages it may send now",
    "RateLimit-Reset": "Seconds until its bucket is full again",
}

_RESPONSE_HEADERS: dict[type[PosthornError], dict[str, str]] = {
    errors.RateLimited: {"Retry-After": "Seconds until a retry can be accepted"},
    errors.Unauthorized: {"WWW-Authenticate": "The schemes that authenticate: Bearer and Basic"},
}


INTERNAL_ERROR: dict[str, Any] = {
    "description": "`internal_error`: something went wrong on Posthorn's side; it has been logged",
    "content": {
        "application/json": {
            "schema": {"$ref": ERROR_REF},
            "examples": {
                "internal_error": {
                    "value": {
                        "error": {
                            "code": "internal_error",
                            "message": "something went wrong on our side; it has been logged",
                        }
                    }
                }
            },
        }
    },
}


class Success(NamedTuple):
    """A success answer: its status as sent, and its body's model (None: no body, as a 204)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    example: Mapping[str, Any] | None = None
    # Header name → what it says.
    headers: Mapping[str, str] = {}


def _example_of(error: type[PosthornError] | PosthornError) -> PosthornError:
    return error if isinstance(error, PosthornError) else EXAMPLES[error]


def _meaning(error: PosthornError) -> str:
    return next((MEANING[kind] for kind in type(error).__mro__ if kind in MEANING), error.code)


def error_example(error: PosthornError) -> dict[str, Any]:
    """The body `send_api.errors.error_response` sends for `error`, as JSON."""
    from send_api.errors import error_body

    body: dict[str, Any] = json.loads(error_body(error.code, error.message, error.details))
    return body


def _headers(described: Mapping[str, str]) -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": "string"}} for name, text in described.items()}


def answers(
    *successes: Success,
    errors: Iterable[type[PosthornError] | PosthornError] = (),
    public: bool = False,
) -> dict[int, Any]:
    """A route's `responses=`: its successes and every error it can answer with (see the module)."""
    declared: dict[int, Any] = {}
    for success in successes:
        response: dict[str, Any] = {"description": success.description, "content": {}}
        if success.model is not None:
            media: dict[str, Any] = {"model": success.model}
            if success.example is not None:
                media["examples"] = {"example": {"value": dict(success.example)}}
            response["content"] = {"application/json": media}
        described = {**(RATE_LIMIT_FIELDS if not public else {}), **success.headers}
        if described:
            response["headers"] = _headers(described)
        declared[success.status] = response

    examples = [_example_of(error) for error in errors]
    if not public:
        examples = [EXAMPLES[kind] for kind in AUTHENTICATION] + examples
    by_status: dict[int, list[PosthornError]] = {}
    for example in examples:
        by_status.setdefault(http_status(example), []).append(example)
    for status, listed in sorted(by_status.items()):
        declared[status] = _error_response(listed)
        if not public and status != 401:  # an answer to an authenticated request (send_api.app)
            declared[status]["headers"] = {
                **_headers(RATE_LIMIT_FIELDS),
                **declared[status].get("headers", {}),
            }
    declared[500] = INTERNAL_ERROR
    return declared


def _error_response(listed: list[PosthornError]) -> dict[str, Any]:
    named: dict[str, dict[str, Any]] = {}
    codes: dict[str, str] = {}
    headers: dict[str, str] = {}
    for error in listed:
        name = error.code
        suffix = 2
        while name in named:
            name = f"{error.code}_{suffix}"
            suffix += 1
        named[name] = {"summary": _meaning(error), "value": error_example(error)}
        codes.setdefault(error.code, _meaning(error))
        for kind in type(error).__mro__:
            headers.update(_RESPONSE_HEADERS.get(kind, {}))
    response: dict[str, Any] = {
        "description": "; ".join(f"`{code}`: {meaning}" for code, meaning in codes.items()),
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}, "examples": named}},
    }
    if headers:
        response["headers"] = _headers(headers)
    return response


# --- the document as a whole ----------------------------------------------------------------------------
# What API Gateway itself answers before or instead of the function (template.yaml's GatewayResponses), in
# the same error shape: (status, code, message, when, only for operations with a request body).
GATEWAY_ANSWERS: tuple[tuple[int, str, str, str, bool], ...] = (
    (413, "payload_too_large", "Request body over 10 MB; use POST /v1/files/uploads",
     "API Gateway: the request body is over 10 MB", True),
    (429, "rate_limited", "Too many requests", "API Gateway: the stage's throttling (Retry-After: 1)", False),
    (502, "internal_error", "Internal error", "API Gateway: the function failed or could not be run", False),
    (504, "internal_error", "Internal error", "API Gateway: no answer within its 29 seconds", False),
)  # fmt: skip


def _add_gateway_answers(operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    for status, code, message, when, needs_body in GATEWAY_ANSWERS:
        if needs_body and "requestBody" not in operation:
            continue
        response = responses.setdefault(
            str(status),
            {
                "description": "",
                "content": {"application/json": {"schema": {"$ref": ERROR_REF}, "examples": {}}},
            },
        )
        media = response["content"]["application/json"]
        schema = media.get("schema")
        if (
            schema is not None
            and schema != {"$ref": ERROR_REF}
            and {"$ref": ERROR_REF} not in schema.get("anyOf", [])
        ):
            # A compatible surface answers this status in its vendor's shape; API Gateway in Posthorn's.
            media["schema"] = {"anyOf": [schema, {"$ref": ERROR_REF}]}
        examples = media["examples"]
        examples[f"{code}_gateway"] = {
            "summary": when,
            "value": {"error": {"code": code, "message": message}},
        }
        response["description"] = "; ".join(filter(None, [response["description"], f"`{code}`: {when}"]))
        if status == 429:
            response.setdefault("headers", _headers({"Retry-After": "Seconds until a retry can be accepted"}))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter is absent or a string; Powertools writes `str | None` as `anyOf [..., null]`,
    which tells a client (and Schemathesis) that the text `null` is a value."""
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) != 1:
        return schema
    collapsed = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**options[0], **collapsed}


_POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Make the generated document true to what the API sends (see the module docstring)."""
    from posthorn.models.errors import ErrorObject

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorObject.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorObject"] = error_schema
    for name, model in _READ_BY_HAND.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema

    powertools_refs = {f"#/components/schemas/{name}" for name in _POWERTOOLS_SCHEMAS}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if (method.upper(), path) in PUBLIC:
                operation["security"] = []
            _add_gateway_answers(operation)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter["schema"])
            responses = operation["responses"]
            for status, response in list(responses.items()):
                refs = {media.get("schema", {}).get("$ref") for media in response.get("content", {}).values()}
                if status == "500":
                    # Powertools puts its response-validation error over the route's own 500; the API
                    # answers every unexpected failure, that one included, with the error object.
                    responses[status] = INTERNAL_ERROR
                elif refs & powertools_refs:
                    del responses[status]  # Powertools' 422: a route that declared its answers never sends it
                elif response.get("content") == {}:
                    del response["content"]  # no body (204)
    for name in _POWERTOOLS_SCHEMAS:
        schemas.pop(name, None)
    document["servers"] = SERVERS

    order = [name for name, _ in TAGS]
    used = {
        tag for ops in document.get("paths", {}).values() for op in ops.values() for tag in op.get("tags", [])
    }
    document["tags"] = [{"name": name, "description": text} for name, text in TAGS if name in used]
    document["tags"] += [{"name": name} for name in sorted(used - set(order))]
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


# The security schemes of the compatible surfaces (each vendor's key header), by the name their routes'
# `security=[{name: []}]` gives.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {}


def security_scheme(name: str, scheme: dict[str, Any]) -> str:
    """Registers a vendor's key header as a security scheme of the document; returns its name."""
    SECURITY_SCHEMES[name] = scheme
    return name


# Models a route reads by hand (not through a `Body` parameter), whose schemas the document needs.
_READ_BY_HAND: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, Any]:
    """`{"$ref": ...}` to `model`'s schema, which the document then holds: for a body a route writes itself
    in another shape than the error object (a compatible surface's errors)."""
    _READ_BY_HAND[model.__name__] = model
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def request_body(
    description: str, json_model: type[BaseModel], example: Mapping[str, Any], *, raw: bool = False
) -> dict[str, Any]:
    """`openapi_extensions={"requestBody": request_body(...)}` for a route that reads its body itself: a
    JSON body of `json_model`, and with `raw=True` any file's bytes as the body too."""
    _READ_BY_HAND[json_model.__name__] = json_model
    content: dict[str, Any] = {
        "application/json": {
            "schema": {"$ref": f"#/components/schemas/{json_model.__name__}"},
            "examples": {"example": {"value": dict(example)}},
        }
    }
    if raw:
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    return {"description": description, "required": True, "content": content}


def request_example(value: Mapping[str, Any], summary: str) -> Any:
    """A request body's example, for `Body(embed=False, openapi_examples=...)` (what "Try it out" sends)."""
    return {"example": {"summary": summary, "value": dict(value)}}
