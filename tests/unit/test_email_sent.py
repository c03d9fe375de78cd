"""`email.sent` from the send path (logic/webhooks/fanout.py, `AnnouncingMessages`): the fan-out failing at
SES's 250 never keeps SES's id off the record (which would have the message sent again), is made again by
the retry, and a message's recipients prompt the webhook sender once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from posthorn.logic.sending.delivery import PreparedMessage, deliver
from posthorn.logic.sending.queue_drain import DrainContext, drain
from posthorn.logic.webhooks.contexts import WebhookFanout
from posthorn.logic.webhooks.fanout import AnnouncingMessages
from posthorn.models.raw_message import RawMessage
from posthorn.models.send_queue import QueueItem
from tests.support.fakes import (
    FakeAttachments,
    FakeDeliveries,
    FakeMessages,
    FakeNotices,
    FakeSuppressions,
    FakeTransport,
    FakeWebhooks,
    FakeWorkQueue,
    FixedClock,
)
from tests.support.records import message_record, webhook_record

STORE_CALLS = ThreadPoolExecutor(max_workers=4)


class CountingNotices(FakeNotices):
    calls: int = 0

    def notify(self, deliveries, *, delay_seconds=0):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().notify(deliveries, delay_seconds=delay_seconds)


class RecordingMessages(FakeMessages):
    """mark_sent also updates the record, as the DynamoDB adapter does (SES's id, recipient statuses)."""

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        super().mark_sent(message_id, ses_message_id, statuses)
        record = self.records[message_id]
        recipients = [
            s.model_copy(update={"status": statuses.get(s.email, s.status)}) for s in record.recipients
        ]
        self.records[message_id] = record.model_copy(
            update={"ses_message_id": ses_message_id, "recipients": recipients}
        )


def fanout(deliveries: FakeDeliveries, notices: FakeNotices | None = None) -> WebhookFanout:
    webhooks = FakeWebhooks()
    webhooks.put_webhook(webhook_record("wh_all"))
    return WebhookFanout(webhooks, deliveries, notices or FakeNotices(), FixedClock())


def drain_context(messages: object, transport: FakeTransport, queue: FakeWorkQueue) -> DrainContext:
    return DrainContext(
        messages=messages,  # type: ignore[arg-type]
        suppressions=FakeSuppressions(),
        transport=transport,
        queue=queue,
        attachments=FakeAttachments(),
        reserve_slots=lambda count: [1000.0 + index for index in range(count)],
        wall_clock=lambda: 1000.0,
        monotonic=lambda: 50.0,
        sleep=lambda seconds: None,
        time_left=lambda: 25.0,
        store_calls=STORE_CALLS,
        max_receives=5,
        send_budget_seconds=8.0,
        retry_base_seconds=30.0,
        retry_cap_seconds=900.0,
    )


def copy(receive_count: int) -> QueueItem:
    return QueueItem(id="q1", message_id="m1", receive_count=receive_count)


def test_worker_a_webhook_table_failure_at_250_does_not_get_the_message_sent_twice() -> None:
    """The fan-out fails (the webhook table throttles): SES's id is written all the same, and the queue's next
    copy finds the message sent, sends nothing and makes the `email.sent` the first one could not."""
    store = RecordingMessages({"m1": message_record("m1", recipient_status="queued")})
    deliveries = FakeDeliveries(fail_creates_after=0)
    messages = AnnouncingMessages(store, fanout(deliveries))
    transport = FakeTransport()
    first = drain(
        [QueueItem(id="q1", message_id="m1", receive_count=1)],
        drain_context(messages, transport, FakeWorkQueue()),
    )
    assert first.errors  # the fan-out's failure is reported: the queue message comes back
    assert store.sent == {"m1": "ses-1"}
    deliveries.fail_creates_after = None
    store.claimed.clear()  # the lease runs out
    drain(
        [QueueItem(id="q1", message_id="m1", receive_count=2)],
        drain_context(messages, transport, FakeWorkQueue()),
    )
    assert transport.sends == 1
    assert store.sent == {"m1": "ses-1"}
    made = [json.loads(d.payload) for d in deliveries.records.values()]
    assert [(m["type"], m["data"]["ses_message_id"]) for m in made] == [("email.sent", "ses-1")]


def single_send(deliveries: FakeDeliveries) -> FakeMessages:
    """`POST /v1/email`'s store and delivery, the webhooks' table being `deliveries`: the store afterwards."""
    store = FakeMessages()
    messages = AnnouncingMessages(store, fanout(deliveries))
    record = message_record("m1")
    messages.create_message(record)
    result = deliver(PreparedMessage(record, RawMessage(())), FakeTransport(), messages, deadline=1e12)
    assert result.status == "sent"
    return store


def test_single_send_a_webhook_table_failure_at_250_still_records_ses_id() -> None:
    """The API's `deliver` answers `sent` once SES said 250, and SES's id is on the record though the fan-out
    failed both times it was tried (that `email.sent` is lost: the note in README's Webhooks)."""
    assert single_send(FakeDeliveries(fail_creates_after=0)).sent == {"m1": "ses-1"}


class FailingOnce(FakeDeliveries):
    """The webhook table throttles the first write, then takes them."""

    def create_delivery(self, record):  # type: ignore[no-untyped-def]
        if not getattr(self, "failed", False):
            self.failed = True
            raise RuntimeError("ProvisionedThroughputExceededException")
        return super().create_delivery(record)


def test_single_send_a_fan_out_failing_once_is_made_by_the_retry() -> None:
    deliveries = FailingOnce()
    assert single_send(deliveries).sent == {"m1": "ses-1"}
    [made] = [json.loads(d.payload) for d in deliveries.records.values()]
    assert (made["type"], made["data"]["ses_message_id"]) == ("email.sent", "ses-1")


def test_email_sent_for_many_recipients_prompts_the_sender_once() -> None:
    recipients = [f"r{n}@example.net" for n in range(50)]
    store = FakeMessages()
    notices = CountingNotices()
    messages = AnnouncingMessages(store, fanout(FakeDeliveries(), notices))
    record = message_record("m1", recipients=recipients, recipient_status="queued")
    messages.create_message(record)
    messages.mark_sent("m1", "ses-1", dict.fromkeys(recipients, "sent"))
    assert len(notices.prompts) == 50
    assert notices.calls == 1


def test_a_sent_message_s_next_copy_is_acknowledged_though_the_fan_out_fails_again() -> None:
    """The queue's next copy of a sent message is acknowledged whatever the webhooks' table says: a claim
    that raised would hold back every message of its batch."""
    store = RecordingMessages({"m1": message_record("m1", recipient_status="queued")})
    store.mark_sent("m1", "ses-1", {"a@example.net": "sent"})
    messages = AnnouncingMessages(store, fanout(FakeDeliveries(fail_creates_after=0)))
    transport = FakeTransport()
    report = drain([copy(2)], drain_context(messages, transport, FakeWorkQueue()))
    assert report.outcomes["already_done"] == 1
    assert transport.sends == 0
