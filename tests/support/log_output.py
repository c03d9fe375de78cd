"""What a function or the relay writes to CloudWatch Logs while the tests drive it: Powertools' JSON log
lines and its EMF metric blobs, as the deployed process prints them (Lambda's own START/END/REPORT lines and
API Gateway's access log are not ours and are not here)."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

# What Lambda sets in every sandbox, traced or not: Powertools copies its Root into every line.
TRACE_HEADER = "Root=1-6740f2a1-3c1d5e7f9a0b2c4d6e8f0a1b;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:8d1f:0"


@dataclass
class Output:
    """The captured lines, JSON each: log lines (with a `level`) and EMF blobs (with `_aws`)."""

    lines: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def logs(self, level: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if "level" in r and (level is None or r["level"] == level)]

    @property
    def metric_blobs(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "_aws" in r]

    @property
    def bytes(self) -> int:
        """As CloudWatch Logs counts ingestion: each line's UTF-8 bytes (without its newline)."""
        return sum(len(line.encode()) for line in self.lines)


def lambda_context(function: str) -> Any:
    """Lambda's context as deployed: SAM's generated function name (stack, logical id, a suffix)."""
    from posthorn_local.apigw import LambdaContext

    name = f"posthorn-prod-{function}-Xk3pQ9LmN2vB"
    return LambdaContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name="2026/01/05/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    )


@contextmanager
def captured(logger_names: tuple[str, ...] = ("posthorn",), *, in_lambda: bool = True) -> Iterator[Output]:
    """Everything the named Powertools loggers' handlers and `print` (EMF metrics) write meanwhile; in Lambda,
    with the trace header Lambda sets in every invocation, traced or not. A logger without a Powertools
    handler of its own (the relay's, configured at its start) gets the formatter the relay's start gives."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from posthorn import logs

    buffer = io.StringIO()
    restore: list[tuple[logging.StreamHandler[Any], Any]] = []
    added: list[tuple[logging.Logger, logging.Handler, int]] = []
    for name in logger_names:
        target = logging.getLogger(name)
        handlers = [h for h in target.handlers if isinstance(h, logging.StreamHandler)]
        if handlers:
            for handler in handlers:
                restore.append((handler, handler.setStream(buffer)))
                # One process runs every function here: start from no function's keys, as each does.
                if isinstance(handler.formatter, LambdaPowertoolsFormatter):
                    handler.formatter.clear_state()
        else:
            handler = logging.StreamHandler(buffer)
            service = f"posthorn-{name.replace('_', '-')}"
            handler.setFormatter(LambdaPowertoolsFormatter(service=service, **logs.left_out()))
            added.append((target, handler, target.level))
            target.addHandler(handler)
            target.setLevel(logging.INFO)
    previous_trace = os.environ.get("_X_AMZN_TRACE_ID")
    if in_lambda:
        os.environ["_X_AMZN_TRACE_ID"] = TRACE_HEADER
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    output = Output()
    try:
        with redirect_stdout(buffer):
            yield output
    finally:
        for handler, stream in restore:
            handler.setStream(stream)
        for target, handler, level in added:
            target.removeHandler(handler)
            target.setLevel(level)
        if previous_trace is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = previous_trace
        output.lines.extend(line for line in buffer.getvalue().splitlines() if line.strip())
