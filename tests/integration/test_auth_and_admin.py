"""Authentication, permissions and the admin routes, through the real handler with moto tables."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from posthorn.models.domains import DomainRecord, DomainStatus
from posthorn_local.ses_smtp_server import LocalSes
from tests.conftest import ADMIN_KEY, Stack
from tests.support.api import ApiClient, ApiResponse, basic

MESSAGE = {"from_email": "hello@example.com", "to": ["user@example.net"], "subject": "Hi", "body_text": "x"}


def create_credential(
    api: ApiClient, admin: str, permissions: list[str], domains: tuple[str, ...] = ("example.com",)
) -> dict[str, Any]:
    response = api.post(
        "/v1/credentials", {"name": "t", "domains": list(domains), "permissions": permissions}, api_key=admin
    )
    assert response.status == 201, response.body
    return dict(response.json)


def assert_error(response: ApiResponse, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


def send(api: ApiClient, headers: dict[str, str], body: Any = MESSAGE) -> ApiResponse:
    return api.request("POST", "/v1/email", json_body=body, headers=headers)


def set_status(api: ApiClient, admin: str, username: str, status: str) -> ApiResponse:
    return api.patch(f"/v1/credentials/{username}", {"status": status}, api_key=admin)


# --- authentication ---------------------------------------------------------------------------------
def test_send_without_authorization_is_401(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    assert_error(send(api, {}), 401, "unauthorized")
    assert len(local_ses.outbox) == 0


def test_send_with_wrong_secret_is_401(api: ApiClient, sender_key: str) -> None:
    username = sender_key.split(".", 1)[0]
    assert_error(send(api, {"Authorization": f"Bearer {username}.wrong-secret"}), 401, "unauthorized")


def test_send_with_unknown_username_is_401(api: ApiClient, sender_key: str) -> None:
    secret = sender_key.split(".", 1)[1]
    assert_error(send(api, {"Authorization": f"Bearer ph_nobody.{secret}"}), 401, "unauthorized")


def test_bearer_and_basic_both_authenticate(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    username, secret = sender_key.split(".", 1)
    assert send(api, {"Authorization": f"Bearer {sender_key}"}).status == 200
    assert send(api, basic(username, secret)).status == 200
    assert len(local_ses.outbox) == 2


MALFORMED_AUTHORIZATION = [
    "Basic not-base64!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic " + base64.b64encode(b":only-secret").decode(),
    "Basic ñññ",
    "Bearer no-dot",
    "Bearer " + "x" * 5000 + ".secret",
    "Digest abc",
    "Bearer",
]


def test_malformed_authorization_is_401(api: ApiClient, sender_key: str) -> None:
    answers = [(header[:20], send(api, {"Authorization": header})) for header in MALFORMED_AUTHORIZATION]
    assert [(h, r.status, r.json["error"]["code"]) for h, r in answers] == [
        (h, 401, "unauthorized") for h, _ in answers
    ]


def test_unauthenticated_request_with_invalid_body_is_401_not_422(api: ApiClient, sender_key: str) -> None:
    username = sender_key.split(".", 1)[0]
    invalid = {"to": "nobody"}
    assert_error(send(api, {}, invalid), 401, "unauthorized")
    assert_error(send(api, {"Authorization": f"Bearer {username}.wrong"}, invalid), 401, "unauthorized")
    not_json = api.request("POST", "/v1/email", raw=b"{oops", headers={})
    assert_error(not_json, 401, "unauthorized")


def test_suspended_credential_is_403_and_can_be_reactivated(
    api: ApiClient, admin: str, sender_key: str, local_ses: LocalSes
) -> None:
    username = sender_key.split(".", 1)[0]
    suspended = set_status(api, admin, username, "suspended")
    assert suspended.status == 200, suspended.body
    assert suspended.json["status"] == "suspended"
    assert_error(send(api, {"Authorization": f"Bearer {sender_key}"}), 403, "credential_suspended")
    assert_error(send(api, {"Authorization": f"Bearer {sender_key}"}, {"x": 1}), 403, "credential_suspended")
    assert_error(send(api, {"Authorization": f"Bearer {username}.wrong"}), 401, "unauthorized")

    assert set_status(api, admin, username, "active").status == 200
    assert send(api, {"Authorization": f"Bearer {sender_key}"}).status == 200
    assert len(local_ses.outbox) == 1


def test_revoked_credential_is_401_and_cannot_be_reactivated(
    api: ApiClient, admin: str, sender_key: str
) -> None:
    username = sender_key.split(".", 1)[0]
    assert set_status(api, admin, username, "revoked").json["status"] == "revoked"
    assert_error(send(api, {"Authorization": f"Bearer {sender_key}"}), 401, "unauthorized")

    for status in ("active", "suspended"):
        refused = set_status(api, admin, username, status)
        assert_error(refused, 422, "validation_error")
    listed = api.get("/v1/credentials", api_key=admin).json["credentials"]
    assert {c["username"]: c["status"] for c in listed}[username] == "revoked"


def test_patch_with_unknown_status_is_422_and_unknown_username_is_404(api: ApiClient, admin: str) -> None:
    assert_error(set_status(api, admin, "ph_nobody", "suspended"), 404, "not_found")
    admin_username = ADMIN_KEY.split(".", 1)[0]
    assert_error(set_status(api, admin, admin_username, "paused"), 422, "validation_error")


# --- permissions and sender checks -------------------------------------------------------------------
def test_credential_without_send_permission_is_403_forbidden(
    api: ApiClient, admin: str, sender_key: str
) -> None:
    reader = create_credential(api, admin, ["read"])
    headers = {"Authorization": f"Bearer {reader['api_key']}"}
    assert_error(send(api, headers), 403, "forbidden")
    assert_error(send(api, headers, {"to": 1}), 403, "forbidden")


def test_admin_routes_are_403_for_a_send_credential(api: ApiClient, sender_key: str) -> None:
    calls = [
        ("POST", "/v1/domains", {"domain": "new.example"}),
        ("GET", "/v1/domains/example.com", None),
        ("POST", "/v1/credentials", {"name": "x", "domains": [], "permissions": ["admin"]}),
        ("GET", "/v1/credentials", None),
        ("PATCH", f"/v1/credentials/{sender_key.split('.', 1)[0]}", {"status": "active"}),
    ]
    for method, path, body in calls:
        response = api.request(method, path, json_body=body, api_key=sender_key)
        assert (response.status, response.json["error"]["code"]) == (403, "forbidden"), (method, path)


def test_send_from_a_domain_not_on_the_credential_is_403(api: ApiClient, admin: str, sender_key: str) -> None:
    assert api.post("/v1/domains", {"domain": "other.example"}, api_key=admin).status == 201
    body = {**MESSAGE, "from_email": "hello@other.example"}
    assert_error(send(api, {"Authorization": f"Bearer {sender_key}"}, body), 403, "sender_not_allowed")


def test_send_from_a_pending_domain_is_403_domain_not_verified(
    api: ApiClient, admin: str, local_ses: LocalSes
) -> None:
    from posthorn import wiring

    wiring.domains().put_domain(
        DomainRecord(
            domain="pending.example",
            status=DomainStatus.PENDING,
            dns_records=[],
            created_at=datetime.now(UTC),
        )
    )
    key = create_credential(api, admin, ["send"], ("pending.example",))["api_key"]
    body = {**MESSAGE, "from_email": "hello@pending.example"}
    assert_error(send(api, {"Authorization": f"Bearer {key}"}, body), 403, "domain_not_verified")
    assert len(local_ses.outbox) == 0


def test_message_of_another_credentials_domain_is_404(api: ApiClient, admin: str, sender_key: str) -> None:
    sent = send(api, {"Authorization": f"Bearer {sender_key}"})
    assert api.post("/v1/domains", {"domain": "other.example"}, api_key=admin).status == 201
    stranger = create_credential(api, admin, ["read"], ("other.example",))["api_key"]
    path = f"/v1/messages/{sent.json['message_id']}"
    assert api.get(path, api_key=sender_key).status == 200
    assert_error(api.get(path, api_key=stranger), 404, "not_found")
    assert_error(api.get("/v1/messages/msg_unknown", api_key=sender_key), 404, "not_found")


# --- credentials and secrets -------------------------------------------------------------------------
def test_created_credential_shows_its_secret_once(api: ApiClient, admin: str, sender_key: str) -> None:
    created = create_credential(api, admin, ["send", "read"])
    assert created["api_key"] == f"{created['username']}.{created['secret']}"
    assert len(created["secret"]) >= 32
    assert created["status"] == "active"
    assert created["domains"] == ["example.com"]
    assert "secret_hash" not in created


def test_secrets_are_never_stored_in_plain_text(
    api: ApiClient, admin: str, sender_key: str, stack: Stack
) -> None:
    other = create_credential(api, admin, ["send"])
    items = json.dumps(stack.session.client("dynamodb").scan(TableName=stack.table)["Items"])
    for key in (ADMIN_KEY, sender_key, other["api_key"]):
        secret = key.split(".", 1)[1]
        assert secret not in items
    assert items.count("hmac-sha256$") == 3


def test_list_credentials_never_returns_secrets(api: ApiClient, admin: str, sender_key: str) -> None:
    response = api.get("/v1/credentials", api_key=admin)
    assert response.status == 200, response.body
    credentials = response.json["credentials"]
    assert len(credentials) == 2
    for credential in credentials:
        assert not {"secret", "secret_hash", "api_key"} & set(credential)
    text = response.body.decode()
    assert sender_key.split(".", 1)[1] not in text
    assert "hmac-sha256" not in text


def test_credential_for_an_unregistered_domain_is_422(api: ApiClient, admin: str) -> None:
    response = api.post(
        "/v1/credentials",
        {"name": "x", "domains": ["nowhere.example"], "permissions": ["send"]},
        api_key=admin,
    )
    assert_error(response, 422, "validation_error")
    assert response.json["error"]["details"][0]["field"] == "domains[0]"


def test_health_needs_no_credential(api: ApiClient) -> None:
    response = api.get("/v1/health")
    assert (response.status, response.json) == (200, {"status": "ok"})
