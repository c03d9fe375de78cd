"""The functions' X-Ray tracer: Powertools' Tracer where something is traced, and nothing else.

Deployed (`Tracing: Active`), the handler is a subsegment and every AWS call is one too: botocore is
patched. Only botocore: by default Powertools patches every library the X-Ray SDK knows (sqlite3, httplib,
requests, pymongo, ...), which costs init time and traces nothing here (botocore's own HTTP is already its
AWS call's subsegment; SMTP is not HTTP). And not at init: patching imports botocore, which no function
imports at init (its clients are made on first use, `adapters/aws.py`), so `trace_aws_calls` patches it
when the first client is made, the moment botocore is imported anyway (patching at init put ~0.3x on
figure 1 of `make bench` with `BENCH_TRACING=Active`, for no AWS call made at init).

Where tracing is off (POWERTOOLS_TRACE_DISABLED, or outside Lambda: tests, the local stack, `sam local`, by
Powertools' own rule), Powertools would still import the X-Ray SDK, and outside Lambda the SDK creates two
botocore clients at import for centralized sampling, which every test run and local start would pay for
nothing. There the tracer is a stand-in with the same decorator, and the SDK is never imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})


class HandlerTracer(Protocol):
    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]: ...


class _Untraced:
    """Where nothing is traced: the decorator returns the handler as it is."""

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler


def tracing_enabled() -> bool:
    """Powertools' rule: off when POWERTOOLS_TRACE_DISABLED is true, outside Lambda, and under `sam local`."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")


def tracer() -> HandlerTracer:
    if not tracing_enabled():
        return _Untraced()
    from aws_lambda_powertools import Tracer

    return Tracer(auto_patch=False)  # botocore: `trace_aws_calls`


def trace_aws_calls() -> None:
    """Where tracing is on, make every AWS call a subsegment (patch botocore, once): called before the
    first client is made. Powertools' tracers share their state, so this one is the handler's tracer."""
    if not tracing_enabled():
        return
    from aws_lambda_powertools import Tracer

    Tracer(auto_patch=False).patch(["botocore"])
