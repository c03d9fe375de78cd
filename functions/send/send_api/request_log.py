"""One log line per API request, with its outcome: the route (its template, never the path, which can hold
an address), the status, the caller's username, and the message id, the messages queued, or the error code,
as the request's code notes them. Never a body, a header value or a secret. The access log of API Gateway
(`correlation_id` is its request id) has the rest: the client's address, latency, the requests Lambda
never saw."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from posthorn import logs
from send_api.observability import logger, metrics

# The request being resolved: a ContextVar, as the local stack resolves requests on several threads.
_noted: ContextVar[dict[str, Any] | None] = ContextVar("request_log", default=None)


def note(**fields: Any) -> None:
    """Adds fields to the current request's line (nothing outside a request)."""
    fields_so_far = _noted.get()
    if fields_so_far is not None:
        fields_so_far.update(fields)


@contextmanager
def request_line(event: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Collects what the request notes meanwhile; logs the line once the caller has put the answer's status
    into the dict yielded. A request that raises (none should: every error has its answer) logs nothing
    here; Lambda logs the exception."""
    outcome: dict[str, Any] = {}
    noted: dict[str, Any] = {}
    token = _noted.set(noted)
    try:
        yield outcome
    finally:
        _noted.reset(token)
    route = f"{event.get('httpMethod')} {event.get('resource')}"
    logs.outcome(logger, metrics, "request", route=route, **outcome, **noted)
