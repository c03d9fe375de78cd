"""Each entry point's settings: a function fails at its first invocation, naming the variable, when its
environment lacks one it needs; template.yaml gives each function (and the relay's task) exactly the
variables its settings class reads; a function's settings never answer for another group."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from posthorn import wiring
from posthorn.settings import (
    ApiSettings,
    EventsSettings,
    GuardSettings,
    SesSmtpSettings,
    Settings,
    SettingsError,
    SubmissionSettings,
    TableSettings,
    WebhookSenderSettings,
    WorkerSettings,
    current,
    running,
)
from posthorn_local import template
from posthorn_local.apigw import LambdaContext
from smtp_relay.settings import RelaySettings
from tests.unit.test_cold_path import FUNCTIONS, imported_at_init

ENTRY_POINTS = [ApiSettings, EventsSettings, WorkerSettings, WebhookSenderSettings, SubmissionSettings]
EVERY_VARIABLE = sorted({name for kind in ENTRY_POINTS for name in kind.variables()})
# What Lambda and the container read besides the settings: Powertools' own variables.
NOT_SETTINGS = ("POWERTOOLS_",)


def needed(kind: type[Settings]) -> list[str]:
    return sorted(name for name, required in kind.variables().items() if required)


def complete(kind: type[Settings]) -> dict[str, str]:
    """What the function cannot do without (resource names, ARNs, URLs): the rest has defaults."""
    return {name: f"{name.lower()}-value" for name in needed(kind)}


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process environment with none of the settings' variables, read afresh."""
    for name in EVERY_VARIABLE:
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    yield
    wiring.reset()


@pytest.mark.parametrize("kind", ENTRY_POINTS, ids=lambda kind: kind.__name__)
def test_each_class_reads_the_variables_it_needs(kind: type[Settings]) -> None:
    read = kind.from_environment({**complete(kind), "UNRELATED": "ignored"})
    assert needed(kind), "every function needs at least one resource name"
    assert {name: getattr(read, name.lower()) for name in needed(kind)} == complete(kind)


@pytest.mark.parametrize(
    ("kind", "variable"),
    [(kind, name) for kind in ENTRY_POINTS for name in needed(kind)],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_a_missing_variable_fails_naming_it_and_the_class(kind: type[Settings], variable: str) -> None:
    environment = complete(kind)
    del environment[variable]
    with pytest.raises(SettingsError) as failed:
        kind.from_environment(environment)
    assert str(failed.value) == f"{kind.__name__}: {variable} not set"


def test_an_empty_variable_is_an_unset_one_and_every_missing_one_is_named() -> None:
    with pytest.raises(SettingsError) as failed:
        WebhookSenderSettings.from_environment({"WEBHOOK_SECRETS_KEY_ID": ""})
    assert str(failed.value) == (
        "WebhookSenderSettings: ALARM_TOPIC_ARN, WEBHOOKS_TABLE_NAME, WEBHOOK_QUEUE_URL, "
        "WEBHOOK_SECRETS_KEY_ID, WEBHOOK_SLOW_QUEUE_URL not set"
    )


def test_a_value_it_cannot_read_fails_naming_the_variable() -> None:
    environment = {**complete(WorkerSettings), "SEND_MAX_RECEIVES": "0", "SES_SMTP_PORT": "submission"}
    with pytest.raises(SettingsError) as failed:
        WorkerSettings.from_environment(environment)
    message = str(failed.value)
    assert message.startswith("WorkerSettings: ")
    assert "SES_SMTP_PORT: Input should be a valid integer" in message
    assert "SEND_MAX_RECEIVES: Input should be greater than or equal to 1" in message


def test_a_function_never_needs_another_functions_variables() -> None:
    """The variables each function must have: the webhook sender has no table, no SES, no pepper."""
    assert needed(WebhookSenderSettings) == [
        "ALARM_TOPIC_ARN",
        "WEBHOOKS_TABLE_NAME",
        "WEBHOOK_QUEUE_URL",
        "WEBHOOK_SECRETS_KEY_ID",
        "WEBHOOK_SLOW_QUEUE_URL",
    ]
    assert "SES_SMTP_SECRET_ID" not in EventsSettings.variables()
    assert "SES_SMTP_SECRET_ID" not in SubmissionSettings.variables()
    assert "PEPPER_SECRET_ID" not in WorkerSettings.variables()


# --- what reading them through wiring does -----------------------------------------------------------------
def test_settings_running_answer_for_the_groups_of_their_class_and_no_other() -> None:
    events = EventsSettings.from_environment(complete(EventsSettings))
    with running(events):
        assert wiring.settings(TableSettings) is events
        assert wiring.settings(GuardSettings) is events
        with pytest.raises(SettingsError) as failed:
            wiring.settings(SesSmtpSettings)
    assert str(failed.value).startswith("EventsSettings does not include SesSmtpSettings (SES_SMTP_HOST, ")


def test_without_running_settings_the_process_environment_is_read_once(
    no_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in complete(EventsSettings).items():
        monkeypatch.setenv(name, value)
    events = current(EventsSettings)
    monkeypatch.setenv("TABLE_NAME", "changed")
    assert current(EventsSettings) is events
    assert current(TableSettings) is events  # a group of the class already read: the same values
    wiring.reset()
    assert current(TableSettings).table_name == "changed"


def test_a_group_read_alone_needs_only_its_own_variables(
    no_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a test or a tool does when it builds one adapter without running any entry point."""
    with pytest.raises(SettingsError) as failed:
        current(TableSettings)
    assert str(failed.value) == "TableSettings: TABLE_NAME not set"
    monkeypatch.setenv("TABLE_NAME", "posthorn-table")
    assert current(TableSettings).table_name == "posthorn-table"


def test_running_settings_hold_only_inside_and_only_on_their_thread(no_settings: None) -> None:
    events = EventsSettings.from_environment(complete(EventsSettings))
    with running(events), ThreadPoolExecutor(1) as other:
        assert current(EventsSettings) is events
        elsewhere = other.submit(lambda: current(EventsSettings))
        with pytest.raises(SettingsError, match=r"EventsSettings: .*TABLE_NAME.* not set"):
            elsewhere.result()
    with pytest.raises(SettingsError):
        current(EventsSettings)


# --- each entry point fails at its first invocation, naming what it lacks ---------------------------------
HANDLERS = [
    ("SendFunction", {"httpMethod": "GET", "path": "/v1/health", "resource": "/v1/health"}),
    ("EventsFunction", {"Records": []}),
    ("SendWorkerFunction", {"Records": []}),
    ("WebhookSenderFunction", {"Records": []}),
]


@pytest.mark.parametrize(("function", "event"), HANDLERS, ids=[name for name, _ in HANDLERS])
def test_a_function_without_its_variables_fails_on_its_first_invocation_naming_them(
    function: str, event: dict[str, Any], no_settings: None
) -> None:
    import importlib

    module, _, name = template.handler_of(function).rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    kind = template.SETTINGS[function]
    with pytest.raises(SettingsError) as failed:
        handler(event, LambdaContext(function_name=function))
    assert str(failed.value) == f"{kind.__name__}: {', '.join(needed(kind))} not set"


def test_the_relay_fails_at_start_naming_what_its_send_path_lacks(no_settings: None) -> None:
    from smtp_relay.__main__ import build_relay

    with ThreadPoolExecutor(1) as pool, pytest.raises(SettingsError) as failed:
        build_relay(RelaySettings(), cast(Any, None), pool, pool)
    assert str(failed.value) == f"SubmissionSettings: {', '.join(needed(SubmissionSettings))} not set"


# --- template.yaml and the classes agree ------------------------------------------------------------------
def test_every_function_and_the_relay_have_a_settings_class() -> None:
    functions = set(template.resources("AWS::Serverless::Function")) - template.STATIC_FUNCTIONS
    assert set(template.SETTINGS) == functions | {"SmtpRelayTaskDefinition"}
    assert set(template.SETTINGS.values()) == set(ENTRY_POINTS)


@pytest.mark.parametrize("logical_id", sorted(template.SETTINGS))
def test_the_template_gives_each_function_every_variable_its_settings_need(logical_id: str) -> None:
    given = set(template.environment_of(logical_id))
    missing = set(needed(template.SETTINGS[logical_id])) - given
    assert not missing, f"{logical_id}'s Environment in template.yaml lacks {sorted(missing)}"


@pytest.mark.parametrize("logical_id", sorted(template.SETTINGS))
def test_the_template_gives_each_function_no_variable_it_does_not_read(logical_id: str) -> None:
    read = set(template.SETTINGS[logical_id].variables())
    if logical_id == "SmtpRelayTaskDefinition":
        read |= {f"RELAY_{name.upper()}" for name in RelaySettings.model_fields}
    given = {name for name in template.environment_of(logical_id) if not name.startswith(NOT_SETTINGS)}
    unread = given - read
    assert not unread, f"{logical_id} is given {sorted(unread)}, which its settings do not read"


@pytest.mark.parametrize("logical_id", sorted(template.SETTINGS))
def test_each_functions_template_block_reads_as_its_settings(logical_id: str) -> None:
    """Resolved as deployed (a name for every resource, the parameters' defaults): every value parses."""
    names = {name: f"{name.lower()}-physical-id" for name in template.resources()}
    names |= {"SesSmtpSecretId": "ses-smtp-secret"}
    resolved = template.resolve_environment(
        template.environment_of(logical_id),
        names,
        {"SES_SMTP_HOST": "email-smtp.eu-west-1.amazonaws.com", "SES_SMTP_TLS": "starttls"},
    )
    kind = template.SETTINGS[logical_id]
    read = kind.from_environment(resolved)
    assert {name: getattr(read, name.lower()) for name in needed(kind)} == {
        name: resolved[name] for name in needed(kind)
    }


# --- read at first use, not at a function's init ---------------------------------------------------------
@pytest.mark.parametrize(("code_uri", "module"), FUNCTIONS)
def test_no_function_imports_its_settings_at_init(code_uri: str, module: str) -> None:
    assert "posthorn.settings" not in imported_at_init(code_uri, module)


def test_the_local_stack_fails_to_start_naming_the_function_and_what_its_block_lacks() -> None:
    from posthorn_local.stack import _read_settings

    with pytest.raises(SettingsError) as failed:
        _read_settings("EventsFunction", {**complete(EventsSettings), "TABLE_NAME": ""})
    assert str(failed.value) == "EventsFunction in template.yaml: EventsSettings: TABLE_NAME not set"
