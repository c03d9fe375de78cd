"""Administration that finishes the job (docs/api.md, "Administration"): listing and deleting domains, reading
and changing credentials, rotating secrets with an overlap; and what every authenticated answer carries
(`RateLimit-*`, `WWW-Authenticate` on a 401). Through the real handler with moto tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from posthorn_local.ses_smtp_server import LocalSes
from tests.conftest import Stack
from tests.support.api import ApiClient, ApiResponse
from tests.support.bodies import email_body

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class ManualClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock(stack: Stack) -> ManualClock:
    from posthorn import wiring

    manual = ManualClock()
    wiring.override(wiring.clock, manual)
    return manual


def error_of(response: ApiResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.json["error"]["code"] == code
    return dict(response.json["error"])


def fields_of(response: ApiResponse) -> list[str]:
    return [detail.get("field", "") for detail in response.json["error"].get("details", [])]


def add_domain(api: ApiClient, admin: str, domain: str) -> None:
    assert api.post("/v1/domains", {"domain": domain}, api_key=admin).status in (200, 201)


def new_credential(api: ApiClient, admin: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "app", "domains": ["example.com"], "permissions": ["send", "read"], **fields}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return dict(created.json)


def send(api: ApiClient, api_key: str, **fields: Any) -> ApiResponse:
    return api.post("/v1/email", email_body(**fields), api_key=api_key)


# --- domains ------------------------------------------------------------------------------------------
def test_domains_are_listed_in_the_order_registered(api: ApiClient, admin: str) -> None:
    for domain in ("b.example", "a.example", "c.example"):
        add_domain(api, admin, domain)
    listed = api.get("/v1/domains", api_key=admin)
    assert listed.status == 200
    assert [d["domain"] for d in listed.json["domains"]] == ["b.example", "a.example", "c.example"]
    assert all(d["status"] == "verified" and d["dns_records"] for d in listed.json["domains"])


def test_a_domain_no_credential_names_is_deleted_with_204(api: ApiClient, admin: str) -> None:
    add_domain(api, admin, "gone.example")
    deleted = api.delete("/v1/domains/gone.example", api_key=admin)
    assert (deleted.status, deleted.body) == (204, b"")
    error_of(api.get("/v1/domains/gone.example", api_key=admin), 404, "not_found")
    assert [d["domain"] for d in api.get("/v1/domains", api_key=admin).json["domains"]] == []
    error_of(api.delete("/v1/domains/gone.example", api_key=admin), 404, "not_found")


def test_a_domain_a_credential_names_is_409_until_the_credential_lets_it_go(
    api: ApiClient, admin: str
) -> None:
    add_domain(api, admin, "example.com")
    add_domain(api, admin, "other.example")
    created = new_credential(api, admin, domains=["example.com", "other.example"])
    error = error_of(api.delete("/v1/domains/other.example", api_key=admin), 409, "conflict")
    assert created["username"] in error["message"]
    patched = api.patch(f"/v1/credentials/{created['username']}", {"domains": ["example.com"]}, api_key=admin)
    assert patched.status == 200, patched.body
    assert api.delete("/v1/domains/other.example", api_key=admin).status == 204


# --- reading and changing credentials ---------------------------------------------------------------
def test_one_credential_is_shown_without_its_secret(api: ApiClient, admin: str) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin, rate_limit_per_second=5)
    shown = api.get(f"/v1/credentials/{created['username']}", api_key=admin)
    assert shown.status == 200
    assert shown.json == {
        key: created[key]
        for key in (
            "username",
            "name",
            "domains",
            "permissions",
            "status",
            "rate_limit_per_second",
            "sender_defaults",
            "created_at",
        )
    }
    assert created["secret"].encode() not in shown.body
    error_of(api.get("/v1/credentials/ph_nobody", api_key=admin), 404, "not_found")


def test_patch_changes_name_domains_permissions_and_rate_limit_and_they_take_effect(
    api: ApiClient, admin: str, local_ses: LocalSes
) -> None:
    add_domain(api, admin, "example.com")
    add_domain(api, admin, "other.example")
    created = new_credential(api, admin)
    path = f"/v1/credentials/{created['username']}"
    change = {
        "name": "billing",
        "domains": ["other.example"],
        "permissions": ["read"],
        "rate_limit_per_second": 3,
    }
    patched = api.patch(path, change, api_key=admin)
    assert patched.status == 200, patched.body
    assert {key: patched.json[key] for key in change} == change
    assert api.get(path, api_key=admin).json["name"] == "billing"
    error_of(send(api, created["api_key"], from_email="hello@other.example"), 403, "forbidden")
    back = api.patch(path, {"permissions": ["send"], "rate_limit_per_second": None}, api_key=admin)
    assert (back.json["permissions"], back.json["rate_limit_per_second"]) == (["send"], None)
    error_of(send(api, created["api_key"]), 403, "sender_not_allowed")
    assert send(api, created["api_key"], from_email="hello@other.example").status == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"domains": ["unregistered.example"]}, "domains[0]"),
        ({"domains": []}, "domains"),
        ({"permissions": []}, "permissions"),
        ({"permissions": ["root"]}, "permissions[0]"),
        ({"name": None}, "name"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"secret": "chosen"}, "secret"),
    ],
)
def test_patch_with_a_bad_field_is_422_naming_it_and_changes_nothing(
    api: ApiClient, admin: str, change: dict[str, Any], field: str
) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin)
    path = f"/v1/credentials/{created['username']}"
    response = api.patch(path, change, api_key=admin)
    error_of(response, 422, "validation_error")
    assert fields_of(response) == [field]
    shown = api.get(path, api_key=admin).json
    assert (shown["name"], shown["domains"], shown["permissions"], shown["rate_limit_per_second"]) == (
        "app",
        ["example.com"],
        ["send", "read"],
        None,
    )


def test_a_revoked_credential_stays_revoked_whatever_else_a_patch_says(api: ApiClient, admin: str) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin)
    path = f"/v1/credentials/{created['username']}"
    assert api.patch(path, {"status": "revoked"}, api_key=admin).status == 200
    response = api.patch(path, {"status": "active", "name": "back"}, api_key=admin)
    assert fields_of(response) == ["status"]
    assert api.get(path, api_key=admin).json["status"] == "revoked"


@pytest.mark.parametrize("domains", [[], None])
def test_a_credential_without_a_domain_is_refused(
    api: ApiClient, admin: str, domains: list[str] | None
) -> None:
    body: dict[str, Any] = {"name": "admin2", "permissions": ["admin"]}
    if domains is not None:
        body["domains"] = domains
    response = api.post("/v1/credentials", body, api_key=admin)
    error_of(response, 422, "validation_error")
    assert fields_of(response) == ["domains"]


# --- rotating a secret ------------------------------------------------------------------------------
def test_a_rotated_secret_replaces_the_old_one_at_once(api: ApiClient, admin: str) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin)
    rotated = api.post(f"/v1/credentials/{created['username']}/secret", api_key=admin)
    assert rotated.status == 201, rotated.body
    assert rotated.json["username"] == created["username"]
    assert rotated.json["api_key"] == f"{created['username']}.{rotated.json['secret']}"
    assert rotated.json["secret"] != created["secret"]
    assert send(api, rotated.json["api_key"]).status == 200
    error_of(send(api, created["api_key"]), 401, "unauthorized")


def test_the_old_secret_works_for_the_overlap_asked_for_then_stops(
    api: ApiClient, admin: str, clock: ManualClock
) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin)
    path = f"/v1/credentials/{created['username']}/secret"
    rotated = api.post(path, {"keep_old_seconds": 600}, api_key=admin)
    assert rotated.status == 201, rotated.body
    assert send(api, created["api_key"]).status == 200
    assert send(api, rotated.json["api_key"]).status == 200
    clock.moment += timedelta(seconds=601)
    error_of(send(api, created["api_key"]), 401, "unauthorized")
    assert send(api, rotated.json["api_key"]).status == 200
    # A second rotation without overlap ends the first one's at once.
    again = api.post(path, api_key=admin)
    error_of(send(api, rotated.json["api_key"]), 401, "unauthorized")
    assert send(api, again.json["api_key"]).status == 200


@pytest.mark.parametrize("keep", [-1, 86_401, 1.5, None, False, True])
def test_an_overlap_outside_0_to_86400_seconds_is_422(api: ApiClient, admin: str, keep: object) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin)
    response = api.post(
        f"/v1/credentials/{created['username']}/secret", {"keep_old_seconds": keep}, api_key=admin
    )
    error_of(response, 422, "validation_error")
    assert fields_of(response) == ["keep_old_seconds"]
    assert send(api, created["api_key"]).status == 200


def test_a_revoked_or_unknown_credential_gets_no_new_secret(api: ApiClient, admin: str) -> None:
    add_domain(api, admin, "example.com")
    created = new_credential(api, admin)
    assert (
        api.patch(f"/v1/credentials/{created['username']}", {"status": "revoked"}, api_key=admin).status
        == 200
    )
    error_of(
        api.post(f"/v1/credentials/{created['username']}/secret", api_key=admin), 422, "validation_error"
    )
    error_of(api.post("/v1/credentials/ph_nobody/secret", api_key=admin), 404, "not_found")


def test_the_new_administration_routes_need_admin(api: ApiClient, sender_key: str) -> None:
    username = sender_key.partition(".")[0]
    for method, path in [
        ("GET", "/v1/domains"),
        ("DELETE", "/v1/domains/example.com"),
        ("GET", f"/v1/credentials/{username}"),
        ("POST", f"/v1/credentials/{username}/secret"),
    ]:
        error_of(api.request(method, path, api_key=sender_key), 403, "forbidden")


# --- what every answer says -------------------------------------------------------------------------
def test_every_401_names_the_schemes_that_authenticate(api: ApiClient, sender_key: str) -> None:
    for headers in ({}, {"Authorization": "Bearer ph_x.wrong"}, {"Authorization": "Digest x"}):
        response = api.request("GET", "/v1/suppressions", headers=headers)
        error_of(response, 401, "unauthorized")
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        assert "Basic " in challenge


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "remaining"),
    [
        ("GET", "/v1/suppressions", None, 200, "1"),
        ("GET", "/v1/messages/msg_01JUNKNOWN000000000000000", None, 404, "1"),
        ("POST", "/v1/email", {"to": ["x"]}, 422, "1"),
        ("POST", "/v1/domains", {"domain": "x.example"}, 403, "1"),
        # A send refused after it was counted (the sender check comes after the rate) used the second.
        ("POST", "/v1/email", email_body(from_email="a@elsewhere.example"), 403, "0"),
    ],
)
def test_every_authenticated_answer_carries_the_rate_limit_fields(
    api: ApiClient,
    admin: str,
    sender_key: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    remaining: str,
) -> None:
    slow = new_credential(api, admin, rate_limit_per_second=2)["api_key"]
    assert send(api, slow).status == 200  # one message of two counted
    response = api.request(method, path, json_body=body, api_key=slow)
    assert response.status == status, response.body
    fields = {name: response.headers.get(f"RateLimit-{name}") for name in ("Limit", "Remaining", "Reset")}
    assert fields == {"Limit": "2", "Remaining": remaining, "Reset": "1"}


def test_an_unauthenticated_answer_has_no_rate_limit_fields(api: ApiClient) -> None:
    assert "RateLimit-Limit" not in api.get("/v1/suppressions").headers
    assert "RateLimit-Limit" not in api.get("/v1/health").headers


def test_the_51st_recipient_is_named_in_details(api: ApiClient, sender_key: str) -> None:
    body = email_body(
        to=[f"t{i}@example.net" for i in range(30)], cc=[f"c{i}@example.net" for i in range(25)]
    )
    response = send(api, sender_key, **{k: body[k] for k in ("to", "cc")})
    error_of(response, 422, "validation_error")
    assert fields_of(response) == ["cc[20]"]


# --- the file cache: attaching by key needs `send`, not `files` ----------------------------------------
def test_a_send_only_credential_attaches_a_file_another_credential_of_its_domain_uploaded(
    api: ApiClient, admin: str, local_ses: LocalSes
) -> None:
    add_domain(api, admin, "example.com")
    uploader = new_credential(api, admin, permissions=["files"])
    sender = new_credential(api, admin, permissions=["send"])
    upload = api.request(
        "POST",
        "/v1/files",
        raw=PDF,
        query="name=invoice.pdf",
        headers={"Content-Type": "application/pdf"},
        api_key=uploader["api_key"],
    )
    assert upload.status == 201, upload.body
    file_key = upload.json["file_key"]
    error_of(api.get(f"/v1/files/{file_key}", api_key=sender["api_key"]), 403, "forbidden")
    assert send(api, sender["api_key"], attachments=[{"file_key": file_key}]).status == 200
    [received] = local_ses.outbox.list()
    assert b"invoice.pdf" in received.raw
