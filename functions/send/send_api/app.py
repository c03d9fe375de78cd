"""The resolver: middleware, error mapping and the routers. Routes live in `send_api.routes`.

A send (POST /v1/email, /v1/email/batch) is what a cold start is for: the send routes (and health) are
registered at init, every other router by the first request that is not a send (`include_every_route`),
so a send's cold start does not import the models, use cases and declared answers of the ~25 routes it
never runs (measured in `make bench`, figure 1); the first other request pays them once.
Nothing else changes: routes, middleware, errors and the OpenAPI document are the same once they are in.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, PosthornError, TransientError
from posthorn.models.credentials import Credential
from send_api import request_log
from send_api.auth import authorize, is_v1, route_key
from send_api.compat import SURFACES, surface_of
from send_api.errors import error_body, error_response, from_transient, http_status, validation_failure
from send_api.idempotency import Replay
from send_api.observability import logger
from send_api.provided import provided
from send_api.request_body import BodyNotJson, is_json, json_object
from send_api.routes import email, health

# The routes a send runs, matched as API Gateway names them (`httpMethod`, `resource`: the route's template,
# unlike `path`, which carries a custom domain's base path).
SEND_ROUTES = frozenset({("POST", "/v1/email"), ("POST", "/v1/email/batch")})
# The routers registered by the first other request, in this order (`send_api.routes.<name>.router`).
ROUTERS_ON_FIRST_USE = ("messages", "stats", "suppressions", "files", "admin", "webhooks")


class PosthornResolver(APIGatewayRestResolver):
    """Registers the routers of ROUTERS_ON_FIRST_USE before resolving any request that is not a send."""

    _every_route = False
    _including = threading.Lock()  # the local stack resolves requests on several threads

    def include_every_route(self) -> None:
        if self._every_route:
            return
        with self._including:
            if self._every_route:
                return
            for name in ROUTERS_ON_FIRST_USE:
                self.include_router(import_module(f"send_api.routes.{name}").router)
            self._every_route = True
        for module in SURFACES.values():
            self.include_surface(module)

    _surfaces: frozenset[str] = frozenset()

    def include_surface(self, module: str) -> None:
        """A compatible surface's router (`send_api.compat.<module>`), registered once."""
        if module in self._surfaces:
            return
        with self._including:
            if module not in self._surfaces:
                self.include_router(import_module(f"send_api.compat.{module}").router)
                self._surfaces = self._surfaces | {module}

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        surface = surface_of(event.get("resource"))
        if surface is not None:
            self.include_surface(surface)
        elif (event.get("httpMethod"), event.get("resource")) not in SEND_ROUTES:
            self.include_every_route()
        with request_log.request_line(event) as outcome:
            answer = super().resolve(event, context)
            outcome["status"] = answer.get("statusCode")
        return answer


# A response that breaks its own schema is our bug: 500, never a client error. Bodies are read by
# `request_body.json_object`, the one rule for what a JSON body is.
app = PosthornResolver(
    enable_validation=True, response_validation_error_http_code=500, json_body_deserializer=json_object
)


# Powertools' (3.37.0) private members this module relies on, every one. Request validation runs before any
# middleware `app.use` adds, and no public option or hook says how it reads a body by its content type, so
# its middleware is replaced by a subclass. tests/unit/test_send_api_powertools_fence.py fails when the
# installed Powertools is not the pinned one, when the source of these (or of where Powertools builds and
# runs that middleware) changed, or when this module uses one not listed: re-check, then record it there.
POWERTOOLS_PRIVATE = {
    "_request_validation_middleware": "the resolver's request validation, which every route with validation "
    "runs first (`Route._build_middleware_stack`): replaced by `JsonBodiesOnly`",
    "_get_body": "OpenAPIRequestValidationMiddleware's reading of a route's body model by its content type, "
    "called only for a route with one: overridden to read JSON only",
}


class JsonBodiesOnly(OpenAPIRequestValidationMiddleware):
    """Powertools reads an urlencoded or multipart body as the route's model (a multipart form registered a
    domain) and raises ValueError, a 500, for a multipart type without a boundary (found by Schemathesis).
    The API's bodies are JSON: a body of any other media type is Powertools' own unsupported content type,
    which `handle_invalid_request` answers 400 `invalid_json` after authenticating. (A middleware of ours
    would run after Powertools had read the body: see POWERTOOLS_PRIVATE.)"""

    def _get_body(self, app: Any) -> dict[str, Any]:
        content_type = (app.current_event.headers.get("content-type") or "").strip()
        if content_type and not content_type.lower().startswith("application/json"):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[{"type": "unsupported_content_type", "loc": ("body",), "msg": content_type}],
            )
        body: dict[str, Any] = super()._get_body(app)
        return body


app._request_validation_middleware = JsonBodiesOnly()

API_DESCRIPTION = (
    "Transactional email on your own AWS account. Authenticate with `Authorization: Bearer <api_key>` "
    'or Basic `<username>:<secret>`. Errors are `{"error": {"code", "message", "details"}}`.'
)


def authenticate_request(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    authorize(app)
    return with_rate_limit_fields(next_middleware(app))


def with_rate_limit_fields(response: Response) -> Response:
    """Every answer to an authenticated request carries `RateLimit-*` (README, "Rate limits"): the send
    routes' from the messages they counted, every other answer from where the bucket stands (one read)."""
    credential = app.context.get("credential")
    if isinstance(credential, Credential) and "RateLimit-Limit" not in response.headers:
        response.headers.update(provided(app, wiring.credential_rates).standing(credential).headers())
    return response


# Routes that read their body themselves (POST /v1/files takes raw bytes as well as JSON).
RAW_BODY_ROUTES = frozenset({("POST", "/v1/files")})


def require_json_object(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """A route without a body model gets its body checked too: a body it is sent must be one JSON object
    (the routes with a body model had theirs parsed by the same rule in Powertools' validation)."""
    event = app.current_event
    key = route_key(app)
    reads_json = is_json(event.headers.get("content-type"))
    if event.body and reads_json and is_v1(key) and key not in RAW_BODY_ROUTES:
        try:
            event.json_body  # noqa: B018 (parsed once, cached on the event)
        except BodyNotJson as error:
            raise InvalidJson(error.msg) from None
    return next_middleware(app)


app.use(middlewares=[authenticate_request, require_json_object])
app.include_router(health.router)
app.include_router(email.router)


@app.get("/v1/docs", include_in_schema=False)
def openapi_document() -> Response[str]:
    """The OpenAPI document (`?format=json`) or Swagger UI. Built here rather than with
    `app.enable_swagger()`, which imports Powertools' OpenAPI models (much of a cold start) when it is
    called; request validation does not need them, so only this route imports them, when it is asked."""
    from send_api.docs import docs_response

    return docs_response(app, title="Posthorn", version="1.0.0", description=API_DESCRIPTION)


@app.exception_handler(PosthornError)
def handle_domain_error(error: PosthornError) -> Response:
    if http_status(error) >= 500:
        logger.warning("request failed", extra={"code": error.code, "reason": error.message})
    return with_rate_limit_fields(error_response(error))


@app.exception_handler(TransientError)
def handle_transient_error(error: TransientError) -> Response:
    # The outside world failed for a moment (a cached file could not be read from S3 just now); nothing was
    # stored or sent for this request.
    logger.warning("dependency unavailable", extra={"kind": type(error).__name__, "reason": str(error)})
    return with_rate_limit_fields(error_response(from_transient(error)))


@app.exception_handler(Replay)
def handle_replay(replay: Replay) -> Response:
    request_log.note(replayed=True)
    return with_rate_limit_fields(replay.response())


@app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
def handle_invalid_request(error: RequestValidationError | RequestUnsupportedContentType) -> Response:
    # Powertools validates the body before any middleware runs: authenticate first, so a caller without a
    # valid credential learns nothing about the request's shape.
    try:
        authorize(app)
    except PosthornError as auth_error:
        return with_rate_limit_fields(error_response(auth_error))
    content_type = app.current_event.headers.get("content-type")
    return with_rate_limit_fields(error_response(validation_failure(list(error.errors()), content_type)))


@app.not_found
def handle_not_found(_: Any) -> Response:
    event = app.current_event
    return error_response(NotFound(f"no route {event.http_method} {event.path}"))


@app.exception_handler(Exception)
def handle_unexpected(_: Exception) -> Response:
    logger.exception("unexpected error")
    return Response(
        status_code=500,
        content_type="application/json",
        body=error_body("internal_error", "something went wrong on our side; it has been logged"),
    )
