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
from posthorn.logic.sending import idempotency
from posthorn.logic.sending.idempotency import IdempotencyKeys
from posthorn.models.credentials import Credential
from posthorn.models.idempotency import StoredResponse
from send_api.errors import error_body, http_status
from send_api.observability import logger

REPLAY_HEADER = "Idempotent-Replayed"
COMPLETE_ATTEMPTS = 2


class Replay(Exception):
    """The first answer to this key, to send again as it was. Raised, not returned, because Powertools
    validates a route's returned Response against the route's success model, and the first answer may
    have been an error."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__(stored.status)
        self.stored = stored

    def response(self) -> Response:
        return Response(
            status_code=self.stored.status,
            content_type=content_types.APPLICATION_JSON,
            body=self.stored.body,
            headers={REPLAY_HEADER: "true"},
        )


def _serialized(body: Any) -> str:
    if isinstance(body, BaseModel):
        return body.model_dump_json()
    return body if isinstance(body, str) else json.dumps(body)


def idempotent(
    app: BaseRouter,
    credential: Credential,
    keys: IdempotencyKeys,
    handle: Callable[[], Response],
    *,
    body: Callable[[], Any] | None = None,
) -> Response:
    """`handle()` under the request's `Idempotency-Key`, if it has one (`keys`: the route's, from wiring).
    The key is bound to the request's JSON object, or to what `body()` reads (a compatible surface's body,
    which may be an array)."""
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return handle()
    store = keys.store
    scope = idempotency.scope_key(credential.username, key)
    now = int(time.time())
    ttl = keys.ttl_seconds
    body_fingerprint = idempotency.fingerprint(body() if body is not None else app.current_event.json_body)
    replay = idempotency.begin(store, scope, body_fingerprint, now=now, ttl_seconds=ttl)
    if replay is not None:
        raise Replay(replay)

    def remember(status: int, body: str) -> None:
        if idempotency.should_remember(status):
            complete(StoredResponse(status, body))
        else:
            store.release(scope)

    def complete(answer: StoredResponse) -> None:
        """The answer stands whatever the store says: a 200 whose key could not be completed is still a
        200 (the message was sent), and the key's lease keeps a retry from sending it again meanwhile."""
        for attempt in range(COMPLETE_ATTEMPTS):
            try:
                store.complete(scope, answer, expires_at=now + ttl)
                return
            except Exception:
                if attempt == COMPLETE_ATTEMPTS - 1:
                    logger.warning("could not remember an Idempotency-Key's answer", exc_info=True)

    try:
        response = handle()
    except PosthornError as error:
        remember(http_status(error), error_body(error.code, error.message, error.details))
        raise
    except BaseException:
        store.release(scope)
        raise
    remember(response.status_code, _serialized(response.body))
    return response
