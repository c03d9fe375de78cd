"""The API's shape cannot drift: the committed OpenAPI document, the template's routes and the permissions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from posthorn_local import template
from send_api.auth import PERMISSIONS, PUBLIC

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_document_matches_the_code() -> None:
    from scripts.openapi import DOCUMENT, render, served_document

    assert DOCUMENT.read_text() == render(served_document()), "run `make openapi`, commit docs/openapi.json"


def test_every_template_route_is_public_or_has_a_permission() -> None:
    routes = {(route.method, route.path) for route in template.routes()}
    assert routes == set(PERMISSIONS) | set(PUBLIC)


def test_every_documented_path_is_deployed() -> None:
    from scripts.openapi import served_document

    deployed = {(route.method, route.path) for route in template.routes()}
    paths = served_document()["paths"]
    documented = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    assert documented <= deployed


def test_docs_without_format_is_swagger_ui_with_the_document_inlined() -> None:
    from posthorn_local.apigw import LambdaContext, build_event
    from send_api.app import app

    event = build_event("GET", "/v1/docs", resource="/v1/docs")
    response = app.resolve(event, LambdaContext())
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["text/html"]
    assert "SwaggerUIBundle" in response["body"]
    assert '"title": "Posthorn"' in response["body"]
    assert '"url": "/prod"' in response["body"]  # the stage is in the path on the execute-api URL


def test_layer_requirements_are_generated_from_pyproject() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/layer_requirements.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
