"""Accepting a relayed message (logic/submission/intake.py) with in-memory fakes: the checks, the record, the
queue, the duplicate check of a resent message, the rate limit, and what is undone when a step fails."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from posthorn.errors import (
    AllRecipientsSuppressed,
    IdempotencyConflict,
    IdempotencyInFlight,
    RateLimited,
    SenderNotAllowed,
    UpstreamUnavailable,
    ValidationFailed,
)
from posthorn.logic.sending import idempotency
from posthorn.logic.submission.intake import Accepted, IntakeContext, accept_client_message, fingerprint
from posthorn.logic.submission.relayed_message import parse_client_message
from posthorn.models.credentials import Credential
from posthorn.models.send_queue import QueuedMessage
from tests.support.fakes import (
    FakeConfigurationSets,
    FakeDomains,
    FakeIdempotencyStore,
    FakeMessages,
    FakeRateStore,
    FakeSendQueue,
    FakeSuppressions,
    FixedClock,
)
from tests.support.records import credential, domain_record

THREADS = ThreadPoolExecutor(max_workers=2)


@dataclass
class Intake:
    messages: FakeMessages = field(default_factory=FakeMessages)
    queue: FakeSendQueue = field(default_factory=FakeSendQueue)
    idempotency: FakeIdempotencyStore = field(default_factory=FakeIdempotencyStore)
    rates: FakeRateStore = field(default_factory=FakeRateStore)
    suppressions: FakeSuppressions = field(default_factory=FakeSuppressions)
    configuration_sets: FakeConfigurationSets = field(default_factory=FakeConfigurationSets)
    sender: Credential = field(default_factory=lambda: credential(domains=("example.com",)))

    def context(self) -> IntakeContext:
        return IntakeContext(
            messages=self.messages,
            queue=self.queue,
            domains=FakeDomains.of(domain_record("example.com"), domain_record("other.org")),
            suppressions=self.suppressions,
            rate_limits=self.rates,
            idempotency=self.idempotency,
            clock=FixedClock(),
            configuration_sets=self.configuration_sets,
            files=None,
            default_rate_per_second=100,
            idempotency_ttl_seconds=86_400,
            side_by_side=THREADS,
        )

    def accept(self, raw: bytes, rcpt: list[str] | None = None) -> Accepted:
        return accept_client_message(self.sender, rcpt or ["user@example.net"], raw, self.context())


@pytest.fixture
def intake() -> Intake:
    return Intake()


def mail(*headers: str, body: str = "Hello") -> bytes:
    lines = ["From: hello@example.com", "To: User <user@example.net>", "Cc: c@example.net", "Subject: Hi"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n" + body + "\r\n").encode()


def test_the_record_says_smtp_and_types_each_envelope_recipient_by_the_headers(intake: Intake) -> None:
    accepted = intake.accept(mail(), ["User@example.net", "c@example.net", "hidden@example.org"])
    record = intake.messages.records[accepted.message_id]
    assert record.source == "smtp"
    assert [(r.email, r.type, r.status) for r in record.recipients] == [
        ("User@example.net", "to", "queued"),
        ("c@example.net", "cc", "queued"),
        ("hidden@example.org", "bcc", "queued"),
    ]
    assert intake.queue.queued_ids == [accepted.message_id]
    assert b"X-SES-MESSAGE-TAGS: posthorn_message_id=" + accepted.message_id.encode() in (
        intake.queue.queued[0].raw.as_bytes()
    )


def test_a_from_or_sender_of_a_foreign_domain_is_refused_and_nothing_is_stored(intake: Intake) -> None:
    with pytest.raises(SenderNotAllowed):
        intake.accept(mail().replace(b"From: hello@example.com", b"From: x@other.org"))
    with pytest.raises(SenderNotAllowed):
        intake.accept(mail("Sender: someone@other.org"))
    with pytest.raises(ValidationFailed, match="no From"):
        intake.accept(mail().replace(b"From: hello@example.com\r\n", b""))
    assert intake.messages.records == {}
    assert intake.queue.queued == []


def test_the_same_message_sent_again_answers_the_first_id_and_is_queued_once(intake: Intake) -> None:
    raw = mail("Message-ID: <once@example.com>")
    first = intake.accept(raw)
    again = intake.accept(raw)
    assert (again.message_id, again.replayed) == (first.message_id, True)
    assert list(intake.messages.records) == [first.message_id]  # the second record went at once
    assert intake.queue.queued_ids == [first.message_id]  # the second never reached the queue


def test_other_bytes_under_the_same_message_id_are_another_message(intake: Intake) -> None:
    first = intake.accept(mail("Message-ID: <same@example.com>", body="one"))
    second = intake.accept(mail("Message-ID: <same@example.com>", body="two"))
    assert first.message_id != second.message_id
    assert not second.replayed


def test_without_a_message_id_nothing_says_two_messages_are_one(intake: Intake) -> None:
    assert intake.accept(mail()).message_id != intake.accept(mail()).message_id
    assert intake.idempotency.entries == {}


def test_the_idempotency_header_refuses_other_bytes_and_says_in_flight_before_the_first_is_answered(
    intake: Intake,
) -> None:
    intake.accept(mail("X-Posthorn-Idempotency-Key: k1", body="one"))
    with pytest.raises(IdempotencyConflict) as conflict:
        intake.accept(mail("X-Posthorn-Idempotency-Key: k1", body="two"))
    assert not isinstance(conflict.value, IdempotencyInFlight)
    raw = mail("X-Posthorn-Idempotency-Key: k2")
    scope = idempotency.scope_key(intake.sender.username, "k2")
    # Another relay task holds the claim: its first attempt is still under way.
    same = fingerprint(parse_client_message(bytearray(raw)), [("user@example.net", "to")])
    intake.idempotency.claim(
        scope, same, now=int(FixedClock().now().timestamp()), lease_seconds=60, ttl_seconds=86_400
    )
    with pytest.raises(IdempotencyInFlight):
        intake.accept(raw)
    assert len(intake.queue.queued) == 1  # k1's message only
    assert scope in intake.idempotency.entries  # the other attempt's claim is left alone


def test_over_the_rate_nothing_is_stored_and_the_claim_is_released(intake: Intake) -> None:
    intake.sender = credential(domains=("example.com",)).model_copy(update={"rate_limit_per_second": 1})
    intake.accept(mail("Message-ID: <a@example.com>"))
    with pytest.raises(RateLimited) as limited:
        intake.accept(mail("Message-ID: <b@example.com>"))
    assert limited.value.retry_after_seconds >= 1
    assert len(intake.messages.records) == 1  # the refused message's record was written, then discarded
    assert len(intake.messages.discarded) == 1
    assert len(intake.queue.queued) == 1  # the refused message never reached the queue
    assert len(intake.idempotency.released) == 1


def test_a_queue_that_refuses_withdraws_the_record_and_releases_the_claim(intake: Intake) -> None:
    intake.queue.unavailable = True
    with pytest.raises(UpstreamUnavailable):
        intake.accept(mail("Message-ID: <q@example.com>"))
    [refused] = intake.messages.records
    assert refused in intake.messages.withdrawn  # no worker may claim it, should the queue have it after all
    assert intake.messages.claim_for_sending(refused, now=0, lease_seconds=60).state == "done"
    assert len(intake.idempotency.released) == 1
    intake.queue.unavailable = False
    assert not intake.accept(mail("Message-ID: <q@example.com>")).replayed  # the retry goes through


def test_a_queue_write_that_failed_but_landed_with_a_worker_already_on_it_is_accepted(
    intake: Intake,
) -> None:
    """SQS took the message although its answer was lost, and a worker claimed it before the withdrawal:
    the message is being sent, so the client is told 250, never 451."""

    class LostAnswer(FakeSendQueue):
        def enqueue(self, messages: list[QueuedMessage]) -> set[str]:
            super().enqueue(messages)
            for message in messages:  # a worker picks it up at once
                intake.messages.claim_for_sending(message.message_id, now=0, lease_seconds=60)
            raise TimeoutError("SQS did not answer")

    intake.queue = LostAnswer()
    accepted = intake.accept(mail("Message-ID: <lost@example.com>"))
    assert not accepted.replayed
    assert intake.messages.withdrawn == {}
    assert intake.idempotency.released == []


def test_a_store_that_fails_releases_the_claim_and_raises(intake: Intake) -> None:
    class Broken(FakeMessages):
        def create_message(self, record: object) -> None:
            raise ConnectionError("DynamoDB is unreachable")

    intake.messages = Broken()
    with pytest.raises(ConnectionError):
        intake.accept(mail("Message-ID: <s@example.com>"))
    assert len(intake.idempotency.released) == 1


def test_a_file_key_the_credential_cannot_use_is_refused_naming_the_header(intake: Intake) -> None:
    with pytest.raises(ValidationFailed) as refused:
        intake.accept(mail("X-TM-FILE-KEY: fk_unknown"))
    assert refused.value.details[0]["field"] == "X-TM-FILE-KEY"  # as the client wrote it
    assert intake.messages.records == {}


def test_tracking_headers_choose_the_configuration_set(intake: Intake) -> None:
    accepted = intake.accept(mail("X-PM-TrackOpens: true", "X-TM-CLICK-TRACK: 1"))
    assert intake.configuration_sets.calls == [(True, True)]
    assert intake.messages.records[accepted.message_id].configuration_set == "posthorn-opens-clicks"


def test_a_write_not_answered_in_time_is_a_temporary_failure(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from posthorn.logic.submission import intake as intake_module

    class Slow(FakeMessages):
        def create_message(self, record: object) -> None:
            time.sleep(0.5)

    monkeypatch.setattr(intake_module, "WRITE_DEADLINE_SECONDS", 0.1)
    intake.messages = Slow()
    with pytest.raises(UpstreamUnavailable, match="did not answer in time"):
        intake.accept(mail("Message-ID: <slow@example.com>"))
    assert len(intake.idempotency.released) == 1


def test_the_same_bytes_to_other_envelope_recipients_are_another_message(intake: Intake) -> None:
    """The rest of a 51-recipient message, sent after `452 4.5.3` with the same bytes, is not a resend."""
    raw = mail("Message-ID: <many@example.com>")
    first = intake.accept(raw, ["a@example.net", "b@example.net"])
    rest = intake.accept(raw, ["c@example.net"])
    assert rest.message_id != first.message_id
    assert not rest.replayed
    assert intake.accept(raw, ["B@example.net", "a@example.net"]).message_id == first.message_id


def test_a_retry_that_only_rewrote_date_and_message_id_is_a_resend_under_the_idempotency_header(
    intake: Intake,
) -> None:
    """Mail libraries write Date and Message-ID anew on every try: the key still names one message."""
    first = intake.accept(mail("X-Posthorn-Idempotency-Key: k", "Message-ID: <1@x>", "Date: Mon, 1 Dec 2026"))
    again = intake.accept(mail("X-Posthorn-Idempotency-Key: k", "Message-ID: <2@x>", "Date: Tue, 2 Dec 2026"))
    assert (again.message_id, again.replayed) == (first.message_id, True)
    with pytest.raises(IdempotencyConflict):
        intake.accept(mail("X-Posthorn-Idempotency-Key: k", body="another text"))


def test_a_from_address_the_api_would_refuse_is_refused_before_ses_sees_it(intake: Intake) -> None:
    """It becomes the envelope sender: SES would refuse it after the 250 (`501 Invalid MAIL FROM`)."""
    with pytest.raises(ValidationFailed) as refused:
        intake.accept(mail().replace(b"From: hello@example.com", b'From: "x@evil.test"@example.com'))
    assert refused.value.details[0]["field"] == "From"
    assert intake.messages.records == {}


def test_recipients_suppressed_for_the_from_domain_are_left_out_and_all_of_them_is_550(
    intake: Intake,
) -> None:
    """RCPT TO was answered from MAIL FROM's domain; the From: domain's list is read at the end of DATA."""
    assert intake.accept(mail()).message_id  # nobody suppressed: every recipient queued
    intake.suppressions.suppressions.add("gone@example.net")
    accepted = intake.accept(mail(), ["user@example.net", "gone@example.net"])
    statuses = {r.email: r.status for r in intake.messages.records[accepted.message_id].recipients}
    assert statuses == {"user@example.net": "queued", "gone@example.net": "suppressed"}
    with pytest.raises(AllRecipientsSuppressed):
        intake.accept(mail(), ["gone@example.net"])
