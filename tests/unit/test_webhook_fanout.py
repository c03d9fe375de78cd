"""The webhook fan-out: one delivery per matching webhook, exactly once per (event, webhook), none lost to a
crash between making deliveries and recording the event; the send path's `failed`/`suppressed` outcomes; the
guard's entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from posthorn.logic.events.notifications import parse_sns_message, to_recipient_events
from posthorn.logic.events.recording import record_sns_messages
from posthorn.logic.webhooks.contexts import WebhookFanout
from posthorn.logic.webhooks.fanout import (
    AnnouncingMessages,
    EventAnnouncer,
    RecentDirectory,
    announce_domain_event,
    delivery_id_for,
    message_event_announcement,
)
from posthorn.models.messages import MessageRecord
from posthorn.models.webhooks import DeliveryView, WebhookEventType
from tests.support import ses_fixtures as fx
from tests.support.fakes import FakeDeliveries, FakeMessages, FakeNotices, FakeWebhooks, FixedClock
from tests.support.records import message_record, webhook_record


class Fanout:
    def __init__(self, *webhooks: object) -> None:
        self.webhooks = FakeWebhooks()
        for webhook in webhooks:
            self.webhooks.put_webhook(webhook)
        self.deliveries = FakeDeliveries()
        self.notices = FakeNotices()
        self.fanout = WebhookFanout(self.webhooks, self.deliveries, self.notices, FixedClock())


def test_delivery_ids_are_derived_from_the_event_and_the_webhook() -> None:
    assert delivery_id_for("event:a", "wh_1") == delivery_id_for("event:a", "wh_1")
    assert (
        len(
            {
                delivery_id_for("event:a", "wh_1"),
                delivery_id_for("event:a", "wh_2"),
                delivery_id_for("event:b", "wh_1"),
            }
        )
        == 3
    )
    assert delivery_id_for("event:a", "wh_1").startswith("msg_")


def test_an_outcome_goes_to_each_matching_webhook_of_its_domain_only() -> None:
    setup = Fanout(
        webhook_record("wh_all"),
        webhook_record("wh_failed", events=["email.failed"]),
        webhook_record("wh_delivered", events=["email.delivered"]),
        webhook_record("wh_other", domains=["other.example"]),
        webhook_record("wh_off", status="disabled"),
    )
    messages = FakeMessages()
    record = message_record("m1", recipients=["a@example.net", "b@example.net"])
    messages.records["m1"] = record
    AnnouncingMessages(messages, setup.fanout).mark_failed("m1", "SES refused it", ["a@example.net"])
    made = sorted(d.webhook_id for d in setup.deliveries.records.values())
    assert made == ["wh_all", "wh_failed"]
    body = json.loads(next(iter(setup.deliveries.records.values())).payload)
    assert body["type"] == "email.failed"
    assert body["data"]["recipient"] == "a@example.net"
    assert body["data"]["message_id"] == "m1"
    assert body["data"]["details"] == {"reason": "SES refused it"}
    assert messages.failed == {"m1": "SES refused it"}
    assert len(setup.notices.prompts) == 2


def test_suppressed_recipients_of_a_new_message_are_announced() -> None:
    setup = Fanout(webhook_record())
    record = message_record("m1", recipients=["a@example.net", "b@example.net"], recipient_status="queued")
    states = [record.recipients[0], record.recipients[1].model_copy(update={"status": "suppressed"})]
    AnnouncingMessages(FakeMessages(), setup.fanout).create_message(
        record.model_copy(update={"recipients": states})
    )
    (delivery,) = setup.deliveries.records.values()
    assert delivery.event_type == "email.suppressed"
    assert json.loads(delivery.payload)["data"]["recipient"] == "b@example.net"


class CountingReads(FakeMessages):
    reads: int = 0

    def get_message_record(self, message_id: str) -> MessageRecord | None:
        self.reads += 1
        return super().get_message_record(message_id)


@pytest.mark.parametrize("path", ["single send", "send worker"])
def test_the_send_path_announces_email_sent_for_each_recipient_ses_took_without_a_read(path: str) -> None:
    setup = Fanout(webhook_record("wh_all"), webhook_record("wh_bounced", events=["email.bounced"]))
    a, b = "a@example.net", "b@example.net"
    record = message_record(fx.POSTHORN_MESSAGE_ID, recipients=[a, b], recipient_status="queued")
    messages = CountingReads()
    announcing = AnnouncingMessages(messages, setup.fanout)
    if path == "single send":
        announcing.create_message(record)
    else:
        messages.records[record.message_id] = record
        assert announcing.claim_for_sending(record.message_id, now=0, lease_seconds=60).state == "claimed"
        messages.reads = 0
    announcing.mark_sent(record.message_id, fx.SES_MESSAGE_ID, {a: "sent", b: "rejected"})

    (delivery,) = setup.deliveries.records.values()
    assert (delivery.webhook_id, delivery.event_type) == ("wh_all", "email.sent")
    data = json.loads(delivery.payload)["data"]
    assert (data["recipient"], data["ses_message_id"], data["message_id"]) == (
        a,
        fx.SES_MESSAGE_ID,
        record.message_id,
    )
    assert messages.sent == {record.message_id: fx.SES_MESSAGE_ID}
    assert messages.reads == 0

    # SES's own Send event for that recipient (a configuration set that still publishes it) is the same
    # event: it makes no second delivery, whichever comes first.
    (ses_send,) = [
        event
        for event in to_recipient_events(parse_sns_message(_sns(fx.send_event(recipients=[a, b]))))
        if event.recipient == a
    ]
    assert delivery.delivery_id == delivery_id_for(
        message_event_announcement(record, ses_send).identity, "wh_all"
    )


def test_a_send_no_webhook_wants_makes_nothing() -> None:
    setup = Fanout(webhook_record("wh_bounced", events=["email.bounced"]))
    announcing = AnnouncingMessages(FakeMessages(), setup.fanout)
    record = message_record("m1", recipient_status="queued")
    announcing.create_message(record)
    announcing.mark_sent("m1", "ses-1", {"a@example.net": "sent"})
    assert setup.deliveries.records == {}


def _sns(notification: dict[str, object]) -> str:
    return json.dumps(notification)


def test_a_duplicate_sns_notification_makes_no_second_delivery() -> None:
    setup = Fanout(webhook_record())
    messages = FakeEventStore()
    announcer = EventAnnouncer(setup.fanout, messages)
    notification = _sns(fx.delivery_event(message_id="ses-1"))
    now = datetime(2026, 1, 2, tzinfo=UTC)
    first = record_sns_messages([notification], messages, messages, now, announcer)
    second = record_sns_messages([notification], messages, messages, now, announcer)
    assert first.counts["recorded"] == 1
    assert second.counts["duplicate"] == 1
    (delivery,) = setup.deliveries.records.values()
    assert delivery.event_type == "email.delivered"
    assert len(setup.notices.prompts) == 1


@pytest.mark.parametrize(
    ("webhooks", "reads", "deliveries"),
    [
        ((), 0, 0),
        ((webhook_record("wh_bounced", events=["email.bounced"]),), 0, 0),
        ((webhook_record("wh_off", status="disabled"),), 0, 0),
        ((webhook_record("wh_delivered", events=["email.delivered"]),), 1, 1),
    ],
)
def test_an_event_reads_its_message_only_for_a_webhook_that_wants_it(
    webhooks: tuple[object, ...], reads: int, deliveries: int
) -> None:
    setup = Fanout(*webhooks)
    messages = CountingEventStore()
    announcer = EventAnnouncer(setup.fanout, messages)
    notification = _sns(fx.delivery_event(message_id="ses-1"))
    outcome = record_sns_messages([notification], messages, messages, datetime.now(UTC), announcer)
    assert outcome.counts["recorded"] == 1
    assert messages.reads == reads
    assert len(setup.deliveries.records) == deliveries


def test_a_crash_between_the_deliveries_and_the_event_loses_no_delivery_when_retried() -> None:
    setup = Fanout(webhook_record("wh_1"), webhook_record("wh_2"))
    setup.deliveries.fail_creates_after = 1  # the first delivery is made, then the table fails
    messages = FakeEventStore()
    announcer = EventAnnouncer(setup.fanout, messages)
    notification = _sns(fx.delivery_event(message_id="ses-1"))
    now = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        record_sns_messages([notification], messages, messages, now, announcer)
    assert messages.events == {}  # the event is not recorded before its deliveries
    setup.deliveries.fail_creates_after = None
    record_sns_messages([notification], messages, messages, now, announcer)  # Lambda's retry
    assert sorted(d.webhook_id for d in setup.deliveries.records.values()) == ["wh_1", "wh_2"]
    assert len(messages.events) == 1


def test_the_guards_entry_point_announces_once_per_pause() -> None:
    setup = Fanout(webhook_record(events=["domain.paused"]))
    at = datetime(2026, 1, 2, 3, tzinfo=UTC)
    details = {"paused_at": at.isoformat(), "reason": "bounce rate 5.1%"}
    first = announce_domain_event(setup.fanout, WebhookEventType.DOMAIN_PAUSED, "example.com", at, details)
    again = announce_domain_event(setup.fanout, WebhookEventType.DOMAIN_PAUSED, "example.com", at, details)
    assert first == again
    assert len(setup.deliveries.records) == 1
    body = json.loads(setup.deliveries.records[first[0]].payload)
    assert body["type"] == "domain.paused"
    assert body["data"]["domain"] == "example.com"
    with pytest.raises(ValueError, match="not a domain event"):
        announce_domain_event(setup.fanout, WebhookEventType.BOUNCED, "example.com", at, {})


def test_a_delivery_about_a_message_carries_its_creation_and_a_domain_events_none() -> None:
    """What the delivery's expiry counts from (docs/api.md, "Retention"): the message's creation, not the
    delivery's, so a delivery made weeks later still goes with its message."""
    setup = Fanout(webhook_record())
    created = datetime(2026, 1, 1, 9, tzinfo=UTC)
    messages = FakeMessages()
    messages.records["m1"] = message_record("m1", created_at=created)
    AnnouncingMessages(messages, setup.fanout).mark_failed("m1", "SES refused it", ["a@example.net"])
    at = datetime(2026, 1, 2, 3, tzinfo=UTC)
    announce_domain_event(setup.fanout, WebhookEventType.DOMAIN_PAUSED, "example.com", at, {})
    made = {d.event_type: d for d in setup.deliveries.records.values()}
    assert made["email.failed"].message_created_at == created
    assert made["email.failed"].created_at == FixedClock().now()
    assert made["domain.paused"].message_created_at is None
    assert "message_created_at" not in DeliveryView.of(made["email.failed"]).model_dump()


class FakeEventStore:
    """EventRecorder + SuppressionRecorder + MessageRecords over one stored message (whatever its id)."""

    def __init__(self) -> None:
        self.record = message_record("m1", recipients=["success@simulator.amazonses.com"], status="sent")
        self.events: dict[str, object] = {}

    def message_id_for_ses(self, ses_message_id: str) -> str | None:
        return "m1"

    def advance_for_event(self, message_id: str, recipient: str, status: str):  # type: ignore[no-untyped-def]
        from posthorn.models.messages import MessageChange

        record = self.record
        return MessageChange(
            record.domain, list(record.tags), record.created_at, record.status, record.status
        )

    def get_message_record(self, message_id: str):  # type: ignore[no-untyped-def]
        return self.record

    def put_event(self, message_id: str, event, change=None, counts=None) -> bool:  # type: ignore[no-untyped-def]
        if event.event_key in self.events:
            return False
        self.events[event.event_key] = event
        return True

    def put_unmatched_event(self, event, *, now: int) -> bool:  # type: ignore[no-untyped-def]
        return True

    def add_suppression(self, entry) -> bool:  # type: ignore[no-untyped-def]
        return True


def test_a_domains_webhooks_are_read_once_per_burst_and_a_write_here_is_seen_at_once() -> None:
    reads: list[str] = []

    class Counting(FakeWebhooks):
        def webhooks_for_domain(self, domain: str) -> list[object]:
            reads.append(domain)
            return super().webhooks_for_domain(domain)

    directory = RecentDirectory(Counting(), seconds=60)
    assert directory.webhooks_for_domain("example.com") == []
    assert directory.webhooks_for_domain("example.com") == []
    assert reads == ["example.com"]
    routes = directory.writing_through()
    routes.put_webhook(webhook_record())
    assert [w.webhook_id for w in directory.webhooks_for_domain("example.com")] == ["wh_1"]
    routes.delete_webhook(webhook_record())
    assert directory.webhooks_for_domain("example.com") == []
    assert len(reads) == 3


class CountingEventStore(FakeEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_message_record(self, message_id: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get_message_record(message_id)
