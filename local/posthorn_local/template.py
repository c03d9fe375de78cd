"""Reading `template.yaml`: the routes, the functions' environment and the resources, so the local stack and
the tests are built from the same file that deploys, and cannot drift from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from posthorn.settings import (
    ApiSettings,
    EventsSettings,
    Settings,
    SubmissionSettings,
    WebhookSenderSettings,
    WorkerSettings,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# What reads each function's environment: its settings class (layers/posthorn/posthorn/settings.py). The
# SMTP relay is an ECS task; its RELAY_* variables are the listener's own (smtp_relay.settings).
SETTINGS: dict[str, type[Settings]] = {
    "SendFunction": ApiSettings,
    "EventsFunction": EventsSettings,
    "SendWorkerFunction": WorkerSettings,
    "WebhookSenderFunction": WebhookSenderSettings,
    "SmtpRelayTaskDefinition": SubmissionSettings,
}
# Functions that read no Posthorn settings: the console serves its packaged files (functions/console).
STATIC_FUNCTIONS = frozenset({"ConsoleFunction"})


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref X` → `{"Ref": "X"}`, `!Sub s` → `{"Fn::Sub": s}`)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template: /v1/messages/{message_id}
    function: str  # logical id
    handler: str  # module.attribute

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    all_resources: dict[str, dict[str, Any]] = load()["Resources"]
    return {name: r for name, r in all_resources.items() if kind is None or r["Type"] == kind}


def function(logical_id: str) -> dict[str, Any]:
    return resources()[logical_id]["Properties"]


def handler_of(logical_id: str) -> str:
    return str(function(logical_id)["Handler"])


def routes() -> list[Route]:
    found = []
    for name, resource in resources("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                found.append(
                    Route(props["Method"].upper(), props["Path"], name, resource["Properties"]["Handler"])
                )
    return found


def binary_media_types() -> list[str]:
    """The API's BinaryMediaTypes as media types (`image~1*` → `image/*`)."""
    api = next(iter(resources("AWS::Serverless::Api").values()))
    return [str(kind).replace("~1", "/") for kind in api["Properties"].get("BinaryMediaTypes", [])]


def global_environment() -> dict[str, Any]:
    return dict(load()["Globals"]["Function"]["Environment"]["Variables"])


def function_environment(logical_id: str) -> dict[str, Any]:
    own = function(logical_id).get("Environment", {}).get("Variables", {})
    return {**global_environment(), **own}


def task_environment(logical_id: str) -> dict[str, Any]:
    """An ECS task definition's container environment (`[{Name, Value}]`) as a mapping (the SMTP relay's)."""
    [container] = resources()[logical_id]["Properties"]["ContainerDefinitions"]
    return {str(variable["Name"]): variable["Value"] for variable in container.get("Environment", [])}


def environment_of(logical_id: str) -> dict[str, Any]:
    """What the template gives a function (its block and Globals) or the relay's task, unresolved."""
    if resources()[logical_id]["Type"] == "AWS::ECS::TaskDefinition":
        return task_environment(logical_id)
    return function_environment(logical_id)


def parameter_default(name: str) -> Any:
    return load()["Parameters"][name].get("Default")


def condition_default(name: str) -> bool:
    """A condition of the template as it stands with every parameter at its default."""
    return _holds(load()["Conditions"][name])


def _holds(condition: dict[str, Any]) -> bool:
    [(function, arguments)] = condition.items()
    if function == "Fn::Equals":
        left, right = (default_of(argument) for argument in arguments)
        return str(left) == str(right)
    if function == "Fn::Not":
        return not _holds(arguments[0])
    if function == "Fn::And":
        return all(_holds(argument) for argument in arguments)
    if function == "Fn::Or":
        return any(_holds(argument) for argument in arguments)
    if function in ("Condition", "Fn::Condition"):
        return condition_default(arguments)
    raise KeyError(f"condition {function} is not read here")


def default_of(value: Any) -> Any:
    """A value as the template resolves it with every parameter at its default: a literal, `!Ref Parameter`
    or `!If [Condition, a, b]` of those."""
    if isinstance(value, dict) and "Ref" in value:
        return parameter_default(value["Ref"])
    if isinstance(value, dict) and "Fn::If" in value:
        condition, if_true, if_false = value["Fn::If"]
        return default_of(if_true if condition_default(condition) else if_false)
    return value


def resolve_environment(
    variables: dict[str, Any], physical_ids: dict[str, str], overrides: dict[str, str]
) -> dict[str, str]:
    """Turn the template's variables into values: `!Ref Resource` → its local physical id, `!Ref Param` → the
    parameter's default, `!If` → its branch under the parameters' defaults, literals as they are, and
    `overrides` for whatever only makes sense locally."""
    environment: dict[str, str] = {}
    for name, value in variables.items():
        if name in overrides:
            environment[name] = overrides[name]
            continue
        if isinstance(value, dict) and "Fn::If" in value:
            condition, if_true, if_false = value["Fn::If"]
            value = if_true if condition_default(condition) else if_false
        if isinstance(value, str | int | float):
            environment[name] = str(value)
        elif isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            environment[name] = physical_ids[ref] if ref in physical_ids else str(parameter_default(ref))
        else:
            raise KeyError(f"environment variable {name} needs a local value: {value!r}")
    return environment
