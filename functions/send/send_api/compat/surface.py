"""What every compatible surface shares: the credential read from the vendor's own header (checked exactly as
`Authorization` is on `/v1`, with `send` required), the one send use case, and every failure answered in the
vendor's error shape, never Posthorn's.

A vendor module builds a `Surface` with two functions, `api_key(headers)` (the key from the vendor's header,
or None) and `render(error)` (a PosthornError as the vendor's Response), and writes each route as
`surface.answer(router, lambda credential: ...)`; inside it, `send_one` / `accept_many` do the sending.
Routes outside `/v1` are not authenticated by the resolver's middleware: their surface does it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from posthorn import wiring
from posthorn.errors import (
    InvalidJson,
    PosthornError,
    RateLimited,
    TransientError,
    Unauthorized,
    ValidationFailed,
)
from posthorn.logic.accounts.credentials import authenticate, require
from posthorn.logic.sending.batches import accept_batch
from posthorn.logic.sending.rate_limits import RateDecision
from posthorn.logic.sending.steps import send_email
from posthorn.models.batches import SendBatchResult
from posthorn.models.credentials import Credential, Permission
from posthorn.models.email import SendEmailRequest
from posthorn.models.errors import ApiError
from posthorn.models.messages import SendResult
from send_api import request_log
from send_api.errors import HTTP_STATUS, from_transient
from send_api.idempotency import Replay, idempotent
from send_api.observability import logger, metrics
from send_api.provided import provided
from send_api.request_body import BodyNotJson, is_json, json_object, not_json_message


class MissingApiKey(Unauthorized):
    """No key in the vendor's header at all: several vendors answer it apart from a wrong key (Resend's
    401 `missing_api_key` against its 403 `invalid_api_key`, MailPace's "Missing API Token"); every other
    table reads it as Unauthorized."""


@dataclass(frozen=True)
class Surface:
    """One vendor's face: `name` (logs), where its key is, and how it says an error."""

    name: str
    api_key: Callable[[Mapping[str, str]], str | None]
    render: Callable[[PosthornError], Response]

    def answer(
        self,
        app: BaseRouter,
        handle: Callable[[Credential], Response],
        *,
        idempotency: bool = False,
        body: Callable[[BaseRouter], Any] | None = None,
    ) -> Response:
        """`handle(credential)` for an authenticated caller with `send`, every error in the vendor's shape.
        With `idempotency`, the request's `Idempotency-Key` replays the first (vendor-shaped) answer; the
        key is bound to the body `body(app)` reads (default `json_body`: one JSON object), so a body that
        is not JSON is the vendor's error, not a 500."""
        try:
            credential = self.authenticate(app)

            def rendered() -> Response:
                try:
                    return handle(credential)
                except TransientError as error:
                    logger.warning("dependency unavailable", extra={"kind": type(error).__name__})
                    return self.failed(from_transient(error))
                except PosthornError as error:
                    return self.failed(error)

            if not idempotency:
                return rendered()
            keys = provided(app, wiring.idempotency_keys)
            return idempotent(app, credential, keys, rendered, body=lambda: (body or json_body)(app))
        except Replay as replay:
            request_log.note(replayed=True)
            return replay.response()
        except PosthornError as error:
            return self.failed(error)

    def failed(self, error: PosthornError) -> Response:
        request_log.note(code=error.code)
        response = self.render(error)
        response.headers.update(error.headers)  # Retry-After on a 429
        return response

    def authenticate(self, app: BaseRouter) -> Credential:
        headers = app.current_event.headers
        key = self.api_key(headers)
        if not key:
            raise MissingApiKey(f"the {self.name} API key is missing")
        credential = authenticate(
            f"Bearer {key}",
            provided(app, wiring.credentials),
            provided(app, wiring.pepper),
            now=provided(app, wiring.clock).now(),
        )
        app.append_context(credential=credential)
        request_log.note(username=credential.username, surface=self.name)
        require(credential, Permission.SEND)
        return credential


def json_body(app: BaseRouter) -> dict[str, Any]:
    """The request's body as one JSON object (the rule `/v1` uses), or InvalidJson."""
    raw = app.current_event.decoded_body
    content_type = app.current_event.headers.get("content-type")
    if not is_json(content_type):
        raise InvalidJson(not_json_message(content_type))
    if not raw:
        raise InvalidJson("the request body is empty: send a JSON object")
    try:
        return json_object(raw)
    except BodyNotJson as error:
        raise InvalidJson(error.msg) from None


def send_one(
    app: BaseRouter, message: SendEmailRequest, credential: Credential
) -> tuple[SendResult, RateDecision]:
    """`POST /v1/email`'s use case: the rate limit takes one, then the message is sent (or queued)."""
    limits = provided(app, wiring.credential_rates).take(credential, 1)
    result = send_email(message, credential, provided(app, wiring.send_context))
    request_log.note(message_id=result.message_id)
    metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
    return result, limits


def accept_many(
    app: BaseRouter,
    messages: Sequence[SendEmailRequest | PosthornError],
    credential: Credential,
    *,
    all_or_nothing: bool = False,
) -> tuple[SendBatchResult, RateDecision]:
    """`POST /v1/email/batch`'s use case: the rate limit takes every message, each checked item is stored and
    queued, each bad one keeps its error (per index, as the vendor's batch answers); `all_or_nothing`
    (`accept_batch`'s) refuses the whole batch instead for an item refused before storage."""
    limits = provided(app, wiring.credential_rates).take(credential, len(messages))
    result = accept_batch(
        list(messages), credential, provided(app, wiring.send_context), all_or_nothing=all_or_nothing
    )
    metrics.add_metric(name="MessagesQueued", unit=MetricUnit.Count, value=result.count)
    request_log.note(count=result.count)
    return result, limits


def has_sender(message: SendEmailRequest, credential: Credential) -> bool:
    """Whether `message` has a From, its own or the credential's default (API.md, "Administration": a
    compatible request may leave it out). A surface refuses a message without either in its vendor's words,
    naming its own field (`from`, `From`), before Posthorn's `from_email` refusal could."""
    defaults = credential.sender_defaults
    return message.from_email is not None or (defaults is not None and defaults.from_email is not None)


def vendor_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers or {},
    )


# Every domain error class by its code: a batch item's rejection (`BatchItemResult.error`) is an ApiError,
# and the vendor's table is keyed by class.
ERROR_CLASSES: dict[str, type[PosthornError]] = {kind.code: kind for kind in HTTP_STATUS}


def rebuilt(error: ApiError) -> PosthornError:
    """A batch item's rejection as its domain error again, to render in the vendor's shape."""
    kind = ERROR_CLASSES.get(error.code, PosthornError)
    details = [detail.model_dump(exclude_none=True) for detail in error.details or []]
    if kind is RateLimited:
        return RateLimited(error.message, retry_after_seconds=1)
    return kind(error.message, details=details)


def invalid(error: ValidationError, name: Callable[[tuple[str | int, ...]], str]) -> ValidationFailed:
    """A vendor model's (or the message model's) validation errors as one ValidationFailed whose details
    name each field as the vendor does (`name(loc)`)."""
    details = []
    for problem in error.errors():
        location = tuple(problem.get("loc", ()))
        named = (problem.get("ctx") or {}).get("field")
        field = name(location) if location else str(named or "")
        message = str(problem.get("msg", "is invalid")).removeprefix("Value error, ")
        if problem.get("type") == "extra_forbidden":
            message = "is not a field Posthorn knows; it is refused rather than dropped"
        details.append({"field": field, "message": message} if field else {"message": message})
    summary = "; ".join(
        f"{d['field']}: {d['message']}" if "field" in d else d["message"] for d in details[:3]
    )
    return ValidationFailed(f"the request is invalid: {summary}", details=details)


def path_of(location: tuple[str | int, ...]) -> str:
    """pydantic's `("to", 3, "email_address", "address")` → `to[3].email_address.address`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith("function-"):
            path += f".{part}" if path else str(part)
    return path
