"""The functions' log lines (posthorn/logs.py): only the keys that tell lines apart, one outcome line per
invocation with its metrics embedded (EMF), and metrics never lost when that line is not written."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from posthorn import logs
from posthorn_local.apigw import LambdaContext

TRACE = "Root=1-6740f2a1-3c1d5e7f9a0b2c4d6e8f0a1b;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    made = Metrics(namespace="Test", service="unit")
    made.clear_metrics()
    yield made
    made.clear_metrics()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def logger(stream: io.StringIO, **options: Any) -> Logger:
    # A service of its own: Powertools configures one Python logger per service name, once.
    return logs.service_logger(service=f"unit-{uuid.uuid4().hex[:8]}", stream=stream, **options)


def test_a_line_carries_no_location_and_no_trace_id_where_nothing_is_traced(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    logger(stream).info("hello")
    [line] = lines(stream)
    assert "location" not in line
    assert "xray_trace_id" not in line
    assert {"level", "message", "timestamp", "service"} <= set(line)


def test_a_traced_function_names_its_trace(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    logger(stream).info("hello")
    assert lines(stream)[0]["xray_trace_id"] == "1-6740f2a1-3c1d5e7f9a0b2c4d6e8f0a1b"


def test_each_invocation_has_its_request_id_and_nothing_of_the_one_before(
    stream: io.StringIO, metrics: Metrics
) -> None:
    log = logger(stream)

    @logs.per_invocation(log, metrics, correlation_id=lambda event: event.get("id"))
    def handler(event: dict[str, Any], context: Any) -> None:
        if event.get("note"):
            log.append_keys(note=event["note"])
        log.info("done")

    handler({"id": "first", "note": "only the first"}, LambdaContext(aws_request_id="req-1"))
    handler({}, LambdaContext(aws_request_id="req-2"))
    first, second = lines(stream)
    assert (first["function_request_id"], first["correlation_id"], first["note"]) == (
        "req-1",
        "first",
        "only the first",
    )
    assert second["function_request_id"] == "req-2"
    assert "note" not in second
    assert "correlation_id" not in second
    for line in (first, second):
        assert not {"function_name", "function_arn", "function_memory_size", "cold_start"} & set(line)


def test_the_outcome_line_carries_the_metrics_in_emf(
    stream: io.StringIO, metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logger(stream)

    @logs.per_invocation(log, metrics)
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="Sent", unit=MetricUnit.Count, value=3)
        metrics.add_metric(name="Late", unit=MetricUnit.Seconds, value=1.5)
        logs.outcome(log, metrics, "batch processed", batch="b-1")

    handler({}, LambdaContext())
    [line] = lines(stream)
    assert (line["level"], line["message"], line["batch"]) == ("INFO", "batch processed", "b-1")
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Test"
    assert directive["Dimensions"] == [["service"]]
    assert line["service"] == "unit"  # the dimension's value, a member of the line as EMF wants it
    assert {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]} == {
        "Sent": "Count",
        "Late": "Seconds",
    }
    assert (line["Sent"], line["Late"]) == (3, 1.5)
    assert isinstance(line["_aws"]["Timestamp"], int)
    assert capsys.readouterr().out == ""  # no second line of metrics
    assert not metrics.metric_set


def test_metrics_are_printed_alone_when_info_lines_are_not_written(
    stream: io.StringIO, metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logger(stream, level="WARNING")

    @logs.per_invocation(log, metrics)
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="Sent", unit=MetricUnit.Count, value=1)
        logs.outcome(log, metrics, "batch processed")

    handler({}, LambdaContext())
    assert stream.getvalue() == ""
    [blob] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert blob["Sent"] == [1.0]


def test_metrics_added_before_the_handler_raised_are_printed(
    stream: io.StringIO, metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logger(stream)

    @logs.per_invocation(log, metrics)
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="Sent", unit=MetricUnit.Count, value=1)
        raise RuntimeError("the table is gone")

    with pytest.raises(RuntimeError):
        handler({}, LambdaContext())
    [blob] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert blob["Sent"] == [1.0]


def test_an_outcome_without_metrics_is_a_plain_line(stream: io.StringIO, metrics: Metrics) -> None:
    log = logger(stream)
    logs.outcome(log, metrics, "nothing due", due=0)
    [line] = lines(stream)
    assert "_aws" not in line
    assert line["due"] == 0


def test_the_functions_log_level_is_decided_in_one_place() -> None:
    """Under Lambda's JSON log format Lambda hands ApplicationLogLevel to Powertools as AWS_LAMBDA_LOG_LEVEL,
    which Powertools puts above POWERTOOLS_LOG_LEVEL: a POWERTOOLS_LOG_LEVEL in the template would decide
    nothing, and a reader changing it would be misled."""
    from posthorn_local import template

    function = template.load()["Globals"]["Function"]
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert function["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    assert "POWERTOOLS_LOG_LEVEL" not in function["Environment"]["Variables"]


def test_under_lambdas_level_powertools_follows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "WARN")
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    assert logs.service_logger(service=f"unit-{uuid.uuid4().hex[:6]}").log_level == logging.WARNING
    assert logging.getLogger("botocore").level == logging.WARNING
