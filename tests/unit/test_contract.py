"""The API's shape cannot drift: the committed OpenAPI document, the template's routes and the permissions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from posthorn_local import template
from send_api.auth import PERMISSIONS, PUBLIC, is_v1
from send_api.compat import surface_of
from send_api.contract import INTERNAL_ERROR, TAGS
from tests.support.openapi_conformance import committed_document, error_codes, schema_errors

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_document_matches_the_code() -> None:
    from scripts.openapi import DOCUMENT, render, served_document

    assert DOCUMENT.read_text() == render(served_document()), "run `make openapi`, commit docs/openapi.json"


def test_every_template_route_is_public_or_has_a_permission() -> None:
    """The API's routes: the compatible surfaces' authenticate themselves (send_api.compat.surface, `send`
    required); the console's function serves files and has no credential to check."""
    routes = {
        (r.method, r.path)
        for r in template.routes()
        if surface_of(r.path) is None and r.function not in template.STATIC_FUNCTIONS
    }
    assert routes == set(PERMISSIONS) | set(PUBLIC)
    assert {route.path for route in template.routes() if surface_of(route.path)}


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
    # Relative to the page (`<base>/v1/docs`), so "Try it out" calls the API that served it wherever it is.
    assert '"url": ".."' in response["body"]


def test_layer_requirements_are_generated_from_pyproject() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/layer_requirements.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def operations(*, compatible: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """Every documented operation; without `compatible`, only Posthorn's own (a compatible surface answers
    in its vendor's shape, under its vendor's key header)."""
    paths = committed_document()["paths"]
    return [
        (method.upper(), path, op)
        for path, ops in paths.items()
        for method, op in ops.items()
        if compatible or surface_of(path) is None
    ]


def compatible_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for method, path, op in operations() if surface_of(path) is not None]


def test_every_route_declares_its_answers_with_the_contract_helper() -> None:
    """Powertools documents a route that declared no `responses` with its defaults, a 200 "Successful
    Response" among them; `answers(...)` describes each success itself. Read from the document the API
    serves (the committed one is the same, tested above), every route in it."""
    from aws_lambda_powertools.event_handler.openapi.constants import DEFAULT_OPENAPI_RESPONSE_DESCRIPTION

    assert operations()
    undeclared = []
    for method, path, operation in operations():
        successes = [answer for status, answer in operation["responses"].items() if status.startswith("2")]
        if not successes or any(s["description"] == DEFAULT_OPENAPI_RESPONSE_DESCRIPTION for s in successes):
            undeclared.append(f"{method} {path}")
        assert operation["responses"]["500"] == INTERNAL_ERROR, (method, path)
    assert undeclared == [], "declare responses=answers(...) (send_api/contract.py)"


def test_every_error_response_is_the_error_object_and_powertools_validation_body_is_gone() -> None:
    document = committed_document()
    text = DOCUMENT_TEXT()
    assert "HTTPValidationError" not in text
    assert "ResponseValidationError" not in text
    for method, path, operation in operations(compatible=False):
        for status, response in operation["responses"].items():
            if int(status) < 400 or not path.startswith("/v1/"):  # a compatible surface's: its vendor's
                continue
            media = response["content"]["application/json"]
            if is_v1((method, path)) or status == "500":
                assert media["schema"] == {"$ref": "#/components/schemas/ErrorObject"}, (method, path, status)
            elif media["schema"] == {"$ref": "#/components/schemas/ErrorObject"}:  # API Gateway's answer only
                assert all(name.endswith("_gateway") for name in media["examples"]), (method, path, status)
            else:  # a compatible surface's own error shape, or (gateway answers too) either
                options = media["schema"].get("anyOf", [media["schema"]])
                assert options[0]["$ref"] != "#/components/schemas/ErrorObject", (method, path, status)
                assert (
                    options[0]["$ref"].removeprefix("#/components/schemas/")
                    in document["components"]["schemas"]
                )
            assert error_codes(response), (method, path, status)
    error = document["components"]["schemas"]["ErrorObject"]
    assert error["required"] == ["error"]


def DOCUMENT_TEXT() -> str:
    from tests.support.openapi_conformance import DOCUMENT

    return DOCUMENT.read_text()


def test_authenticated_routes_list_401_and_403_and_public_routes_no_security() -> None:
    for method, path, operation in operations(compatible=False):
        if (method, path) in PUBLIC:
            assert operation["security"] == [], path
            assert "401" not in operation["responses"]
        elif not path.startswith("/v1/"):  # a compatible surface: the vendor's key, as a bearer token
            assert operation["security"] == [{"bearer": []}], path
            assert {"401", "403", "500"} <= set(operation["responses"]), (method, path)
        else:
            assert "security" not in operation  # the document's global bearer/basic
            assert {"401", "403", "500"} <= set(operation["responses"]), (method, path)
    assert committed_document()["security"] == [{"bearer": []}, {"basic": []}]


@pytest.mark.parametrize(
    ("method", "path", "success"),
    [
        ("POST", "/v1/email", {"200", "202"}),
        ("POST", "/v1/email/batch", {"202"}),
        ("POST", "/v1/suppressions", {"200", "201"}),
        ("DELETE", "/v1/suppressions/{email}", {"204"}),
        ("DELETE", "/v1/domains/{domain}", {"204"}),
        ("POST", "/v1/credentials/{username}/secret", {"201"}),
        ("POST", "/v1/files", {"201"}),
        ("DELETE", "/v1/files/{file_key}", {"204"}),
        ("POST", "/v1/credentials", {"201"}),
        ("POST", "/v1/domains", {"200", "201"}),
        ("POST", "/v1/webhooks", {"201"}),
        ("DELETE", "/v1/webhooks/{webhook_id}", {"204"}),
        ("POST", "/v1/webhooks/{webhook_id}/secret", {"201"}),
        ("POST", "/v1/webhooks/{webhook_id}/test", {"202"}),
        ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", {"202"}),
    ],
)
def test_success_codes_are_listed_as_sent(method: str, path: str, success: set[str]) -> None:
    responses = committed_document()["paths"][path][method.lower()]["responses"]
    assert {status for status in responses if status.startswith("2")} == success
    if "204" in success:
        assert "content" not in responses["204"]


def test_sending_errors_list_every_code_a_send_can_answer() -> None:
    responses = committed_document()["paths"]["/v1/email"]["post"]["responses"]
    codes = {status: error_codes(response) for status, response in responses.items() if int(status) >= 400}
    assert codes["403"] >= {"credential_suspended", "forbidden", "sender_not_allowed", "domain_not_verified"}
    assert codes["422"] == {"validation_error", "missing_template_data", "all_recipients_suppressed"}
    assert codes["429"] == {"rate_limited"}
    assert "Retry-After" in responses["429"]["headers"]


def examples_with_schemas() -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for method, path, operation in operations():
        request = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if request:
            for name, example in request.get("examples", {}).items():
                found.append((f"{method} {path} request {name}", request["schema"], example["value"]))
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                for name, example in media.get("examples", {}).items():
                    found.append((f"{method} {path} {status} {name}", media["schema"], example["value"]))
    return found


def test_every_request_and_answer_has_a_real_example() -> None:
    for method, path, operation in operations():
        request = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if request:
            assert request.get("examples"), f"{method} {path}: no request example"
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                assert media.get("examples"), f"{method} {path} {status}: no example"
    assert "additionalProp1" not in DOCUMENT_TEXT()


def test_every_example_matches_its_schema() -> None:
    document = committed_document()
    found = examples_with_schemas()
    assert len(found) > 50
    problems = [
        f"{where}: {error}"
        for where, schema, value in found
        for error in schema_errors(document, schema, value)
    ]
    assert problems == []


def test_an_example_that_breaks_its_schema_is_caught() -> None:
    document = committed_document()
    schema = {"$ref": "#/components/schemas/SendResult"}
    assert schema_errors(document, schema, {"message_id": "msg_1", "status": "sent", "count": "one"})


def test_tags_are_in_a_readers_order_sending_first() -> None:
    names = [tag["name"] for tag in committed_document()["tags"]]
    assert names[0] == "sending"
    order = [name for name, _ in TAGS]
    assert names == sorted(names, key=order.index)
    used = {tag for _, _, operation in operations() for tag in operation["tags"]}
    assert used == set(names)


def test_servers_are_relative_to_where_the_document_is_served() -> None:
    assert committed_document()["servers"] == [
        {"url": "..", "description": "The API that serves this document"}
    ]


def test_authenticated_answers_declare_the_rate_limit_fields_and_401_its_challenge() -> None:
    # The API's own answers to an authenticated request; 413, 429, 502 and 504 may be API Gateway's too,
    # which carry none.
    for method, path, operation in operations(compatible=False):
        for status, response in operation["responses"].items():
            headers = set(response.get("headers", {}))
            if (method, path) in PUBLIC or status in ("401", "500"):
                assert "RateLimit-Limit" not in headers, (method, path, status)
            elif status.startswith("2") or status in ("403", "404", "409", "422"):
                assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= headers, (
                    method,
                    path,
                    status,
                )
            if status == "401" and is_v1((method, path)):  # a vendor's 401 is as the vendor sends it
                assert "WWW-Authenticate" in headers, (method, path)


def test_every_operation_lists_what_api_gateway_answers_for_it() -> None:
    # template.yaml's GatewayResponses: throttling and failures on every route, 413 where there is a body.
    for method, path, operation in operations():
        responses = operation["responses"]
        assert {"429", "502", "504"} <= set(responses), (method, path)
        assert ("413" in responses) == ("requestBody" in operation), (method, path)
        assert "rate_limited" in error_codes(responses["429"])
        assert "Retry-After" in responses["429"]["headers"]


def test_the_gateway_answers_documented_are_the_templates_gateway_responses() -> None:
    import json as json_module

    from send_api.contract import GATEWAY_ANSWERS

    gateway = template.resources()["Api"]["Properties"]["GatewayResponses"]
    sent = {
        int(gateway[name]["StatusCode"]): json_module.loads(
            gateway[name]["ResponseTemplates"]["application/json"]
        )
        for name in ("THROTTLED", "REQUEST_TOO_LARGE")
    }
    documented = {
        status: {"error": {"code": code, "message": message}} for status, code, message, *_ in GATEWAY_ANSWERS
    }
    assert sent == {status: documented[status] for status in sent}
    assert (
        json_module.loads(gateway["DEFAULT_5XX"]["ResponseTemplates"]["application/json"]) == documented[502]
    )


def test_compatible_routes_have_their_vendors_key_short_ids_and_tags_and_keep_gateway_answers() -> None:
    """Each compatible route: its vendor's key header as its security, an explicit operation id, its own
    tag, its error statuses in the vendor's shape, and what API Gateway answers (Posthorn's shape) beside
    them in an anyOf."""
    document = committed_document()
    schemes = document["components"]["securitySchemes"]
    found = compatible_operations()
    assert {(method, path) for method, path, _ in found} >= {
        ("POST", "/zeptomail/v1.1/email"),
        ("POST", "/zeptomail/v1.1/email/batch"),
        ("POST", "/mailpace/api/v1/send"),
    }
    for method, path, operation in found:
        [security] = operation["security"]
        [name] = security
        assert schemes[name]["type"] in ("apiKey", "http"), (method, path)  # Resend's is a Bearer token
        assert operation["operationId"].replace("_", "").isalnum(), operation["operationId"]
        [tag] = operation["tags"]
        assert tag.startswith("compatible: ")
        assert {"401", "429", "500"} <= set(operation["responses"]), (method, path)
        schema = operation["responses"]["429"]["content"]["application/json"]["schema"]
        assert {"$ref": "#/components/schemas/ErrorObject"} in schema["anyOf"], (method, path)
    ids = {op["operationId"] for _, _, op in found}
    assert {"zeptomail_send_email", "zeptomail_send_batch", "mailpace_send"} <= ids
