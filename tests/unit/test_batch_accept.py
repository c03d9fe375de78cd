"""Accepting a batch (logic/sending/batches.py) with in-memory fakes: each item is checked as a single send
would be,
the lookups are made once for the whole batch, and every accepted message is stored and queued, never sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from posthorn.errors import InvalidJson, PosthornError, ValidationFailed
from posthorn.logic.sending.batches import BatchRefused, accept_batch
from posthorn.models.batches import SendBatchResult
from posthorn.models.domains import DomainStatus
from posthorn.models.email import SendEmailRequest
from tests.support.bodies import email_body
from tests.support.fakes import (
    SendFakes,
)
from tests.support.records import credential, domain_record

CREDENTIAL = credential(domains=("example.com", "example.org"))


@dataclass
class Fakes(SendFakes):
    """Everything a batch talks to, in memory: example.com and example.org are registered and verified."""

    domain_names: tuple[str, ...] = ("example.com", "example.org")

    def accept(self, *items: SendEmailRequest | PosthornError) -> SendBatchResult:
        return accept_batch(list(items), CREDENTIAL, self.context())

    def subject_of(self, message_id: str) -> str:
        return self.messages.records[message_id].subject


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def request(**overrides: Any) -> SendEmailRequest:
    """`POST /v1/email` from hello@example.com to user@example.net, with `overrides`."""
    return SendEmailRequest.model_validate(email_body(**overrides))


def statuses(result: SendBatchResult) -> list[tuple[int, str, str | None]]:
    """Each result's index, status and error code."""
    return [(r.index, r.status, r.error.code if r.error else None) for r in result.results]


def queued_ids(result: SendBatchResult) -> list[str]:
    return [r.message_id for r in result.results if r.status == "queued" and r.message_id]


def test_items_that_are_already_errors_stay_rejected_with_their_error_at_their_index(fakes: Fakes) -> None:
    invalid = ValidationFailed.on("messages[0].to", "at least one recipient is required")
    result = fakes.accept(invalid, request(), InvalidJson("messages[2] is not an object"))

    assert statuses(result) == [
        (0, "rejected", "validation_error"),
        (1, "queued", None),
        (2, "rejected", "invalid_json"),
    ]
    first, _, last = result.results
    assert first.error is not None
    assert first.error.message == invalid.message
    assert first.error.model_dump(mode="json")["details"] == [
        {"field": "messages[0].to", "message": "at least one recipient is required"}
    ]
    assert first.message_id is None
    assert last.error is not None
    assert last.error.message == "messages[2] is not an object"
    assert last.error.details is None
    assert result.count == 1
    assert fakes.queue.queued_ids == queued_ids(result)


def test_each_domain_is_looked_up_once_and_its_suppressions_once_for_the_whole_batch(fakes: Fakes) -> None:
    fakes.suppressions.suppressions.add("c@example.net")
    items = [
        request(to=["a@example.net"]),
        request(from_email="news@example.org", to=["B@example.net"]),
        request(to=["A@example.net", "c@example.net"]),
        request(from_email="hello@example.org", to=["b@example.net"], cc=["d@example.net"]),
        request(to=["c@example.net", "e@example.net"]),
    ]
    result = fakes.accept(*items)

    assert result.count == 5
    assert sorted(fakes.domains.lookups) == ["example.com", "example.org"]
    assert fakes.suppressions.lookups == 2
    asked = {domain: sorted(emails) for domain, emails in fakes.suppressions.queries}
    assert asked == {
        "example.com": ["a@example.net", "c@example.net", "e@example.net"],
        "example.org": ["b@example.net", "d@example.net"],
    }
    # What the one lookup found still applies to each message
    third = fakes.messages.records[queued_ids(result)[2]]
    assert [(s.email, s.status) for s in third.recipients] == [
        ("A@example.net", "queued"),
        ("c@example.net", "suppressed"),
    ]


def test_an_item_failing_its_checks_is_rejected_with_its_code_while_the_others_are_queued(
    fakes: Fakes,
) -> None:
    fakes.suppressions.suppressions.add("gone@example.net")
    fakes.domains.put_domain(domain_record("example.org", status=DomainStatus.PENDING))
    result = fakes.accept(
        request(subject="a"),
        request(subject="b", from_email="hello@foreign.test"),
        request(subject="c", to=["gone@example.net"]),
        request(subject="d", from_email="hello@example.org"),
        request(subject="e"),
    )

    assert statuses(result) == [
        (0, "queued", None),
        (1, "rejected", "sender_not_allowed"),
        (2, "rejected", "all_recipients_suppressed"),
        (3, "rejected", "domain_not_verified"),
        (4, "queued", None),
    ]
    assert result.count == 2
    assert [fakes.subject_of(message_id) for message_id in fakes.queue.queued_ids] == ["a", "e"]
    assert sorted(fakes.subject_of(message_id) for message_id in fakes.messages.records) == ["a", "e"]
    assert "foreign.test" not in fakes.domains.lookups  # a domain the credential does not own is never read


def test_messages_that_could_not_be_stored_are_rejected_and_never_queued(fakes: Fakes) -> None:
    fakes.messages.unstorable = lambda record: record.subject == "b"
    result = fakes.accept(request(subject="a"), request(subject="b"), request(subject="c"))

    assert statuses(result) == [
        (0, "queued", None),
        (1, "rejected", "upstream_unavailable"),
        (2, "queued", None),
    ]
    assert result.results[1].message_id is None
    assert result.count == 2
    assert [fakes.subject_of(message_id) for message_id in fakes.queue.queued_ids] == ["a", "c"]
    assert fakes.queue.queued_ids == queued_ids(result)
    assert fakes.messages.failed == {}  # nothing was stored, so there is nothing to mark


def test_messages_the_queue_refused_are_marked_failed_and_rejected(fakes: Fakes) -> None:
    fakes.queue.refuse = lambda queued: fakes.subject_of(queued.message_id) == "b"
    result = fakes.accept(request(subject="a"), request(subject="b", to=["x@example.net", "y@example.net"]))

    assert statuses(result) == [(0, "queued", None), (1, "rejected", "upstream_unavailable")]
    assert result.count == 1
    [refused] = fakes.queue.refused
    assert fakes.subject_of(refused) == "b"
    assert "could not be queued" in fakes.messages.failed[refused]
    assert fakes.messages.failed_recipients[refused] == ["x@example.net", "y@example.net"]
    assert list(fakes.messages.failed) == [refused]
    assert queued_ids(result) == fakes.queue.queued_ids


def test_a_queue_refusing_everything_rejects_every_message_and_marks_each_failed(fakes: Fakes) -> None:
    fakes.queue.unavailable = True
    result = fakes.accept(request(subject="a"), request(subject="b"))

    assert statuses(result) == [
        (0, "rejected", "upstream_unavailable"),
        (1, "rejected", "upstream_unavailable"),
    ]
    assert result.count == 0
    assert sorted(fakes.messages.failed) == sorted(fakes.messages.records)
    assert len(fakes.messages.failed) == 2


def test_no_item_is_sent_through_the_transport(fakes: Fakes) -> None:
    result = fakes.accept(request(), request(to=["b@example.net"]))
    assert result.count == 2
    assert fakes.transport.sends == 0
    assert fakes.messages.sent == {}


def test_accepted_messages_are_stored_and_queued_in_one_call_each(fakes: Fakes) -> None:
    result = fakes.accept(request(subject="a"), request(subject="b"), request(subject="c"))
    assert fakes.queue.calls == 1
    assert sorted(fakes.messages.created) == sorted(queued_ids(result))
    assert all(fakes.messages.records[message_id].status == "queued" for message_id in queued_ids(result))
    [first_queued] = [q for q in fakes.queue.queued if q.message_id == result.results[0].message_id]
    assert b"Subject: a" in first_queued.raw.as_bytes()


def test_the_count_is_the_number_queued(fakes: Fakes) -> None:
    fakes.messages.unstorable = lambda record: record.subject == "c"
    result = fakes.accept(
        request(subject="a"),
        InvalidJson("not an object"),
        request(subject="c"),
        request(subject="d"),
        request(subject="e", from_email="hello@foreign.test"),
    )
    assert result.count == 2
    assert result.count == sum(1 for r in result.results if r.status == "queued")
    assert [r.index for r in result.results] == [0, 1, 2, 3, 4]


def test_a_batch_needs_the_send_queue(fakes: Fakes) -> None:
    with pytest.raises(ValueError, match="send queue"):
        accept_batch([request()], CREDENTIAL, fakes.context(with_queue=False))
    assert fakes.messages.records == {}


def test_an_all_or_nothing_batch_with_an_item_refused_before_storage_stores_and_queues_nothing(
    fakes: Fakes,
) -> None:
    """Resend's strict mode: "sends the batch only if all emails in the request are valid". An email whose
    every recipient is suppressed is found only as the batch is prepared; the whole batch is refused then,
    naming the first such item, before anything is stored or queued."""
    fakes.suppressions.suppressions.add("gone@example.net")
    with pytest.raises(BatchRefused) as refused:
        accept_batch(
            [request(subject="a"), request(subject="b", to=["gone@example.net"]), request(subject="c")],
            CREDENTIAL,
            fakes.context(),
            all_or_nothing=True,
        )
    assert refused.value.index == 1
    assert refused.value.error.code == "all_recipients_suppressed"
    assert fakes.messages.records == {}
    assert fakes.queue.queued_ids == []


def test_an_all_or_nothing_batch_refuses_for_an_item_that_was_already_an_error(fakes: Fakes) -> None:
    with pytest.raises(BatchRefused) as refused:
        accept_batch(
            [request(), ValidationFailed.on("to", "bad")], CREDENTIAL, fakes.context(), all_or_nothing=True
        )
    assert refused.value.index == 1
    assert fakes.queue.queued_ids == []
