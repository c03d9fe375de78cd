"""Checking an answer against the committed OpenAPI document (docs/openapi.json): is its status listed for
the operation, does its body match that status's schema, and is an error's code one the status names.

Shared by the unit tests of the document (every example must pass) and the e2e suite (every answer it
receives must pass; tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@cache
def committed_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return document


def schema_errors(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """What is wrong with `value` against `schema`, whose `#/components/...` refs point into `document`."""
    rooted = {**schema, "components": document.get("components", {})}
    validator = Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(value)
    ]


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    templates = []
    for path in committed_document()["paths"]:
        pattern = re.sub(r"\{[^/}]+\}", "[^/]+", path)
        templates.append((re.compile(f"^{pattern}$"), path))
    # Literal paths before templated ones (`/v1/email/batch` is not `/v1/email/{x}`).
    return sorted(templates, key=lambda item: item[1].count("{"))


def path_template(path: str) -> str | None:
    """The document's path for a request path (`/v1/messages/msg_1` → `/v1/messages/{message_id}`)."""
    bare = path.split("?", 1)[0]
    return next((template for pattern, template in _templates() if pattern.match(bare)), None)


def error_codes(response: dict[str, Any]) -> set[str]:
    """The codes a documented error response names (its examples)."""
    codes = set()
    for media in response.get("content", {}).values():
        for example in media.get("examples", {}).values():
            error = example["value"].get("error") if isinstance(example["value"], dict) else None
            if isinstance(error, dict):  # a compatible surface's vendor shape names no code here
                codes.add(error["code"])
    return codes


def violations(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """Why this answer is not what the committed document says `method path` answers (empty: it is)."""
    document = committed_document()
    template = path_template(path)
    where = f"{method} {path} → {status}"
    if template is None:
        return [] if status == 404 else [f"{where}: the path is not in the document"]
    operation = document["paths"][template].get(method.lower())
    if operation is None:  # a method the document does not list must be refused as one
        return [] if status == 405 else [f"{where}: {method} {template} is not in the document"]
    response = operation["responses"].get(str(status))
    if response is None:
        listed = ", ".join(operation["responses"])
        return [f"{where}: status {status} is not listed for {method} {template} (listed: {listed})"]
    media = response.get("content", {})
    if not media:
        return [f"{where}: the document says no body, the answer has {len(body)} bytes"] if body else []
    if not content_type.lower().startswith("application/json"):
        return [f"{where}: the answer is {content_type or 'untyped'}, the document says application/json"]
    try:
        value = json.loads(body)
    except ValueError:
        return [f"{where}: the body is not JSON"]
    problems = [
        f"{where}: {error}" for error in schema_errors(document, media["application/json"]["schema"], value)
    ]
    codes = error_codes(response) if status >= 400 else set()
    vendor_shaped = not (isinstance(value, dict) and isinstance(value.get("error"), dict))
    if codes and not problems and not vendor_shaped and value["error"]["code"] not in codes:
        problems.append(f"{where}: code {value['error']['code']!r} is not among the listed {sorted(codes)}")
    return problems
