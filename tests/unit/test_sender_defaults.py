"""A credential's sender defaults (logic/sending/sender_defaults.py): what a message without From or Reply-To
gets, that a message naming its own keeps it, that a single send and a batch item are completed alike, and
that a default From must be on one of the credential's domains (when created and when changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest
from pydantic import ValidationError

from posthorn.errors import ValidationFailed
from posthorn.logic.accounts.credentials import create_credential, update_credential
from posthorn.logic.sending.batches import accept_batch
from posthorn.logic.sending.sender_defaults import with_sender_defaults
from posthorn.logic.sending.steps import prepare_message, send_email
from posthorn.models.credentials import (
    CreateCredentialRequest,
    Credential,
    Permission,
    SenderDefaults,
    UpdateCredentialRequest,
)
from posthorn.models.email import SendEmailRequest
from tests.support.bodies import email_body
from tests.support.fakes import FakeCredentialStore, FakeDomains, SendFakes
from tests.support.records import credential, domain_record

DEFAULTS = SenderDefaults(
    from_email="App@Example.com",
    from_name="Example App",
    reply_to_email="support@example.com",
    reply_to_name="Support",
)
NOW = datetime(2026, 1, 2, tzinfo=UTC)


def with_defaults(defaults: SenderDefaults | None = DEFAULTS) -> Credential:
    return credential().model_copy(update={"sender_defaults": defaults})


def request(**overrides: Any) -> SendEmailRequest:
    return SendEmailRequest.model_validate(email_body(**overrides))


def sender_fields(message: SendEmailRequest) -> tuple[Any, ...]:
    return (message.from_email, message.from_name, message.reply_to_email, message.reply_to_name)


# --- the rule ----------------------------------------------------------------------------------------------
def test_a_message_without_sender_or_reply_to_gets_every_default() -> None:
    completed = with_sender_defaults(request(from_email=...), with_defaults())
    assert sender_fields(completed) == ("App@example.com", "Example App", "support@example.com", "Support")


def test_a_message_naming_its_own_from_keeps_it_and_gets_no_default_name() -> None:
    completed = with_sender_defaults(request(from_email="news@example.com"), with_defaults())
    assert sender_fields(completed) == ("news@example.com", None, "support@example.com", "Support")


def test_a_message_naming_the_default_from_gets_the_default_name() -> None:
    completed = with_sender_defaults(request(from_email="app@example.com"), with_defaults())
    assert (completed.from_email, completed.from_name) == ("app@example.com", "Example App")


def test_a_message_with_its_own_names_and_reply_to_keeps_them() -> None:
    own = request(from_email=..., from_name="Billing", reply_to_email="billing@example.com")
    completed = with_sender_defaults(own, with_defaults())
    assert sender_fields(completed) == ("App@example.com", "Billing", "billing@example.com", None)


def test_a_default_name_without_a_default_address_names_every_sender() -> None:
    completed = with_sender_defaults(
        request(from_email="news@example.com"), with_defaults(SenderDefaults(from_name="Example"))
    )
    assert (completed.from_email, completed.from_name) == ("news@example.com", "Example")


def test_without_defaults_the_message_is_unchanged() -> None:
    message = request()
    assert with_sender_defaults(message, with_defaults(None)) is message


def test_a_default_reply_to_name_needs_a_default_reply_to_address() -> None:
    with pytest.raises(ValidationError, match="reply_to_name needs reply_to_email"):
        SenderDefaults(reply_to_name="Support")


def test_unset_defaults_are_left_out_of_what_is_shown_and_stored() -> None:
    assert SenderDefaults(from_email="a@example.com").model_dump(mode="json") == {
        "from_email": "a@example.com"
    }


# --- every entry point's use case completes the message ---------------------------------------------------
def test_a_single_send_without_from_goes_out_from_the_default() -> None:
    fakes = SendFakes()
    result = send_email(request(from_email=...), with_defaults(), fakes.context())
    assert result.status == "sent"
    [record] = fakes.messages.records.values()
    assert record.from_email == "App@example.com"
    mime = message_from_bytes(fakes.transport.messages[0], policy=policy.default)
    assert mime["From"] == "Example App <App@example.com>"
    assert mime["Reply-To"] == "Support <support@example.com>"


def test_without_a_default_a_message_without_from_is_422_naming_from_email() -> None:
    with pytest.raises(ValidationFailed) as raised:
        prepare_message(request(from_email=...), with_defaults(None), SendFakes().context())
    assert raised.value.details == [{"field": "from_email", "message": raised.value.details[0]["message"]}]
    assert "sender_defaults" in raised.value.message


def test_batch_items_get_the_defaults_and_one_without_any_from_is_rejected_at_its_index() -> None:
    fakes = SendFakes()
    items = [request(from_email=...), request(from_email="news@example.com")]
    result = accept_batch(items, with_defaults(), fakes.context())
    assert [r.status for r in result.results] == ["queued", "queued"]
    senders = {r.message_id: fakes.messages.records[r.message_id or ""].from_email for r in result.results}
    assert sorted(senders.values()) == ["App@example.com", "news@example.com"]

    refused = accept_batch([request(from_email=...), request()], with_defaults(None), fakes.context())
    assert [(r.status, r.error and r.error.code) for r in refused.results] == [
        ("rejected", "validation_error"),
        ("queued", None),
    ]
    first_error = refused.results[0].error
    assert first_error is not None
    assert first_error.details
    assert first_error.details[0].field == "from_email"


# --- a default From is the credential's to send from -------------------------------------------------------
def domains() -> FakeDomains:
    return FakeDomains.of(domain_record("example.com"), domain_record("example.org"))


def test_creating_a_credential_with_a_foreign_default_from_is_422_naming_it() -> None:
    body = CreateCredentialRequest(
        name="app",
        domains=["example.com"],
        permissions=[Permission.SEND],
        sender_defaults=SenderDefaults(from_email="hello@example.org"),
    )
    with pytest.raises(ValidationFailed) as raised:
        create_credential(body, FakeCredentialStore(), domains(), b"pepper", NOW)
    assert raised.value.details[0]["field"] == "sender_defaults.from_email"
    assert "example.org" in raised.value.message


def test_defaults_are_stored_shown_changed_and_cleared() -> None:
    store = FakeCredentialStore()
    body = CreateCredentialRequest(
        name="app", domains=["example.com"], permissions=[Permission.SEND], sender_defaults=DEFAULTS
    )
    created = create_credential(body, store, domains(), b"pepper", NOW)
    assert created.sender_defaults == DEFAULTS
    stored = store.get_credential(created.username)
    assert stored is not None
    assert stored.sender_defaults == DEFAULTS

    change = UpdateCredentialRequest.model_validate({"sender_defaults": {"from_name": "Renamed"}})
    updated = update_credential(created.username, change, store, domains())
    assert updated.sender_defaults == SenderDefaults(from_name="Renamed")

    cleared = update_credential(
        created.username, UpdateCredentialRequest.model_validate({"sender_defaults": None}), store, domains()
    )
    assert cleared.sender_defaults is None


def test_removing_the_default_froms_domain_from_the_credential_is_422_naming_the_default() -> None:
    store = FakeCredentialStore()
    body = CreateCredentialRequest(
        name="app",
        domains=["example.com", "example.org"],
        permissions=[Permission.SEND],
        sender_defaults=SenderDefaults(from_email="hello@example.org"),
    )
    created = create_credential(body, store, domains(), b"pepper", NOW)
    with pytest.raises(ValidationFailed) as raised:
        update_credential(
            created.username, UpdateCredentialRequest(domains=["example.com"]), store, domains()
        )
    assert raised.value.details[0]["field"] == "sender_defaults.from_email"
    stored = store.get_credential(created.username)
    assert stored is not None
    assert stored.domains == ["example.com", "example.org"]
