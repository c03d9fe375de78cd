"""The send worker's decisions (logic/sending/queue_drain.py) with in-memory fakes: what is sent, retried,
deferred, given up, and what is never sent twice."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from posthorn.errors import StorageUnavailable
from posthorn.logic.sending.queue_drain import DrainContext, backoff_seconds, drain
from posthorn.models.messages import MessageRecord
from posthorn.models.raw_message import Base64Body, FileBody, RawMessage
from posthorn.models.send_queue import DeliveryReceipt, QueueItem, SendClaim
from tests.support.fakes import (
    FakeAttachments,
    FakeMessages,
    FakeSuppressions,
    FakeTransport,
    FakeWorkQueue,
)
from tests.support.records import message_record

STORE_CALLS = ThreadPoolExecutor(max_workers=10)


def stored(*message_ids: str) -> dict[str, MessageRecord]:
    """Queued messages' records, by id."""
    return {message_id: message_record(message_id) for message_id in message_ids}


def context(
    store: FakeMessages,
    transport: FakeTransport,
    queue: FakeWorkQueue,
    *,
    time_left: float = 25.0,
    attachments: FakeAttachments | None = None,
    suppressions: FakeSuppressions | None = None,
) -> DrainContext:
    return DrainContext(
        messages=store,
        suppressions=suppressions or FakeSuppressions(),
        transport=transport,
        queue=queue,
        attachments=attachments or FakeAttachments(),
        reserve_slots=lambda count: [1000.0 + index for index in range(count)],
        wall_clock=lambda: 1000.0,
        monotonic=lambda: 50.0,
        sleep=lambda seconds: None,
        time_left=lambda: time_left,
        store_calls=STORE_CALLS,
        max_receives=5,
        send_budget_seconds=8.0,
        retry_base_seconds=30.0,
        retry_cap_seconds=900.0,
    )


def item(message_id: str | None, receives: int = 1, item_id: str | None = None) -> QueueItem:
    return QueueItem(id=item_id or f"q-{message_id}", message_id=message_id, receive_count=receives)


def test_claimed_messages_are_sent_recorded_and_finished() -> None:
    store, transport, queue = FakeMessages(stored("m1", "m2")), FakeTransport(), FakeWorkQueue()
    report = drain([item("m1"), item("m2")], context(store, transport, queue))
    assert report.failed_items == []
    assert store.sent == {"m1": "ses-1", "m2": "ses-2"}
    assert queue.done == ["q-m1", "q-m2"]


def to_two(message_id: str) -> MessageRecord:
    return message_record(message_id, recipients=("a@example.net", "B@example.net"))


def test_a_recipient_suppressed_while_the_message_waited_is_not_sent_to() -> None:
    store = FakeMessages({"m1": to_two("m1"), "m2": message_record("m2")})
    suppressions = FakeSuppressions({"b@example.net"})
    transport, queue = FakeTransport(), FakeWorkQueue()
    report = drain([item("m1"), item("m2")], context(store, transport, queue, suppressions=suppressions))

    assert transport.rcpt_to == [["a@example.net"], ["a@example.net"]]
    assert store.suppressed == {"m1": {"B@example.net"}}
    assert report.outcomes["sent"] == 2
    assert suppressions.lookups == 1  # one lookup for the batch's domain, not one per message


def test_a_message_whose_every_recipient_was_suppressed_meanwhile_is_not_sent() -> None:
    store = FakeMessages({"m1": to_two("m1")})
    suppressions = FakeSuppressions({"a@example.net", "b@example.net"})
    transport, queue = FakeTransport(), FakeWorkQueue()
    report = drain([item("m1")], context(store, transport, queue, suppressions=suppressions))
    assert transport.sends == 0
    assert store.suppressed == {"m1": {"a@example.net", "B@example.net"}}
    assert report.outcomes == {"suppressed": 1}
    assert queue.done == ["q-m1"]
    assert report.failed_items == []


def test_a_message_with_an_ses_id_is_acknowledged_without_sending() -> None:
    store = FakeMessages(stored("m1"), sent={"m1": "ses-0"})
    transport, queue = FakeTransport(), FakeWorkQueue()
    report = drain([item("m1", receives=2)], context(store, transport, queue))
    assert transport.sends == 0
    assert report.failed_items == []
    assert report.outcomes["already_done"] == 1


def test_a_message_no_longer_queued_is_not_sent() -> None:
    store = FakeMessages({"m1": message_record("m1", status="failed")})
    transport, queue = FakeTransport(), FakeWorkQueue()
    assert drain([item("m1")], context(store, transport, queue)).failed_items == []
    assert transport.sends == 0


def test_two_copies_in_one_batch_are_sent_once() -> None:
    store, transport, queue = FakeMessages(stored("m1")), FakeTransport(), FakeWorkQueue()
    report = drain([item("m1", item_id="a"), item("m1", item_id="b")], context(store, transport, queue))
    assert transport.sends == 1
    assert report.failed_items == []


def test_a_message_another_worker_holds_is_deferred_without_counting_an_attempt() -> None:
    store, transport, queue = FakeMessages(stored("m1"), claimed={"m1"}), FakeTransport(), FakeWorkQueue()
    report = drain([item("m1")], context(store, transport, queue))
    assert transport.sends == 0
    assert queue.deferred == {"q-m1": 31}
    assert report.failed_items == []  # acknowledged: the deferred copy is a new queue message


def test_a_transient_failure_releases_the_claim_and_retries_after_a_backoff() -> None:
    store, transport, queue = FakeMessages(stored("m1")), FakeTransport(["unavailable"]), FakeWorkQueue()
    report = drain([item("m1", receives=2)], context(store, transport, queue))
    assert report.failed_items == ["q-m1"]
    assert store.released == ["m1"]
    assert 30 <= queue.retried["q-m1"] <= 60
    assert store.failed == {}


def test_a_failure_mid_batch_reports_exactly_the_unsent_message_and_keeps_the_order() -> None:
    """SES failing for one message of a batch: the others are sent in queue order, recorded and
    acknowledged; only that one comes back (batchItemFailures), its claim released."""
    ids = ("m1", "m2", "m3", "m4")
    store = FakeMessages(stored(*ids))
    transport, queue = FakeTransport(["ok", "unavailable", "ok", "rejected"]), FakeWorkQueue()
    report = drain([item(message_id) for message_id in ids], context(store, transport, queue))
    assert report.failed_items == ["q-m2"]
    assert store.sent == {"m1": "ses-1", "m3": "ses-3"}  # SES's ids follow the queue's order
    assert store.released == ["m2"]
    assert sorted(queue.done) == ["q-m1", "q-m3", "q-m4"]  # m4 refused for good: recorded, acknowledged
    assert "m4" in store.failed
    assert report.outcomes == {"sent": 2, "retry": 1, "rejected": 1}


def test_the_last_allowed_receive_marks_the_message_failed_before_the_dead_letter_queue() -> None:
    store, transport, queue = FakeMessages(stored("m1")), FakeTransport(["unavailable"]), FakeWorkQueue()
    report = drain([item("m1", receives=5)], context(store, transport, queue))
    assert report.failed_items == ["q-m1"]  # SQS moves it to the dead-letter queue on its next receive
    assert queue.retried == {"q-m1": 0}
    assert "not sent after 5 attempts" in store.failed["m1"]
    assert "454" in store.failed["m1"]


def test_a_permanent_refusal_is_recorded_failed_and_acknowledged() -> None:
    store, transport, queue = FakeMessages(stored("m1")), FakeTransport(["rejected"]), FakeWorkQueue()
    report = drain([item("m1")], context(store, transport, queue))
    assert report.failed_items == []
    assert "554" in store.failed["m1"]
    assert queue.done == ["q-m1"]


def test_a_message_there_is_no_time_left_for_is_deferred_untried() -> None:
    store, transport, queue = FakeMessages(stored("m1")), FakeTransport(), FakeWorkQueue()
    report = drain([item("m1")], context(store, transport, queue, time_left=9.0))
    assert transport.sends == 0
    assert store.released == ["m1"]
    assert "q-m1" in queue.deferred
    assert report.failed_items == []


def test_unreadable_and_unknown_messages_are_left_to_the_dead_letter_queue() -> None:
    store, transport, queue = FakeMessages(), FakeTransport(), FakeWorkQueue()
    report = drain([item(None, item_id="x"), item("ghost")], context(store, transport, queue))
    assert report.failed_items == ["x", "q-ghost"]
    assert transport.sends == 0


# --- what runs side by side --------------------------------------------------------------------------
WAIT = 5.0  # seconds a fake waits for the other side before failing the test


class MeetingStore(FakeMessages):
    """Each claim waits for the batch's other claim: made one after the other, the first one never returns."""

    def __init__(self, records: dict[str, MessageRecord]) -> None:
        super().__init__(records)
        self.meeting = threading.Barrier(len(records))

    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        self.meeting.wait(timeout=WAIT)
        return super().claim_for_sending(message_id, now=now, lease_seconds=lease_seconds)


def test_a_batch_claims_its_messages_side_by_side() -> None:
    store, transport, queue = MeetingStore(stored("m1", "m2")), FakeTransport(), FakeWorkQueue()
    report = drain([item("m1"), item("m2")], context(store, transport, queue))
    assert report.failed_items == []
    assert store.sent == {"m1": "ses-1", "m2": "ses-2"}


class Events:
    """What happened, in order, across threads."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.second_send = threading.Event()

    def note(self, event: str) -> None:
        self.log.append(event)


@dataclass
class NotingTransport(FakeTransport):
    events: Events = field(default_factory=Events)

    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt:
        receipt = super().send(mail_from, rcpt_to, raw, deadline=deadline)
        self.events.note(f"sent {receipt.ses_message_id}")
        if self.sends == 2:
            self.events.second_send.set()
        return receipt


@dataclass
class SlowStore(FakeMessages):
    """Writes m1's SES id only once the next transaction has gone through, or not at all (`fail`)."""

    events: Events = field(default_factory=Events)
    fail: bool = False

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        if message_id == "m1":
            if not self.events.second_send.wait(timeout=WAIT):
                raise AssertionError("the next transaction waited for m1's record")
            if self.fail:
                raise ConnectionError("DynamoDB unreachable")
        super().mark_sent(message_id, ses_message_id, statuses)
        self.events.note(f"recorded {message_id}")


@dataclass
class NotingQueue(FakeWorkQueue):
    events: Events = field(default_factory=Events)

    def finished(self, item: QueueItem) -> None:
        super().finished(item)
        self.events.note(f"finished {item.id}")


def test_ses_ids_are_recorded_during_the_next_transaction_and_acknowledged_after() -> None:
    events = Events()
    store = SlowStore(stored("m1", "m2"), events=events)
    transport, queue = NotingTransport(events=events), NotingQueue(events=events)
    report = drain([item("m1"), item("m2")], context(store, transport, queue))
    assert report.failed_items == []
    assert report.outcomes["sent"] == 2
    assert store.sent == {"m1": "ses-1", "m2": "ses-2"}
    log = events.log
    assert log.index("sent ses-2") < log.index("recorded m1") < log.index("finished q-m1")
    assert log.index("recorded m2") < log.index("finished q-m2")


def test_a_message_whose_record_write_failed_is_reported_failed_and_keeps_its_claim() -> None:
    events = Events()
    store = SlowStore(stored("m1", "m2"), events=events, fail=True)
    transport, queue = NotingTransport(events=events), NotingQueue(events=events)
    report = drain([item("m1"), item("m2")], context(store, transport, queue))
    assert report.failed_items == ["q-m1"]  # comes back; the claim makes the retry wait out its lease
    assert report.outcomes == {"sent": 1, "unrecorded": 1}
    assert queue.done == ["q-m2"]
    assert store.sent == {"m2": "ses-2"}
    assert store.released == []
    [error] = report.errors
    assert error.startswith("m1:")
    assert "DynamoDB unreachable" in error


@dataclass
class LateStore(FakeMessages):
    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        time.sleep(0.2)
        super().mark_sent(message_id, ses_message_id, statuses)


@dataclass
class BrokenQueue(FakeWorkQueue):
    def load(self, item: QueueItem) -> list[Base64Body | FileBody]:
        if item.message_id == "m2":
            raise RuntimeError("unexpected")
        return super().load(item)


def test_a_drain_that_fails_midway_still_waits_for_the_writes_under_way() -> None:
    store, transport, queue = LateStore(stored("m1", "m2")), FakeTransport(), BrokenQueue()
    with pytest.raises(RuntimeError, match="unexpected"):
        drain([item("m1"), item("m2")], context(store, transport, queue))
    assert store.sent == {"m1": "ses-1"}
    assert queue.done == []  # the invocation failed: SQS hands the whole batch back


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert 15 <= backoff_seconds(1, 30, 900) <= 30
    assert 60 <= backoff_seconds(3, 30, 900) <= 120
    assert 450 <= backoff_seconds(10, 30, 900) <= 900


FILE = FileBody("fk_" + "a" * 32, "files/ph_user/" + "0" * 64, "0" * 64)


def test_a_queued_file_reference_is_sent_as_the_files_body() -> None:
    store, transport = FakeMessages(stored("m1")), FakeTransport()
    queue = FakeWorkQueue(parts=[b"Subject: Hi\r\n\r\n--b\r\n", FILE, b"\r\n--b--\r\n"])
    attachments = FakeAttachments({FILE: b"QUJD"})

    report = drain([QueueItem("q1", "m1", 1)], context(store, transport, queue, attachments=attachments))

    assert report.outcomes["sent"] == 1
    assert transport.messages == [b"Subject: Hi\r\n\r\n--b\r\nQUJD\r\n--b--\r\n"]


def test_an_attachment_deleted_while_queued_fails_the_message_at_once() -> None:
    store, transport = FakeMessages(stored("m1")), FakeTransport()
    queue = FakeWorkQueue(parts=[b"Subject: Hi\r\n\r\n", FILE])

    report = drain([QueueItem("q1", "m1", 1)], context(store, transport, queue))

    assert report.outcomes["attachment_gone"] == 1
    assert transport.sends == 0
    assert "no longer available" in store.failed["m1"]
    assert FILE.file_key in store.failed["m1"]
    assert queue.done == ["q1"]
    assert not queue.retried
    assert not report.failed_items


@dataclass
class FlakyStorage(FakeAttachments):
    """The object store failing for now (S3 throttling, or a body broken off)."""

    def body(self, ref: FileBody) -> Base64Body:
        raise StorageUnavailable("S3 could not read the file: SlowDown")


def test_storage_failing_for_an_attachment_retries_that_message_alone() -> None:
    store, transport = FakeMessages(records=stored("m1", "m2")), FakeTransport()

    @dataclass
    class TwoMessages(FakeWorkQueue):
        def load(self, item: QueueItem) -> list[Base64Body | FileBody]:
            return [b"Subject: Hi\r\n\r\n", FILE] if item.message_id == "m2" else self.parts

    queue = TwoMessages()
    report = drain([item("m1"), item("m2")], context(store, transport, queue, attachments=FlakyStorage()))

    assert report.outcomes == {"sent": 1, "retry": 1}
    assert queue.done == ["q-m1"]
    assert report.failed_items == ["q-m2"]
    assert store.released == ["m2"]
    assert queue.retried["q-m2"] > 0
    assert "m2" not in store.failed


def test_a_never_stored_message_goes_to_the_dead_letter_queue() -> None:
    store, transport, queue = FakeMessages(), FakeTransport(), FakeWorkQueue()
    report = drain([item("ghost", receives=3)], context(store, transport, queue))
    assert report.failed_items == ["q-ghost"]
    assert report.outcomes["missing"] == 1
    assert queue.retried == {}


def test_a_withdrawn_message_is_acknowledged_and_never_sent() -> None:
    """Its client was refused after a queue write that failed but landed: the claim loses to the
    withdrawal (logic/sending/acceptance.py)."""
    store, transport, queue = FakeMessages({"m": message_record("m")}), FakeTransport(), FakeWorkQueue()
    assert store.withdraw("m", "not accepted")
    report = drain([item("m")], context(store, transport, queue))
    assert transport.sends == 0
    assert queue.done == ["q-m"]
    assert report.failed_items == []


def test_a_message_a_worker_claimed_cannot_be_withdrawn() -> None:
    store, transport, queue = FakeMessages({"m": message_record("m")}), FakeTransport(), FakeWorkQueue()
    drain([item("m")], context(store, transport, queue))
    assert transport.sends == 1
    assert not store.withdraw("m", "not accepted")


# --- the deliverability guard: a paused domain's messages are held ----------------------------------------
def test_messages_of_a_paused_domain_are_held_not_sent_failed_or_retried() -> None:
    from posthorn.models.domains import Sending
    from tests.support.fakes import FakeDomains, FakeHeldMessages, FakeQueueBodies
    from tests.support.records import domain_record

    store = FakeMessages({"m1": message_record("m1"), "m2": message_record("m2", domain="other.org")})
    transport, queue, held = FakeTransport(), FakeWorkQueue(), FakeHeldMessages()
    paused = domain_record().model_copy(update={"sending": Sending.PAUSED})
    domains = FakeDomains.of(paused, domain_record("other.org"))
    from posthorn.logic.sending.queue_drain import SendingPauses

    pauses = SendingPauses(domains, lambda: 50.0)
    drained = dataclasses.replace(
        context(store, transport, queue), pauses=pauses, held=held, requeue=FakeQueueBodies()
    )
    report = drain([item("m1"), item("m2")], drained)
    assert [message.message_id for message in held.held["example.com"]] == ["m1"]
    assert held.created == {"m1": store.records["m1"].created_at}  # the held copy expires with it
    assert report.outcomes["held"] == 1
    assert "m1" not in store.sent
    assert "m1" not in store.failed
    assert "m1" in store.released  # its claim let go, for the send after the resume
    assert report.failed_items == []  # acknowledged: no receive counts toward the dead-letter queue
    assert list(store.sent) == ["m2"]


def test_held_messages_go_back_to_the_queue_in_order_and_a_refused_one_stays_held() -> None:
    from datetime import UTC, datetime

    from posthorn.logic.guard.held import release_held
    from tests.support.fakes import FakeHeldMessages, FakeQueueBodies

    held = FakeHeldMessages()
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for index in range(3):
        held.hold("example.com", f"m{index}", f"body-{index}", at=at, created_at=at)
    queue = FakeQueueBodies(refuse=lambda body: body == "body-2")
    released, more = release_held("example.com", held, queue, time_left=lambda: 10.0)
    assert (released, more) == (2, True)
    assert queue.sent == ["body-0", "body-1"]
    assert [message.message_id for message in held.held["example.com"]] == ["m2"]


def test_a_send_after_a_drop_past_the_final_dot_is_counted_as_an_ambiguous_resend() -> None:
    """The one duplicate the contract allows (docs/api.md, "Guarantees"), SES's ambiguous window, is counted
    (Queued_ambiguous_resend)."""
    store, queue = FakeMessages(stored("m1", "m2")), FakeWorkQueue()
    transport = FakeTransport(["ok_after_drop", "ok"])
    report = drain([item("m1"), item("m2")], context(store, transport, queue))
    assert report.outcomes["sent"] == 2
    assert report.outcomes["ambiguous_resend"] == 1
