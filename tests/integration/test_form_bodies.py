"""The API's bodies are JSON: a form body (urlencoded or multipart) is refused as a whole, never read as
the route's model, and a multipart type without a boundary is a 400, not Powertools' ValueError (500)."""

from __future__ import annotations

import pytest

from tests.support.api import ApiClient

FORM = b'--XX\r\nContent-Disposition: form-data; name="domain"\r\n\r\nexample.org\r\n--XX--\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b'{"domain": "example.org"}'),
        ("multipart/form-data; boundary=XX", FORM),
        ("application/x-www-form-urlencoded", b"domain=example.org"),
    ],
)
def test_a_form_body_is_invalid_json_and_registers_nothing(
    api: ApiClient, admin: str, content_type: str, body: bytes
) -> None:
    answer = api.request(
        "POST", "/v1/domains", raw=body, headers={"Content-Type": content_type}, api_key=admin
    )
    assert answer.status == 400, answer.body
    assert answer.error_code == "invalid_json"
    assert "Content-Type: application/json" in answer.json["error"]["message"]
    assert api.get("/v1/domains/example.org", api_key=admin).status == 404


def test_a_form_body_without_a_credential_is_401_first(api: ApiClient) -> None:
    answer = api.request(
        "POST", "/v1/domains", raw=b"{}", headers={"Content-Type": "multipart/form-data"}, api_key=None
    )
    assert answer.status == 401
