"""The functions' tracer: Powertools' Tracer (botocore only) where tracing is on, a stand-in elsewhere."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from posthorn import tracing


def handler(event: dict[str, Any], context: Any) -> str:
    return "answer"


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    for name in ("POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_tracing_is_on_in_lambda(in_lambda: pytest.MonkeyPatch) -> None:
    assert tracing.tracing_enabled()


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on"])
def test_trace_disabled_turns_it_off_in_lambda(in_lambda: pytest.MonkeyPatch, value: str) -> None:
    in_lambda.setenv("POWERTOOLS_TRACE_DISABLED", value)
    assert not tracing.tracing_enabled()


def test_trace_disabled_false_leaves_it_on(in_lambda: pytest.MonkeyPatch) -> None:
    in_lambda.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert tracing.tracing_enabled()


def test_sam_local_is_not_traced(in_lambda: pytest.MonkeyPatch) -> None:
    in_lambda.setenv("AWS_SAM_LOCAL", "true")
    assert not tracing.tracing_enabled()


def test_outside_lambda_is_not_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert not tracing.tracing_enabled()


def test_untraced_decorator_returns_the_handler_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    tracer = tracing.tracer()
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler
    assert tracer.capture_lambda_handler(handler) is handler


class RecordingTracer:
    """Powertools' Tracer as far as these tests see it: how each was made, what it patched."""

    made: ClassVar[list[dict[str, Any]]] = []
    patched: ClassVar[list[list[str]]] = []

    def __init__(self, **options: Any) -> None:
        self.made.append(options)

    def patch(self, modules: list[str]) -> None:
        self.patched.append(modules)


@pytest.fixture
def recording(in_lambda: pytest.MonkeyPatch) -> type[RecordingTracer]:
    import aws_lambda_powertools

    in_lambda.setattr(RecordingTracer, "made", [])
    in_lambda.setattr(RecordingTracer, "patched", [])
    in_lambda.setattr(aws_lambda_powertools, "Tracer", RecordingTracer)
    return RecordingTracer


def test_traced_functions_patch_nothing_at_init(recording: type[RecordingTracer]) -> None:
    assert isinstance(tracing.tracer(), RecordingTracer)
    assert recording.made == [{"auto_patch": False}]  # patching botocore would import it at init
    assert recording.patched == []


def test_traced_functions_patch_only_botocore_before_the_first_client(
    recording: type[RecordingTracer],
) -> None:
    from posthorn.adapters import aws

    aws.reset_clients()
    try:
        aws._session()
    finally:
        aws.reset_clients()
    assert recording.patched == [["botocore"]]
    assert recording.made == [{"auto_patch": False}]  # the handler's tracer, not a second one patching all


def test_untraced_functions_patch_nothing(
    in_lambda: pytest.MonkeyPatch, recording: type[RecordingTracer]
) -> None:
    in_lambda.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    tracing.trace_aws_calls()
    assert recording.made == []
    assert recording.patched == []


@pytest.mark.parametrize(("mode", "traced"), [("PassThrough", False), ("Active", True)])
def test_the_tracing_parameter_turns_the_functions_and_the_stage_on_or_off(
    monkeypatch: pytest.MonkeyPatch, mode: str, traced: bool
) -> None:
    from posthorn_local import template

    defaults = template.parameter_default
    monkeypatch.setattr(
        template, "parameter_default", lambda name: mode if name == "Tracing" else defaults(name)
    )
    globals_ = template.load()["Globals"]
    assert globals_["Function"]["Tracing"] == {"Ref": "Tracing"}
    assert template.default_of(globals_["Api"]["TracingEnabled"]) is traced
    disabled = template.default_of(template.global_environment()["POWERTOOLS_TRACE_DISABLED"])
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", disabled)
    assert tracing.tracing_enabled() is traced


def test_a_stack_is_deployed_untraced_unless_asked() -> None:
    from posthorn_local import template

    assert template.parameter_default("Tracing") == "PassThrough"
