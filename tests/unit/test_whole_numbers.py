"""Request numbers are numbers: JSON `true` is not a rate limit of 1 or a file of 1 byte (pydantic's lax
int took it; found by Schemathesis), while `2.0` stays the integer JSON Schema says it is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from posthorn.models.credentials import CreateCredentialRequest
from posthorn.models.files import CreateUploadRequest

CREDENTIAL = {"name": "app", "domains": ["example.com"], "permissions": ["send"]}


def test_a_boolean_rate_limit_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        CreateCredentialRequest.model_validate({**CREDENTIAL, "rate_limit_per_second": True})
    assert refused.value.errors()[0]["loc"] == ("rate_limit_per_second",)
    assert "not true or false" in str(refused.value)


def test_a_boolean_upload_size_is_refused() -> None:
    with pytest.raises(ValidationError):
        CreateUploadRequest.model_validate({"name": "a.pdf", "size": True})


def test_an_integral_float_is_still_a_whole_number() -> None:
    assert (
        CreateCredentialRequest.model_validate(
            {**CREDENTIAL, "rate_limit_per_second": 2.0}
        ).rate_limit_per_second
        == 2
    )
    assert CreateUploadRequest.model_validate({"name": "a.pdf", "size": 7.0}).size == 7
