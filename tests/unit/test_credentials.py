"""Credentials: hashing secrets, parsing Authorization headers, authenticating against a fake store."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from posthorn.errors import CredentialSuspended, Forbidden, NotFound, Unauthorized, ValidationFailed
from posthorn.logic.accounts.credentials import (
    authenticate,
    create_credential,
    hash_secret,
    parse_api_key,
    parse_authorization,
    require,
    rotate_secret,
    seed_credential,
    smtp_login,
    update_credential,
    verify_secret,
)
from posthorn.models.credentials import (
    CreateCredentialRequest,
    Credential,
    CredentialStatus,
    Permission,
    UpdateCredentialRequest,
)
from posthorn.models.domains import DomainStatus
from send_api.errors import http_status
from tests.support.fakes import FakeCredentialStore, FakeDomains
from tests.support.records import domain_record

PEPPER = b"pepper-for-tests"
NOW = datetime(2026, 1, 2, tzinfo=UTC)
KEY = "ph_user.s3cret-value"


def change_status(username: str, status: CredentialStatus, store: FakeCredentialStore) -> Credential:
    return update_credential(username, UpdateCredentialRequest(status=status), store, FakeDomains())


def basic(value: str) -> str:
    return "Basic " + base64.b64encode(value.encode()).decode()


@pytest.fixture
def store() -> FakeCredentialStore:
    store = FakeCredentialStore()
    seed_credential(
        store, PEPPER, KEY, name="app", permissions=[Permission.SEND], domains=["example.com"], now=NOW
    )
    return store


def test_hash_is_keyed_by_pepper_and_username() -> None:
    reference = hash_secret(PEPPER, "u", "s")
    assert reference == hash_secret(PEPPER, "u", "s")
    assert reference.startswith("hmac-sha256$")
    assert reference != hash_secret(b"other pepper", "u", "s")
    assert reference != hash_secret(PEPPER, "v", "s")


def test_stored_credential_holds_a_hash_not_the_secret(store: FakeCredentialStore) -> None:
    stored = store.credentials["ph_user"]
    assert "s3cret-value" not in stored.model_dump_json()
    assert stored.secret_hash == hash_secret(PEPPER, "ph_user", "s3cret-value")


def test_created_credential_returns_secret_once_and_stores_only_its_hash() -> None:
    store = FakeCredentialStore()
    created = create_credential(
        CreateCredentialRequest(name="app", domains=["Example.COM"], permissions=["send", "send"]),
        store,
        FakeDomains.of(domain_record("example.com")),
        PEPPER,
        NOW,
    )
    assert created.api_key == f"{created.username}.{created.secret}"
    assert created.domains == ["example.com"]
    assert created.permissions == [Permission.SEND]
    stored = store.credentials[created.username]
    assert created.secret not in stored.model_dump_json()
    assert authenticate(f"Bearer {created.api_key}", store, PEPPER, now=NOW).username == created.username


def test_a_credential_for_an_unregistered_domain_is_refused_and_nothing_is_stored() -> None:
    store = FakeCredentialStore()
    domains = FakeDomains.of(domain_record("example.com"))
    request = CreateCredentialRequest(
        name="app", domains=["example.org", "example.com"], permissions=["send"]
    )
    with pytest.raises(ValidationFailed) as caught:
        create_credential(request, store, domains, PEPPER, NOW)
    [detail] = caught.value.details
    assert detail["field"] == "domains[0]"
    assert "example.org" in detail["message"]
    assert store.credentials == {}


def test_the_unregistered_domain_is_named_by_its_index() -> None:
    domains = FakeDomains.of(domain_record("example.com"))
    request = CreateCredentialRequest(
        name="app", domains=["example.com", "example.org"], permissions=["send"]
    )
    with pytest.raises(ValidationFailed) as caught:
        create_credential(request, FakeCredentialStore(), domains, PEPPER, NOW)
    assert [detail["field"] for detail in caught.value.details] == ["domains[1]"]


def test_a_pending_domain_is_registered_enough_for_a_credential() -> None:
    domains = FakeDomains.of(domain_record("example.com", status=DomainStatus.PENDING))
    request = CreateCredentialRequest(name="app", domains=["example.com"], permissions=["send"])
    created = create_credential(request, FakeCredentialStore(), domains, PEPPER, NOW)
    assert created.domains == ["example.com"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer ph_user.s3cret", ("ph_user", "s3cret")),
        ("bearer   ph_user.s3cret.with.dots  ", ("ph_user", "s3cret.with.dots")),
        (basic("ph_user:s3cret"), ("ph_user", "s3cret")),
        (basic("ph_user:pass:with:colons"), ("ph_user", "pass:with:colons")),
        ("BASIC " + base64.b64encode(b"u:p").decode(), ("u", "p")),
    ],
)
def test_authorization_header_forms(header: str, expected: tuple[str, str]) -> None:
    assert parse_authorization(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer nodot",
        "Bearer .secret",
        "Bearer user.",
        "Token ph_user.s3cret",
        "ph_user.s3cret",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic " + base64.b64encode(b"user:").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic ñññ",
        "Basic dXNlcjpwYXNz\u00e9",
    ],
)
def test_malformed_authorization_is_unauthorized(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        parse_authorization(header)


def test_parse_api_key_splits_at_the_first_dot() -> None:
    assert parse_api_key("ph_a.b.c") == ("ph_a", "b.c")


def test_bearer_and_basic_authenticate_the_same_credential(store: FakeCredentialStore) -> None:
    by_bearer = authenticate(f"Bearer {KEY}", store, PEPPER, now=NOW)
    by_basic = authenticate(basic("ph_user:s3cret-value"), store, PEPPER, now=NOW)
    assert by_bearer.username == by_basic.username == "ph_user"


def test_wrong_secret_is_unauthorized(store: FakeCredentialStore) -> None:
    with pytest.raises(Unauthorized, match="wrong secret"):
        authenticate("Bearer ph_user.wrong", store, PEPPER, now=NOW)


def test_unknown_username_is_unauthorized_with_the_same_message(store: FakeCredentialStore) -> None:
    with pytest.raises(Unauthorized, match="wrong secret"):
        authenticate("Bearer ph_nobody.s3cret-value", store, PEPPER, now=NOW)


def test_overlong_username_is_unauthorized_without_a_lookup(store: FakeCredentialStore) -> None:
    with pytest.raises(Unauthorized):
        authenticate("Bearer " + "u" * 3000 + ".secret", store, PEPPER, now=NOW)
    assert store.lookups == []


def test_revoked_credential_is_unauthorized(store: FakeCredentialStore) -> None:
    change_status("ph_user", CredentialStatus.REVOKED, store)
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(f"Bearer {KEY}", store, PEPPER, now=NOW)


def test_suspended_credential_is_credential_suspended(store: FakeCredentialStore) -> None:
    change_status("ph_user", CredentialStatus.SUSPENDED, store)
    with pytest.raises(CredentialSuspended) as caught:
        authenticate(f"Bearer {KEY}", store, PEPPER, now=NOW)
    assert (http_status(caught.value), caught.value.code) == (403, "credential_suspended")


def test_suspended_credential_with_wrong_secret_is_unauthorized(store: FakeCredentialStore) -> None:
    change_status("ph_user", CredentialStatus.SUSPENDED, store)
    with pytest.raises(Unauthorized):
        authenticate("Bearer ph_user.wrong", store, PEPPER, now=NOW)


def test_missing_permission_is_forbidden(store: FakeCredentialStore) -> None:
    credential = store.credentials["ph_user"]
    require(credential, Permission.SEND)
    with pytest.raises(Forbidden) as caught:
        require(credential, Permission.ADMIN)
    assert (http_status(caught.value), caught.value.code) == (403, "forbidden")


def test_owns_domain_is_case_insensitive(store: FakeCredentialStore) -> None:
    credential = store.credentials["ph_user"]
    assert credential.owns_domain("EXAMPLE.com")
    assert not credential.owns_domain("sub.example.com")


# --- status changes -----------------------------------------------------------------------------------
def test_suspending_a_credential_stores_and_returns_its_new_status(store: FakeCredentialStore) -> None:
    updated = change_status("ph_user", CredentialStatus.SUSPENDED, store)
    assert updated.status is CredentialStatus.SUSPENDED
    assert store.credentials["ph_user"].status is CredentialStatus.SUSPENDED


def test_a_suspended_credential_can_be_reactivated(store: FakeCredentialStore) -> None:
    change_status("ph_user", CredentialStatus.SUSPENDED, store)
    assert change_status("ph_user", CredentialStatus.ACTIVE, store).status is CredentialStatus.ACTIVE
    assert authenticate(f"Bearer {KEY}", store, PEPPER, now=NOW).username == "ph_user"


@pytest.mark.parametrize("status", [CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED])
def test_a_revoked_credential_cannot_be_reactivated(
    store: FakeCredentialStore, status: CredentialStatus
) -> None:
    change_status("ph_user", CredentialStatus.REVOKED, store)
    with pytest.raises(ValidationFailed) as caught:
        change_status("ph_user", status, store)
    assert [detail["field"] for detail in caught.value.details] == ["status"]
    assert store.credentials["ph_user"].status is CredentialStatus.REVOKED


def test_revoking_a_revoked_credential_again_is_allowed(store: FakeCredentialStore) -> None:
    change_status("ph_user", CredentialStatus.REVOKED, store)
    assert change_status("ph_user", CredentialStatus.REVOKED, store).status is CredentialStatus.REVOKED


def test_changing_the_status_of_an_unknown_username_is_not_found(store: FakeCredentialStore) -> None:
    with pytest.raises(NotFound):
        change_status("ph_nobody", CredentialStatus.SUSPENDED, store)
    assert set(store.credentials) == {"ph_user"}


# --- verifying a (username, secret) pair ----------------------------------------------------------------
def test_verify_secret_returns_the_active_credential(store: FakeCredentialStore) -> None:
    assert verify_secret("ph_user", "s3cret-value", store, PEPPER, now=NOW).username == "ph_user"


def test_unknown_user_and_wrong_secret_get_the_same_answer(store: FakeCredentialStore) -> None:
    with pytest.raises(Unauthorized) as unknown:
        verify_secret("ph_nobody", "s3cret-value", store, PEPPER, now=NOW)
    with pytest.raises(Unauthorized) as wrong:
        verify_secret("ph_user", "wrong", store, PEPPER, now=NOW)
    assert type(unknown.value) is type(wrong.value)
    assert unknown.value.message == wrong.value.message
    assert unknown.value.code == wrong.value.code
    assert unknown.value.details == wrong.value.details


def test_unknown_user_and_wrong_secret_take_the_same_path(
    store: FakeCredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each asks the store once and hashes the secret once: a miss costs what a wrong secret costs."""
    from posthorn.logic.accounts import credentials

    hashed: list[str] = []

    def counting_hash(pepper: bytes, username: str, secret: str) -> str:
        hashed.append(username)
        return hash_secret(pepper, username, secret)

    monkeypatch.setattr(credentials, "hash_secret", counting_hash)
    for username, secret in [("ph_nobody", "s3cret-value"), ("ph_user", "wrong")]:
        store.lookups.clear()
        hashed.clear()
        with pytest.raises(Unauthorized):
            verify_secret(username, secret, store, PEPPER, now=NOW)
        assert store.lookups == [username]
        assert hashed == [username]


# --- changing a credential and rotating its secret ---------------------------------------------------
def test_update_changes_only_the_fields_given(store: FakeCredentialStore) -> None:
    domains = FakeDomains.of(domain_record("example.com"), domain_record("other.example"))
    request = UpdateCredentialRequest.model_validate({"name": "billing", "domains": ["Other.Example"]})
    updated = update_credential("ph_user", request, store, domains)
    assert (updated.name, updated.domains) == ("billing", ["other.example"])
    assert updated.permissions == [Permission.SEND]
    assert updated.secret_hash == hash_secret(PEPPER, "ph_user", "s3cret-value")


def test_update_to_an_unregistered_domain_is_refused_and_changes_nothing(store: FakeCredentialStore) -> None:
    request = UpdateCredentialRequest.model_validate({"domains": ["example.com", "nowhere.example"]})
    with pytest.raises(ValidationFailed) as caught:
        update_credential("ph_user", request, store, FakeDomains.of(domain_record("example.com")))
    assert [detail["field"] for detail in caught.value.details] == ["domains[1]"]
    assert store.credentials["ph_user"].domains == ["example.com"]


def test_a_rotated_secret_replaces_the_old_one_at_once(store: FakeCredentialStore) -> None:
    rotated = rotate_secret("ph_user", 0, store, PEPPER, NOW)
    assert verify_secret("ph_user", rotated.secret, store, PEPPER, now=NOW).username == "ph_user"
    with pytest.raises(Unauthorized):
        verify_secret("ph_user", "s3cret-value", store, PEPPER, now=NOW)
    assert rotated.secret not in store.credentials["ph_user"].model_dump_json()


def test_the_old_secret_works_until_its_overlap_ends_and_not_a_moment_longer(
    store: FakeCredentialStore,
) -> None:
    rotated = rotate_secret("ph_user", 60, store, PEPPER, NOW)
    just_before = NOW + timedelta(seconds=59, microseconds=999_999)
    assert verify_secret("ph_user", "s3cret-value", store, PEPPER, now=just_before).username == "ph_user"
    with pytest.raises(Unauthorized):
        verify_secret("ph_user", "s3cret-value", store, PEPPER, now=NOW + timedelta(seconds=60))
    assert verify_secret("ph_user", rotated.secret, store, PEPPER, now=NOW + timedelta(days=1)).username


def test_a_wrong_secret_is_refused_during_an_overlap(store: FakeCredentialStore) -> None:
    rotate_secret("ph_user", 600, store, PEPPER, NOW)
    with pytest.raises(Unauthorized, match="wrong secret"):
        verify_secret("ph_user", "neither", store, PEPPER, now=NOW)


def test_a_revoked_credential_gets_no_new_secret(store: FakeCredentialStore) -> None:
    change_status("ph_user", CredentialStatus.REVOKED, store)
    before = store.credentials["ph_user"].secret_hash
    with pytest.raises(ValidationFailed):
        rotate_secret("ph_user", 0, store, PEPPER, NOW)
    assert store.credentials["ph_user"].secret_hash == before


@pytest.mark.parametrize(
    "username", ["posthorn", "emailapikey", "hello@example.com", "ph_app.secret-part", "anything"]
)
def test_an_smtp_password_that_is_the_whole_api_key_takes_any_username(username: str) -> None:
    """docs/api.md, "SMTP relay": the vendors' documented logins (ZeptoMail's `emailapikey` or the From
    address, MailPace's api_key twice, Posthorn's `posthorn`) all work with the api_key as password."""
    assert smtp_login(username, "ph_app.secret-part") == ("ph_app", "secret-part")


def test_an_smtp_login_with_username_and_secret_is_read_as_written() -> None:
    assert smtp_login("ph_app", "secret-part") == ("ph_app", "secret-part")
