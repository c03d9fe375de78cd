"""`Idempotency-Key` around a route: replay the first answer, refuse a different body, release on 5xx."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from pydantic import BaseModel

from posthorn.errors import PosthornError
from posthorn.logic import idempotency
from posthorn.models.credentials import Credential
from send_api import dependencies
from send_api.errors import error_response

REPLAY_HEADER = "Idempotent-Replayed"


def json_response(status: int, body: BaseModel | dict[str, Any]) -> Response:
    """A JSON answer with a status other than the route's default; Powertools validates and serializes it."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _serialized(body: Any) -> str:
    if isinstance(body, BaseModel):
        return body.model_dump_json()
    return body if isinstance(body, str) else json.dumps(body)


def idempotent(app: BaseRouter, credential: Credential, handle: Callable[[], Response]) -> Response:
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return handle()
    store = dependencies.store()
    scope = idempotency.scope_key(credential.username, key)
    now = int(time.time())
    ttl = dependencies.settings().idempotency_ttl_seconds
    replay = idempotency.begin(
        store, scope, idempotency.fingerprint(app.current_event.json_body), now=now, ttl_seconds=ttl
    )
    if replay is not None:
        response = Response(
            status_code=replay.status,
            content_type=content_types.APPLICATION_JSON,
            body=json.loads(replay.body),
        )
        response.headers[REPLAY_HEADER] = "true"
        return response
    try:
        response = handle()
    except PosthornError as error:
        response = error_response(error)
    except BaseException:
        store.release(scope)
        raise
    body = _serialized(response.body)
    if idempotency.should_remember(response.status_code):
        store.complete(scope, idempotency.StoredResponse(response.status_code, body), expires_at=now + ttl)
    else:
        store.release(scope)
    return response
