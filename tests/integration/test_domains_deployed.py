"""Domains as deployed (AUTO_VERIFY_DOMAINS=false): the SES identity is created in SESv2 (moto) and a
pending domain cannot send."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.support.api import ApiClient


@pytest.fixture
def deployed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    from posthorn import wiring

    monkeypatch.setenv("AUTO_VERIFY_DOMAINS", "false")
    wiring.reset()
    return stack


def test_new_domain_creates_the_ses_identity_and_is_pending(
    deployed: Stack, api: ApiClient, admin: str
) -> None:
    created = api.post("/v1/domains", {"domain": "Example.ORG"}, api_key=admin)
    assert created.status == 201, created.body
    assert created.json["domain"] == "example.org"
    assert created.json["status"] == "pending"
    assert {
        "type": "TXT",
        "name": "_dmarc.example.org",
        "value": "v=DMARC1; p=none;",
        "purpose": "dmarc",
    } in (created.json["dns_records"])
    identity = deployed.session.client("sesv2").get_email_identity(EmailIdentity="example.org")
    assert identity["IdentityType"] == "DOMAIN"
    assert api.get("/v1/domains/example.org", api_key=admin).json["status"] == "pending"


def test_pending_domain_cannot_send(deployed: Stack, api: ApiClient, admin: str) -> None:
    assert api.post("/v1/domains", {"domain": "example.org"}, api_key=admin).status == 201
    key = api.post(
        "/v1/credentials", {"name": "app", "domains": ["example.org"], "permissions": ["send"]}, api_key=admin
    ).json["api_key"]
    response = api.post(
        "/v1/email",
        {"from_email": "a@example.org", "to": ["b@example.net"], "subject": "Hi", "body_text": "x"},
        api_key=key,
    )
    assert response.status == 403
    assert response.error_code == "domain_not_verified"


def test_unknown_domain_is_404(deployed: Stack, api: ApiClient, admin: str) -> None:
    response = api.get("/v1/domains/nowhere.example", api_key=admin)
    assert response.status == 404
    assert response.error_code == "not_found"
