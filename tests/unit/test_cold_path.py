"""What each function's handler module imports at init (Lambda's cold start), checked in a fresh
interpreter with only that function's code and the layer on the path. bench/cold_start.py measures the
time; these keep out what a function never needs at init."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_at_init(code_uri: str, module: str) -> set[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / code_uri), str(ROOT / "layers/posthorn")]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "posthorn",
    }
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    command = [sys.executable, "-c", code]  # our interpreter, importing one of our modules
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)  # noqa: S603
    return set(json.loads(result.stdout))


FUNCTIONS = [
    ("functions/send", "send_api.handler"),
    ("functions/bounce", "ses_events.handler"),
    ("functions/worker", "send_worker.handler"),
    ("functions/webhooks", "webhook_sender.handler"),
]


@pytest.mark.parametrize(("code_uri", "module"), FUNCTIONS)
def test_no_function_imports_the_xray_sdk_when_tracing_is_off(code_uri: str, module: str) -> None:
    assert not any(name.startswith("aws_xray_sdk") for name in imported_at_init(code_uri, module))


def test_the_api_imports_neither_the_openapi_models_nor_ses_notifications_nor_the_worker() -> None:
    modules = imported_at_init("functions/send", "send_api.handler")
    assert "aws_lambda_powertools.event_handler.openapi.models" not in modules  # only GET /v1/docs
    assert "posthorn.models.ses_notifications" not in modules
    assert "posthorn.logic.events.notifications" not in modules
    assert "posthorn.logic.sending.queue_drain" not in modules


def test_the_api_registers_only_the_send_and_health_routes_at_init() -> None:
    modules = imported_at_init("functions/send", "send_api.handler")
    assert {"send_api.routes.email", "send_api.routes.health", "posthorn.logic.sending.steps"} <= modules
    later = {"admin", "files", "messages", "stats", "suppressions", "webhooks"}
    assert not {f"send_api.routes.{name}" for name in later} & modules


def test_the_worker_does_not_import_the_mime_builder() -> None:
    modules = imported_at_init("functions/worker", "send_worker.handler")
    assert "posthorn.logic.sending.mime" not in modules
    assert "posthorn.logic.sending.steps" not in modules


def test_the_worker_imports_boto3_and_its_light_adapters_at_init_not_the_repositories_models() -> None:
    """A fresh instance's first batch otherwise imports boto3 (bench/worker.py, figure 2); the repositories
    and the webhook fan-out, whose models would cost the cold start a fifth more (figure 1), it imports while
    its first SMTP connection opens."""
    modules = imported_at_init("functions/worker", "send_worker.handler")
    assert {
        "boto3",
        "posthorn.adapters.dynamodb.table",
        "posthorn.adapters.ses_smtp",
        "posthorn.adapters.secrets",
        "posthorn.logic.files.bodies",
    } <= modules
    assert "posthorn.adapters.dynamodb.domains" not in modules  # with the models of domains, credentials


def test_the_events_functions_repository_imports_nothing_of_the_send_path() -> None:
    modules = imported_at_init("functions/bounce", "posthorn.adapters.dynamodb.message_events")
    assert "posthorn.adapters.dynamodb.message_items" in modules
    assert "posthorn.adapters.dynamodb.messages" not in modules
    assert "posthorn.models.send_queue" not in modules


@pytest.mark.parametrize(("code_uri", "module"), FUNCTIONS)
def test_in_lambda_the_init_runs_without_the_collector_and_leaves_it_on(code_uri: str, module: str) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / code_uri), str(ROOT / "layers/posthorn")]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "posthorn",
        "LAMBDA_TASK_ROOT": str(ROOT / code_uri),
    }
    code = (
        "import gc, json, sys\n"
        "during_init = []  # collections once posthorn.coldstart is imported\n"
        "gc.callbacks.append(lambda phase, _: during_init.append('posthorn.coldstart' in sys.modules))\n"
        f"import {module}\n"
        "print(json.dumps([any(during_init), gc.isenabled(), gc.get_freeze_count()]))"
    )
    command = [sys.executable, "-c", code]  # our interpreter, importing one of our modules
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)  # noqa: S603
    collected_during_init, enabled, frozen = json.loads(result.stdout)
    assert not collected_during_init
    assert enabled
    assert frozen > 10_000  # the init's objects: never walked again


# Models only some routes use are built on their first use, not at init (`defer_build`).
ROUTE_ONLY_MODELS = [
    "posthorn.models.credentials:CreateCredentialRequest",
    "posthorn.models.credentials:UpdateCredentialRequest",
    "posthorn.models.credentials:CreatedCredential",
    "posthorn.models.credentials:CredentialList",
    "posthorn.models.domains:CreateDomainRequest",
    "posthorn.models.suppressions:SuppressionList",
    "posthorn.models.suppressions:CreateSuppressionRequest",
    "posthorn.models.files:UploadFileRequest",
    "posthorn.models.files:RawUploadParameters",
    "posthorn.models.files:CreateUploadRequest",
    "posthorn.models.files:FileView",
    "posthorn.models.files:UploadView",
    "posthorn.models.messages:EventView",
    "posthorn.models.messages:MessageView",
    "posthorn.models.batches:SendBatchRequest",  # a single send never uses the batch's models
    "posthorn.models.batches:BatchItemResult",
    "posthorn.models.batches:SendBatchResult",
    "posthorn.models.errors:ApiError",
]


def test_the_api_builds_route_only_models_on_first_use() -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions/send"), str(ROOT / "layers/posthorn")]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "posthorn",
    }
    code = (
        "import importlib, json, sys, send_api.handler\n"
        "built = []\n"
        "for name in sys.argv[1:]:\n"
        "    module, _, model = name.partition(':')\n"
        "    if getattr(importlib.import_module(module), model).__pydantic_complete__:\n"
        "        built.append(name)\n"
        "print(json.dumps(built))"
    )
    command = [sys.executable, "-c", code, *ROUTE_ONLY_MODELS]  # our interpreter, importing our modules
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)  # noqa: S603
    assert json.loads(result.stdout) == []


def test_the_api_imports_neither_the_file_cache_nor_the_smtp_relays_intake_at_init() -> None:
    modules = imported_at_init("functions/send", "send_api.handler")
    assert "posthorn.logic.files.cache" not in modules  # the files routes take it through FileUploads
    assert "posthorn.logic.submission.intake" not in modules
    assert "posthorn.adapters.ses_smtp" not in modules  # the transport is built on the first send


def test_no_model_the_api_builds_at_init_has_a_builtin_default_factory() -> None:
    """pydantic reads a `default_factory=list`'s signature through `tokenize`, whose first use compiles a
    large pattern (posthorn/models/defaults.py): the API's init never gets there."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions/send"), str(ROOT / "layers/posthorn")]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "posthorn",
    }
    code = "import tokenize, send_api.handler; print(tokenize._compile.cache_info().currsize)"
    command = [sys.executable, "-c", code]  # our interpreter, importing one of our modules
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == "0"
