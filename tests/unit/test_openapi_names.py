"""What a client generated from the OpenAPI document (docs/openapi.json) gets: method names a person would
write (`send_email`, `get_message`), not Powertools' generated ones
(`get_message_v1_messages__message_id__get`), and request types that take what the API takes (a recipient
may be a plain address string)."""

from __future__ import annotations

import re
from typing import Any

from tests.support.openapi_conformance import committed_document, schema_errors

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+){0,3}$")  # at most four words
MAX_LENGTH = 32


def operation_ids() -> list[tuple[str, str, str]]:
    paths = committed_document()["paths"]
    return [
        (method.upper(), path, op.get("operationId", ""))
        for path, ops in paths.items()
        for method, op in ops.items()
    ]


def test_every_operation_id_is_short_snake_case_without_the_path_or_method() -> None:
    bad = [
        (method, path, name)
        for method, path, name in operation_ids()
        if not SNAKE_CASE.match(name)
        or len(name) > MAX_LENGTH
        or "v1" in name.split("_")
        or name.endswith(("_get", "_post", "_patch", "_delete"))
    ]
    assert bad == [], "give the route operation_id= (a verb and a noun: send_email, list_messages)"


def test_operation_ids_are_unique() -> None:
    names = [name for _, _, name in operation_ids()]
    assert len(names) == len(set(names))


def test_the_main_operations_have_the_names_clients_expect() -> None:
    named = {(method, path): name for method, path, name in operation_ids()}
    assert named[("POST", "/v1/email")] == "send_email"
    assert named[("POST", "/v1/email/batch")] == "send_batch"
    assert named[("GET", "/v1/messages")] == "list_messages"
    assert named[("GET", "/v1/messages/{message_id}")] == "get_message"
    assert named[("GET", "/v1/stats")] == "get_stats"


def message(**fields: Any) -> dict[str, Any]:
    base = {"from_email": "hello@example.com", "to": ["a@example.net"], "subject": "Hi", "body_text": "Hello"}
    return {**base, **fields}


def test_recipients_are_documented_as_an_address_string_or_an_object() -> None:
    document = committed_document()
    schema = {"$ref": "#/components/schemas/SendEmailRequest"}
    for field in ("to", "cc", "bcc"):
        as_strings = message(**{field: ["jane@example.net", "Jane <jane@example.net>"]})
        as_objects = message(**{field: [{"email": "jane@example.net", "name": "Jane"}]})
        assert schema_errors(document, schema, as_strings) == [], field
        assert schema_errors(document, schema, as_objects) == [], field
        assert schema_errors(document, schema, message(**{field: [5]})), field


def test_from_email_is_optional_in_the_document_because_sender_defaults_may_supply_it() -> None:
    send = committed_document()["components"]["schemas"]["SendEmailRequest"]
    assert "from_email" not in send["required"]
    assert "sender_defaults" in send["properties"]["from_email"]["description"]
