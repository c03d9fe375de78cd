"""The API Gateway samples in events/ (the ones `sam local invoke -e` takes) through the real handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from posthorn.models.credentials import Permission
from posthorn_local.ses_smtp_server import LocalSes
from tests.support.api import ApiClient
from tests.support.api_events import SAMPLE_API_KEY, render, samples

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture
def sample_credential(api: ApiClient, admin: str) -> None:
    """The credential the sample events carry, allowed to send for example.com."""
    from posthorn import wiring
    from posthorn.logic.accounts.credentials import seed_credential

    assert api.post("/v1/domains", {"domain": "example.com"}, api_key=admin).status == 201
    seed_credential(
        wiring.credentials(),
        wiring.pepper(),
        SAMPLE_API_KEY,
        name="sample",
        permissions=[Permission.SEND, Permission.READ, Permission.ADMIN],
        domains=["example.com"],
        now=datetime.now(UTC),
    )


def test_committed_samples_match_their_generator() -> None:
    for name, event in samples().items():
        assert (EVENTS / f"{name}.json").read_text() == render(event), f"regenerate events/{name}.json"


def test_health_sample_is_200(api: ApiClient) -> None:
    response = api.invoke_event(load("api_health"))
    assert response.status == 200
    assert response.json == {"status": "ok"}


def test_send_sample_sends_the_templated_message(
    api: ApiClient, sample_credential: None, local_ses: LocalSes
) -> None:
    response = api.invoke_event(load("api_send_email"))
    assert response.status == 200, response.body
    assert response.json["recipients"] == [{"email": "user@example.net", "type": "to", "status": "sent"}]
    [received] = local_ses.outbox.list()
    assert b"Subject: Welcome, John!" in received.raw


def test_invalid_send_sample_is_422_with_fields(api: ApiClient, sample_credential: None) -> None:
    response = api.invoke_event(load("api_send_email_invalid"))
    assert response.status == 422
    fields = {detail.get("field") for detail in response.json["error"]["details"]}
    assert {"from_email", "to[0].email", "subject"} <= fields


def test_get_message_sample_for_an_unknown_id_is_404(api: ApiClient, sample_credential: None) -> None:
    response = api.invoke_event(load("api_get_message"))
    assert response.status == 404
    assert response.error_code == "not_found"


def test_create_domain_sample_is_idempotent(api: ApiClient, sample_credential: None) -> None:
    response = api.invoke_event(load("api_create_domain"))
    assert response.status == 200  # example.com exists already: the same record, not a second one
    assert response.json["status"] == "verified"
    assert [record["purpose"] for record in response.json["dns_records"]] == ["dkim", "dkim", "dkim", "dmarc"]
