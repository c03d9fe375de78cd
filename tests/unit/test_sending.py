"""Sending one message (logic/sending/steps.py) with in-memory fakes: the checks that refuse it, what its
record
says, the SES headers of its MIME, and what becomes of it when SES is unavailable or refuses it."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest

from posthorn.errors import (
    AllRecipientsSuppressed,
    DomainNotVerified,
    SenderNotAllowed,
    UpstreamRejected,
    UpstreamUnavailable,
)
from posthorn.logic.sending.steps import prepare_message, send_email
from posthorn.models.domains import DomainStatus
from posthorn.models.email import SendEmailRequest
from posthorn.models.messages import MessageRecord
from posthorn.models.raw_message import RawMessage
from posthorn.models.send_queue import DeliveryReceipt
from tests.support.bodies import email_body
from tests.support.fakes import (
    FakeDomains,
    FakeMessages,
    FakeSendQueue,
    FakeTransport,
    FixedClock,
    SendFakes,
)
from tests.support.records import credential, domain_record

CREDENTIAL = credential()


@dataclass
class Fakes(SendFakes):
    """Everything sending talks to, in memory: example.com is registered and verified."""

    @property
    def record(self) -> MessageRecord:
        """The one message stored."""
        [record] = self.messages.records.values()
        return record


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def request(**overrides: Any) -> SendEmailRequest:
    """`POST /v1/email` from hello@example.com to user@example.net, with `overrides`."""
    return SendEmailRequest.model_validate(email_body(**overrides))


def parsed(raw: RawMessage | bytes) -> EmailMessage:
    data = raw if isinstance(raw, bytes) else raw.as_bytes()
    return cast(EmailMessage, message_from_bytes(data, policy=policy.default))


def message_tags(message: EmailMessage) -> list[tuple[str, str]]:
    """`X-SES-MESSAGE-TAGS: name=value, name=value` as (name, value) pairs; the header may be folded."""
    pairs = " ".join(str(message["X-SES-MESSAGE-TAGS"]).split()).split(",")
    return [(name.strip(), value.strip()) for name, _, value in (pair.partition("=") for pair in pairs)]


def assert_nothing_stored_or_sent(fakes: Fakes) -> None:
    assert fakes.messages.records == {}
    assert fakes.transport.sends == 0
    assert fakes.queue.queued == []


# --- the checks that refuse a message ---------------------------------------------------------------------
def test_a_foreign_sender_is_refused_and_nothing_is_stored(fakes: Fakes) -> None:
    fakes.domains.put_domain(domain_record("other.org"))
    with pytest.raises(SenderNotAllowed, match=r"other\.org"):
        send_email(request(from_email="hello@other.org"), CREDENTIAL, fakes.context())
    assert_nothing_stored_or_sent(fakes)
    assert fakes.domains.lookups == []  # a domain the credential does not own is never even read


def test_an_unverified_domain_is_refused_and_nothing_is_stored(fakes: Fakes) -> None:
    fakes.domains.put_domain(domain_record("example.com", status=DomainStatus.PENDING))
    with pytest.raises(DomainNotVerified, match=r"example\.com"):
        send_email(request(), CREDENTIAL, fakes.context())
    assert_nothing_stored_or_sent(fakes)


def test_an_owned_but_unregistered_domain_is_refused_as_not_verified() -> None:
    fakes = Fakes(domains=FakeDomains())
    with pytest.raises(DomainNotVerified):
        send_email(request(), CREDENTIAL, fakes.context())
    assert_nothing_stored_or_sent(fakes)
    assert fakes.domains.lookups == ["example.com"]


def test_all_recipients_suppressed_is_refused_and_nothing_is_stored(fakes: Fakes) -> None:
    fakes.suppressions.suppressions.update({"user@example.net", "b@example.net"})
    with pytest.raises(AllRecipientsSuppressed):
        send_email(request(to=["User@example.net"], cc=["b@example.net"]), CREDENTIAL, fakes.context())
    assert_nothing_stored_or_sent(fakes)
    assert fakes.suppressions.queries == [("example.com", ["User@example.net", "b@example.net"])]


# --- what the record says -------------------------------------------------------------------------------
def test_one_of_two_suppressed_is_recorded_suppressed_and_only_the_other_is_handed_to_ses(
    fakes: Fakes,
) -> None:
    fakes.suppressions.suppressions.add("user@example.net")
    result = send_email(request(to=["User@example.net", "b@example.net"]), CREDENTIAL, fakes.context())

    states = [(state.email, state.status) for state in fakes.record.recipients]
    assert states == [("User@example.net", "suppressed"), ("b@example.net", "queued")]
    assert fakes.transport.rcpt_to == [["b@example.net"]]
    assert fakes.messages.statuses[result.message_id] == {"b@example.net": "sent"}
    assert [(r.email, r.status) for r in result.recipients] == [
        ("User@example.net", "suppressed"),
        ("b@example.net", "sent"),
    ]
    assert result.count == 1


def test_tags_metadata_and_client_reference_land_on_the_record(fakes: Fakes) -> None:
    prepared = prepare_message(
        request(tags=["welcome", "beta"], metadata={"order_id": "12345"}, client_reference="order-12345"),
        CREDENTIAL,
        fakes.context(),
    )
    record = prepared.record
    assert record.tags == ["welcome", "beta"]
    assert record.metadata == {"order_id": "12345"}
    assert record.client_reference == "order-12345"
    assert (record.username, record.domain) == ("ph_app", "example.com")
    assert record.from_email == "hello@example.com"
    assert record.created_at == FixedClock().at
    assert record.status == "queued"
    assert [(s.email, s.type, s.status) for s in record.recipients] == [("user@example.net", "to", "queued")]


def test_the_mime_carries_the_message_id_and_the_tags_for_ses(fakes: Fakes) -> None:
    prepared = prepare_message(request(tags=["welcome", "beta"]), CREDENTIAL, fakes.context())
    assert message_tags(parsed(prepared.raw)) == [
        ("posthorn_message_id", prepared.message_id),
        ("welcome", "true"),
        ("beta", "true"),
    ]


@pytest.mark.parametrize(
    ("track_opens", "track_clicks", "configuration_set"),
    [
        (False, False, "posthorn"),
        (True, False, "posthorn-opens"),
        (False, True, "posthorn-clicks"),
        (True, True, "posthorn-opens-clicks"),
    ],
)
def test_the_configuration_set_follows_the_tracking_choices(
    fakes: Fakes, track_opens: bool, track_clicks: bool, configuration_set: str
) -> None:
    prepared = prepare_message(
        request(track_opens=track_opens, track_clicks=track_clicks), CREDENTIAL, fakes.context()
    )
    assert fakes.configuration_sets.calls == [(track_opens, track_clicks)]
    assert parsed(prepared.raw)["X-SES-CONFIGURATION-SET"] == configuration_set
    assert prepared.record.configuration_set == configuration_set


def test_template_data_is_rendered_into_the_record_and_the_mime(fakes: Fakes) -> None:
    body = request(subject="Hi {name}", body_text="Hello {name}", template_data={"name": "Ann"})
    prepared = prepare_message(body, CREDENTIAL, fakes.context())
    assert prepared.record.subject == "Hi Ann"
    message = parsed(prepared.raw)
    assert message["Subject"] == "Hi Ann"
    assert message.get_content().strip() == "Hello Ann"


def test_an_address_named_twice_is_one_recipient_of_the_first_kind(fakes: Fakes) -> None:
    prepared = prepare_message(
        request(to=["a@example.net"], cc=["A@example.net", "c@example.net"], bcc=["c@example.net"]),
        CREDENTIAL,
        fakes.context(),
    )
    assert [(s.email, s.type) for s in prepared.record.recipients] == [
        ("a@example.net", "to"),
        ("c@example.net", "cc"),
    ]


def test_bcc_recipients_are_handed_to_ses_but_not_written_in_the_mime(fakes: Fakes) -> None:
    send_email(request(bcc=["hidden@example.org"]), CREDENTIAL, fakes.context())
    assert fakes.transport.rcpt_to == [["user@example.net", "hidden@example.org"]]
    assert b"hidden@example.org" not in fakes.transport.messages[0]
    assert [(s.email, s.type) for s in fakes.record.recipients][-1] == ("hidden@example.org", "bcc")


def test_prepare_message_stores_nothing_and_sends_nothing(fakes: Fakes) -> None:
    prepared = prepare_message(request(), CREDENTIAL, fakes.context())
    assert prepared.message_id.startswith("msg_")
    assert prepared.deliverable == ["user@example.net"]
    assert_nothing_stored_or_sent(fakes)
    assert fakes.messages.sent == {}
    assert fakes.messages.failed == {}


# --- sending it -----------------------------------------------------------------------------------------
@dataclass
class WitnessTransport(FakeTransport):
    """Notes what the store held at the moment SES was handed the message."""

    messages_store: FakeMessages = field(default_factory=FakeMessages)
    stored_at_send: list[dict[str, MessageRecord]] = field(default_factory=list)
    sent_at_send: list[dict[str, str]] = field(default_factory=list)

    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt:
        self.stored_at_send.append(dict(self.messages_store.records))
        self.sent_at_send.append(dict(self.messages_store.sent))
        return super().send(mail_from, rcpt_to, raw, deadline=deadline)


def test_send_email_stores_the_record_before_ses_is_called_then_marks_it_sent() -> None:
    messages = FakeMessages()
    transport = WitnessTransport(messages_store=messages)
    fakes = Fakes(messages=messages, transport=transport)

    result = send_email(request(), CREDENTIAL, fakes.context())

    [stored] = transport.stored_at_send
    assert list(stored) == [result.message_id]
    assert stored[result.message_id].status == "queued"
    assert transport.sent_at_send == [{}]
    assert messages.created == [result.message_id]
    assert messages.sent == {result.message_id: "ses-1"}
    assert messages.statuses[result.message_id] == {"user@example.net": "sent"}
    assert (result.status, result.count) == ("sent", 1)
    assert fakes.queue.queued == []


def test_the_mime_handed_to_ses_is_the_prepared_one(fakes: Fakes) -> None:
    result = send_email(request(tags=["welcome"]), CREDENTIAL, fakes.context())
    [raw] = fakes.transport.messages
    assert message_tags(parsed(raw)) == [("posthorn_message_id", result.message_id), ("welcome", "true")]
    assert parsed(raw)["Message-ID"] == f"<{result.message_id}@example.com>"


@dataclass
class RefusingRecipientTransport(FakeTransport):
    refused: dict[str, str] = field(default_factory=dict)

    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt:
        receipt = super().send(mail_from, rcpt_to, raw, deadline=deadline)
        return DeliveryReceipt(receipt.ses_message_id, refused=self.refused)


def test_a_recipient_ses_refused_at_rcpt_is_recorded_rejected() -> None:
    transport = RefusingRecipientTransport(refused={"b@example.net": "550 no such user"})
    fakes = Fakes(transport=transport)
    result = send_email(request(to=["user@example.net", "b@example.net"]), CREDENTIAL, fakes.context())
    assert fakes.messages.statuses[result.message_id] == {
        "user@example.net": "sent",
        "b@example.net": "rejected",
    }
    assert [(r.email, r.status) for r in result.recipients] == [
        ("user@example.net", "sent"),
        ("b@example.net", "rejected"),
    ]
    assert (result.status, result.count) == ("sent", 1)


def test_ses_unavailable_queues_the_stored_message_and_answers_queued() -> None:
    fakes = Fakes(transport=FakeTransport(["unavailable"]))
    result = send_email(request(), CREDENTIAL, fakes.context())

    assert (result.status, result.count) == ("queued", 1)
    assert [(r.email, r.status) for r in result.recipients] == [("user@example.net", "queued")]
    [queued] = fakes.queue.queued
    assert queued.message_id == result.message_id
    assert queued.raw.as_bytes() == fakes.transport.messages[0]
    assert fakes.messages.created == [result.message_id]
    assert fakes.messages.sent == {}
    assert fakes.messages.failed == {}


def test_ses_and_the_queue_unavailable_is_upstream_unavailable_and_the_record_failed() -> None:
    fakes = Fakes(transport=FakeTransport(["unavailable"]), queue=FakeSendQueue(unavailable=True))
    with pytest.raises(UpstreamUnavailable):
        send_email(request(), CREDENTIAL, fakes.context())

    [message_id] = fakes.messages.created
    assert fakes.queue.refused == [message_id]
    assert fakes.queue.queued == []
    assert "SES unavailable" in fakes.messages.failed[message_id]
    assert "454" in fakes.messages.failed[message_id]
    assert fakes.messages.failed_recipients[message_id] == ["user@example.net"]


def test_ses_unavailable_without_a_send_queue_is_upstream_unavailable_and_the_record_failed() -> None:
    fakes = Fakes(transport=FakeTransport(["unavailable"]))
    with pytest.raises(UpstreamUnavailable):
        send_email(request(), CREDENTIAL, fakes.context(with_queue=False))

    [message_id] = fakes.messages.created
    assert fakes.queue.calls == 0
    assert "SES unavailable" in fakes.messages.failed[message_id]


def test_ses_refusing_the_message_is_upstream_rejected_and_the_record_failed() -> None:
    fakes = Fakes(transport=FakeTransport(["rejected"]))
    with pytest.raises(UpstreamRejected, match="554"):
        send_email(request(to=["user@example.net", "b@example.net"]), CREDENTIAL, fakes.context())

    [message_id] = fakes.messages.created
    assert "554" in fakes.messages.failed[message_id]
    assert fakes.messages.failed_recipients[message_id] == ["user@example.net", "b@example.net"]
    assert fakes.messages.sent == {}
    assert fakes.queue.calls == 0
