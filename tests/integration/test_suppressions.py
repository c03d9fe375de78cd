"""Suppression: from a permanent bounce to a refused send, the API routes, and tenant isolation."""

from __future__ import annotations

import json
from pathlib import Path

from posthorn_local.apigw import LambdaContext
from posthorn_local.ses_smtp_server import LocalSes
from tests.support.api import ApiClient

EVENTS = Path(__file__).resolve().parents[2] / "events"


def message(to: list[str]) -> dict[str, object]:
    return {"from_email": "hello@example.com", "to": to, "subject": "Hi", "body_text": "Hello"}


def bounce(message_id: str, ses_message_id: str, recipient: str) -> None:
    """Deliver the documented permanent-bounce notification, re-addressed to this message."""
    from ses_events.handler import lambda_handler

    event = json.loads((EVENTS / "sns_event_bounce_permanent.json").read_text())
    text = event["Records"][0]["Sns"]["Message"]
    text = text.replace("msg_01JTESTFIXTURE0000000000", message_id)
    text = text.replace("010001234567890a-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000", ses_message_id)
    event["Records"][0]["Sns"]["Message"] = text.replace("user@example.net", recipient)
    lambda_handler(event, LambdaContext())


def test_bounced_recipient_is_suppressed_and_the_next_send_refused(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    first = api.post("/v1/email", message(["gone@example.net"]), api_key=sender_key)
    assert first.status == 200
    bounce(first.json["message_id"], local_ses.outbox.list()[0].ses_message_id, "gone@example.net")

    view = api.get(f"/v1/messages/{first.json['message_id']}", api_key=sender_key).json
    assert view["recipients"][0]["status"] == "bounced"
    listed = api.get("/v1/suppressions", api_key=sender_key).json["suppressions"]
    assert [(s["email"], s["domain"], s["reason"]) for s in listed] == [
        ("gone@example.net", "example.com", "bounce")
    ]
    assert listed[0]["source_message_id"] == first.json["message_id"]

    refused = api.post("/v1/email", message(["gone@example.net"]), api_key=sender_key)
    assert refused.status == 422
    assert refused.error_code == "all_recipients_suppressed"

    partial = api.post("/v1/email", message(["gone@example.net", "fine@example.net"]), api_key=sender_key)
    assert partial.status == 200
    assert partial.json["count"] == 1
    assert {r["email"]: r["status"] for r in partial.json["recipients"]} == {
        "gone@example.net": "suppressed",
        "fine@example.net": "sent",
    }
    assert local_ses.outbox.list()[0].rcpt_to == ("fine@example.net",)


def test_manual_suppression_get_and_delete(api: ApiClient, sender_key: str) -> None:
    created = api.post(
        "/v1/suppressions", {"email": "Someone@Example.net", "reason": "manual"}, api_key=sender_key
    )
    assert created.status == 201, created.body
    assert created.json["reason"] == "manual"
    assert created.json["domain"] == "example.com"

    found = api.get("/v1/suppressions/someone@example.net", api_key=sender_key)
    assert found.status == 200
    assert [s["email"] for s in found.json["suppressions"]] == ["Someone@example.net"]
    assert api.post("/v1/email", message(["someone@example.net"]), api_key=sender_key).status == 422

    assert api.delete("/v1/suppressions/someone@example.net", api_key=sender_key).status == 204
    assert api.get("/v1/suppressions/someone@example.net", api_key=sender_key).status == 404
    assert api.delete("/v1/suppressions/someone@example.net", api_key=sender_key).status == 404
    assert api.post("/v1/email", message(["someone@example.net"]), api_key=sender_key).status == 200


def test_manual_suppression_with_bad_address_is_422(api: ApiClient, sender_key: str) -> None:
    response = api.post("/v1/suppressions", {"email": "not-an-address"}, api_key=sender_key)
    assert response.status == 422
    assert response.json["error"]["details"][0]["field"] == "email"


def test_other_tenants_see_nothing(api: ApiClient, admin: str, sender_key: str) -> None:
    assert api.post("/v1/domains", {"domain": "other.org"}, api_key=admin).status == 201
    other = api.post(
        "/v1/credentials",
        {"name": "other", "domains": ["other.org"], "permissions": ["send", "read"]},
        api_key=admin,
    ).json["api_key"]
    sent = api.post("/v1/email", message(["user@example.net"]), api_key=sender_key)
    assert api.post("/v1/suppressions", {"email": "x@example.net"}, api_key=sender_key).status == 201

    assert api.get(f"/v1/messages/{sent.json['message_id']}", api_key=other).status == 404
    assert api.get("/v1/suppressions", api_key=other).json == {"suppressions": [], "next_cursor": None}
    assert api.get("/v1/suppressions/x@example.net", api_key=other).status == 404
    assert api.delete("/v1/suppressions/x@example.net", api_key=other).status == 404
    assert api.get("/v1/suppressions", api_key=other, query="domain=example.com").status == 404
    assert api.get("/v1/suppressions/x@example.net", api_key=sender_key).status == 200


def test_suppression_changes_need_send_permission(api: ApiClient, admin: str, sender_key: str) -> None:
    reader = api.post(
        "/v1/credentials",
        {"name": "reader", "domains": ["example.com"], "permissions": ["read"]},
        api_key=admin,
    ).json["api_key"]
    assert api.get("/v1/suppressions", api_key=reader).status == 200
    denied = api.post("/v1/suppressions", {"email": "x@example.net"}, api_key=reader)
    assert denied.status == 403
    assert denied.error_code == "forbidden"


def test_suppressing_an_address_again_is_200_with_the_entry_already_there(
    api: ApiClient, sender_key: str
) -> None:
    first = api.post("/v1/suppressions", {"email": "again@example.net"}, api_key=sender_key)
    assert first.status == 201, first.body
    second = api.post("/v1/suppressions", {"email": "AGAIN@example.net"}, api_key=sender_key)
    assert second.status == 200, second.body
    assert second.json == first.json
    listed = api.get("/v1/suppressions/again@example.net", api_key=sender_key).json["suppressions"]
    assert len(listed) == 1
