"""The checker the e2e suite runs on every answer (tests/support/openapi_conformance.py) refuses what the
committed document does not say: a status not listed, a body off its schema, an error code not named."""

from __future__ import annotations

import json

from tests.support.openapi_conformance import path_template, violations

SENT = {
    "message_id": "msg_1",
    "status": "sent",
    "count": 1,
    "recipients": [{"email": "a@example.net", "type": "to", "status": "sent"}],
}


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_a_listed_status_with_a_matching_body_conforms() -> None:
    assert violations("POST", "/v1/email", 200, "application/json", body(SENT)) == []


def test_a_status_the_operation_does_not_list_is_a_violation() -> None:
    (problem,) = violations("DELETE", "/v1/suppressions/{email}", 200, "application/json", body({}))
    assert "status 200 is not listed for DELETE /v1/suppressions/{email}" in problem


def test_powertools_detail_body_is_a_violation_of_the_error_object() -> None:
    detail = {"detail": [{"loc": ["body", "to"], "type": "missing"}]}
    problems = violations("POST", "/v1/email", 422, "application/json", body(detail))
    assert any("'error' is a required property" in problem for problem in problems)


def test_an_error_code_the_status_does_not_name_is_a_violation() -> None:
    error = {"error": {"code": "rate_limited", "message": "slow down"}}
    (problem,) = violations("GET", "/v1/messages/msg_1", 403, "application/json", body(error))
    assert "code 'rate_limited' is not among the listed" in problem


def test_a_body_on_a_204_is_a_violation() -> None:
    assert violations("DELETE", "/v1/files/fk_1", 204, "", b"") == []
    assert violations("DELETE", "/v1/files/fk_1", 204, "application/json", b"{}")


def test_a_success_body_off_its_schema_is_a_violation() -> None:
    problems = violations("POST", "/v1/email", 200, "application/json", body({**SENT, "count": "one"}))
    assert any("count" in problem for problem in problems)


def test_request_paths_map_to_the_documents_templates_literal_paths_first() -> None:
    assert path_template("/v1/email/batch") == "/v1/email/batch"
    assert path_template("/v1/messages/msg_01") == "/v1/messages/{message_id}"
    assert path_template("/v1/suppressions/a%40b.example?domain=x") == "/v1/suppressions/{email}"
    assert path_template("/v1/nothing/here") is None
