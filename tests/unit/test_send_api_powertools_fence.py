"""The fence around what the API takes from Powertools beyond its public API (send_api/app.py,
`POWERTOOLS_PRIVATE`): these fail when the installed Powertools is not the pinned one, when the source of what
`JsonBodiesOnly` leans on changed, or when app.py uses a private member not listed.

When one fails: read Powertools' new `OpenAPIRequestValidationMiddleware` (`handler`, `_get_body`) and where
the resolver builds it and puts it first (`ApiGatewayResolver.__init__`, `Route._build_middleware_stack`)
against `JsonBodiesOnly`; look for a public way to refuse a non-JSON body before validation reads it (then
drop the override); run tests/integration/test_form_bodies.py and `tests/e2e -k fuzzing`; then record the
version and the hashes below (the failure prints them)."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Route
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)

from send_api import app as app_module
from send_api.app import POWERTOOLS_PRIVATE
from tests.support.fences import pins, source_hash

ROOT = Path(__file__).resolve().parents[2]

RECORDED_VERSION = "3.37.0"
# sha256 (first 16 hex digits) of `inspect.getsource(...)` in the recorded version.
SOURCES: dict[str, Callable[..., Any]] = {
    "ApiGatewayResolver.__init__": ApiGatewayResolver.__init__,
    "Route._build_middleware_stack": Route._build_middleware_stack,
    "OpenAPIRequestValidationMiddleware.handler": OpenAPIRequestValidationMiddleware.handler,
    "OpenAPIRequestValidationMiddleware._get_body": OpenAPIRequestValidationMiddleware._get_body,
}
RECORDED_SOURCE = {
    "ApiGatewayResolver.__init__": "bcd62afffc7b01ce",
    "Route._build_middleware_stack": "03f8ac0795674277",
    "OpenAPIRequestValidationMiddleware.handler": "bbe465c855d8e7df",
    "OpenAPIRequestValidationMiddleware._get_body": "7a95b80042433956",
}


def _pins() -> dict[str, str]:
    return pins("aws-lambda-powertools", "pyproject.toml", "layers/posthorn/requirements.txt")


def test_the_installed_powertools_is_the_pinned_and_recorded_one() -> None:
    installed = version("aws-lambda-powertools")
    assert set(_pins().values()) == {installed} == {RECORDED_VERSION}, (
        f"Powertools installed {installed}, pinned {_pins()}, recorded {RECORDED_VERSION} here: "
        f"send_api/app.py replaces its request validation middleware; re-check as this module's docstring "
        f"says, then record"
    )


def test_the_source_jsonbodiesonly_leans_on_is_the_recorded_one() -> None:
    current = {name: source_hash(function) for name, function in SOURCES.items()}
    changed = sorted(name for name in SOURCES if current[name] != RECORDED_SOURCE[name])
    assert not changed, (
        f"Powertools {version('aws-lambda-powertools')} changed {', '.join(changed)} under send_api/app.py's "
        f"JsonBodiesOnly: re-check as this module's docstring says, then record {current}"
    )


def _private_members() -> set[str]:
    """The underscored names of the resolver and the validation middleware: their classes' (inherited ones
    too) and those their source sets on an instance."""
    names = set(dir(ApiGatewayResolver)) | set(dir(OpenAPIRequestValidationMiddleware))
    for cls in (ApiGatewayResolver, Route, OpenAPIRequestValidationMiddleware):
        names |= set(re.findall(r"\.(_\w+)\s*(?::[^=\n]+)?=", inspect.getsource(cls)))
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def test_app_uses_no_private_powertools_member_that_is_not_listed() -> None:
    tree = ast.parse(inspect.getsource(app_module))
    ours = set(vars(app_module.PosthornResolver)) - set(dir(ApiGatewayResolver))  # _every_route, _including
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    taken = (used & _private_members()) - ours
    unlisted = taken - set(POWERTOOLS_PRIVATE)
    assert not unlisted, f"list in send_api/app.py's POWERTOOLS_PRIVATE, saying why: {unlisted}"
    assert set(POWERTOOLS_PRIVATE) <= taken, "POWERTOOLS_PRIVATE lists one app.py no longer uses"
