"""The functions' and the relay's log lines: Powertools' JSON, one line per invocation (a request, a batch, a
transaction) with its outcome, and only what tells one line from another.

A function's outcome line carries the invocation's metrics in CloudWatch's embedded metric format (EMF: an
`_aws` member naming the metrics, which are members of the line), so the counts are written once: not once
in the line and again in a line of metrics of their own, as Powertools' `log_metrics` would print them.

Left out of every line, because CloudWatch already says it once per log stream or per invocation: the
function's name, ARN and memory size (the log group names the function; Lambda's REPORT line gives memory
and duration), whether the start was cold (REPORT's Init Duration), the source location (each message is
one place in the code), and the X-Ray trace id where the function traces nothing (POWERTOOLS_TRACE_DISABLED,
which the template sets unless Tracing=Active: the id would name no trace). Kept: level, message, time,
service, Lambda's request id (to find the invocation's REPORT line and errors) and, in the API, API
Gateway's request id (`correlation_id`: its access log line).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from posthorn import tracing

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

Handler = TypeVar("Handler", bound=Callable[..., Any])


def left_out() -> dict[str, None]:
    """The formatter's own keys no line carries (Powertools leaves out a key set to None)."""
    keys: dict[str, None] = {"location": None}
    if not tracing.tracing_enabled():
        keys["xray_trace_id"] = None
    return keys


def service_logger(**options: Any) -> Logger:
    """Powertools' Logger (service from POWERTOOLS_SERVICE_NAME; level from AWS_LAMBDA_LOG_LEVEL, which
    Lambda sets from the template's ApplicationLogLevel under its JSON log format, else POWERTOOLS_LOG_LEVEL;
    unless `options` name them). Under that format Lambda also sets the root logger to the application's
    level, so botocore's INFO lines ("Found credentials in environment variables.", one per cold start)
    are kept below WARNING out, as they were in the text format."""
    from aws_lambda_powertools import Logger

    logging.getLogger("botocore").setLevel(logging.WARNING)
    return Logger(**{**left_out(), **options})


def per_invocation(
    logger: Logger, metrics: Metrics, correlation_id: Callable[[dict[str, Any]], str | None] | None = None
) -> Callable[[Handler], Handler]:
    """Each invocation's lines carry its request id (and `correlation_id(event)`), and nothing a previous
    invocation added; metrics that no outcome line took (the handler raised first) are printed at its end.
    In place of Powertools' `inject_lambda_context` (which adds the keys left out here) and `log_metrics`."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(event: dict[str, Any], context: Any) -> Any:
            logger.clear_state()
            logger.append_keys(function_request_id=context.aws_request_id)
            if correlation_id is not None:
                logger.set_correlation_id(correlation_id(event))
            try:
                return handler(event, context)
            finally:
                if metrics.metric_set:
                    metrics.flush_metrics()

        return run  # type: ignore[return-value]

    return decorate


def outcome(logger: Logger, metrics: Metrics, message: str, **fields: Any) -> None:
    """The invocation's INFO line, with the metrics it added (which are then cleared). Where INFO lines are
    not written (the functions' log level above INFO), or metrics are off, the metrics are left to be printed
    on their own as usual."""
    embedded: dict[str, Any] = {}
    if metrics.metric_set and logger.log_level <= logging.INFO and not _metrics_disabled():
        embedded = _as_numbers(dict(metrics.serialize_metric_set()))
        metrics.clear_metrics()
    logger.info(message, extra={**fields, **embedded})


def _metrics_disabled() -> bool:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return bool(is_metrics_disabled())


def _as_numbers(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools writes each metric's values as a list (`[1.0]`); EMF takes a number too, and a line reads
    better with `1`."""
    names = {
        metric["Name"]
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    for name in names:
        values = document.get(name)
        if isinstance(values, list) and len(values) == 1:
            value = values[0]
            document[name] = int(value) if isinstance(value, float) and value.is_integer() else value
    return document
