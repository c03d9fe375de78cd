"""The events function, fed the documented SNS/SES shapes from events/, against moto."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from posthorn.models.messages import MessageRecord
from posthorn_local.apigw import LambdaContext
from tests.conftest import Stack
from tests.support.api import ApiClient
from tests.support.records import message_record

EVENTS = Path(__file__).resolve().parents[2] / "events"
MESSAGE_ID = "msg_01JTESTFIXTURE0000000000"
SES_ID = "010001234567890a-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000"
RECIPIENT = "user@example.net"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from ses_events.handler import lambda_handler

    return lambda_handler(event, LambdaContext(function_name="events"))


@pytest.fixture
def events_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    from posthorn import wiring

    monkeypatch.setenv("EVENTS_DEAD_LETTER_QUEUE_URL", stack.ids["EventsDeadLetterQueue"])
    wiring.reset()
    return stack


@pytest.fixture
def sent_message(events_env: Stack) -> str:
    """The message the fixtures speak of, as the send path leaves it: stored, then sent with SES's id."""
    from posthorn import wiring

    store = wiring.messages()
    store.create_message(
        message_record(
            MESSAGE_ID,
            recipients=(RECIPIENT,),
            username="ph_test",
            subject="Hello",
            created_at=datetime.now(UTC),
        )
    )
    store.mark_sent(MESSAGE_ID, SES_ID, {RECIPIENT: "sent"})
    return MESSAGE_ID


def message() -> tuple[MessageRecord, list[dict[str, Any]]]:
    """The message and its stored events (not the `send` event its timeline makes from `mark_sent`)."""
    from posthorn import wiring

    found = wiring.messages().get_message(MESSAGE_ID)
    assert found is not None
    record, events = found
    return record, [event for event in events if "sk" in event]


def timeline() -> tuple[MessageRecord, list[dict[str, Any]]]:
    """The message and every event its timeline shows."""
    from posthorn import wiring

    found = wiring.messages().get_message(MESSAGE_ID)
    assert found is not None
    return found


def recipient_status() -> str:
    return message()[0].recipients[0].status


@pytest.mark.parametrize(
    ("fixture_name", "status", "event_type"),
    [
        ("sns_event_send", "sent", "send"),
        ("sns_event_delivery", "delivered", "delivery"),
        ("sns_event_delivery_delay", "delivery_delayed", "delivery_delay"),
        ("sns_event_open", "opened", "open"),
        ("sns_event_click", "clicked", "click"),
        ("sns_event_bounce_permanent", "bounced", "bounce"),
        ("sns_event_bounce_transient", "bounced", "bounce"),
        ("sns_event_complaint", "complained", "complaint"),
        ("sns_event_reject", "rejected", "reject"),
        ("sns_event_rendering_failure", "failed", "rendering_failure"),
        ("sns_event_subscription", "sent", "subscription"),
        ("sns_notification_bounce", "bounced", "bounce"),
        ("sns_notification_complaint", "complained", "complaint"),
        ("sns_notification_delivery", "delivered", "delivery"),
    ],
)
def test_each_documented_shape_lands_in_the_timeline(
    sent_message: str, fixture_name: str, status: str, event_type: str
) -> None:
    result = invoke(fixture(fixture_name))
    record, events = message()
    assert result["outcomes"]["recorded"] == 1
    if event_type == "send":  # `mark_sent` recorded it (and counted it): no item of its own
        assert events == []
    else:
        assert [event["type"] for event in events] == [event_type]
    assert record.recipients[0].status == status
    assert record.status == status


def test_bounce_details_reach_the_api(sent_message: str, api: ApiClient, sender_key: str) -> None:
    invoke(fixture("sns_event_bounce_permanent"))
    # The fixture message belongs to example.com, the sender credential's domain.
    view = api.get(f"/v1/messages/{MESSAGE_ID}", api_key=sender_key)
    assert view.status == 200, view.body
    # The send `mark_sent` recorded, shown no later than the bounce SES reported (at the fixture's time).
    sent, event = view.json["events"]
    assert sent["timestamp"] == event["timestamp"]
    assert (sent["type"], sent["recipient"], sent["details"]) == ("send", RECIPIENT, {})
    assert event["type"] == "bounce"
    assert event["recipient"] == RECIPIENT
    assert event["details"]["bounce_type"] == "Permanent"
    assert "diagnostic_code" in event["details"]
    assert view.json["recipients"] == [{"email": RECIPIENT, "type": "to", "status": "bounced"}]


def test_permanent_bounce_suppresses_and_transient_does_not(sent_message: str) -> None:
    from posthorn import wiring

    invoke(fixture("sns_event_bounce_transient"))
    assert wiring.suppressions().get_suppression("example.com", RECIPIENT) is None
    invoke(fixture("sns_event_bounce_permanent"))
    suppression = wiring.suppressions().get_suppression("example.com", RECIPIENT)
    assert suppression is not None
    assert suppression.reason == "bounce"
    assert suppression.source_message_id == MESSAGE_ID


def test_complaint_suppresses_with_reason_complaint(sent_message: str) -> None:
    from posthorn import wiring

    invoke(fixture("sns_notification_complaint"))
    suppression = wiring.suppressions().get_suppression("example.com", RECIPIENT)
    assert suppression is not None
    assert suppression.reason == "complaint"


def test_same_notification_delivered_twice_is_recorded_once(sent_message: str) -> None:
    first = invoke(fixture("sns_event_delivery"))
    second = invoke(fixture("sns_event_delivery"))
    assert first["outcomes"]["recorded"] == 1
    assert second["outcomes"]["duplicate"] == 1
    assert len(message()[1]) == 1


def test_same_bounce_in_both_formats_is_recorded_once(sent_message: str) -> None:
    invoke(fixture("sns_event_bounce_permanent"))
    invoke(fixture("sns_notification_bounce"))
    assert [event["type"] for event in message()[1]] == ["bounce"]


def test_classic_notification_without_tags_matches_by_ses_message_id(sent_message: str) -> None:
    result = invoke(fixture("sns_notification_delivery"))
    assert result["outcomes"]["recorded"] == 1
    assert recipient_status() == "delivered"


def test_late_delivery_after_bounce_does_not_lower_status(sent_message: str) -> None:
    invoke(fixture("sns_event_bounce_permanent"))
    invoke(fixture("sns_event_delivery"))
    invoke(fixture("sns_event_send"))
    assert recipient_status() == "bounced"
    assert message()[0].status == "bounced"


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_and_repeated_deliveries_end_in_the_same_state(sent_message: str, seed: int) -> None:
    names = [
        "sns_event_send",
        "sns_event_delivery",
        "sns_event_open",
        "sns_event_click",
        "sns_notification_delivery",
    ]
    sequence = names * 2
    random.Random(seed).shuffle(sequence)
    for name in sequence:
        invoke(fixture(name))
    record, events = timeline()
    assert record.recipients[0].status == "clicked"
    assert sorted(event["type"] for event in events) == ["click", "delivery", "open", "send"]


def test_event_for_unknown_message_is_kept_for_operators(events_env: Stack) -> None:
    result = invoke(fixture("sns_notification_bounce"))
    assert result["outcomes"]["unmatched"] == 1
    items = events_env.session.client("dynamodb").query(
        TableName=events_env.table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"UNMATCHED#{SES_ID}"}},
    )["Items"]
    assert len(items) == 1
    assert items[0]["type"]["S"] == "bounce"


def test_unknown_event_type_is_counted_not_fatal(sent_message: str) -> None:
    result = invoke(fixture("sns_event_unknown_type"))
    assert result["outcomes"] == {"unknown_type": 1}
    assert message()[1] == []


def test_malformed_record_is_parked_and_the_others_are_recorded(sent_message: str, events_env: Stack) -> None:
    batch = fixture("sns_batch_mixed")
    batch["Records"].insert(1, fixture("sns_malformed")["Records"][0])
    result = invoke(batch)
    assert result["outcomes"]["malformed"] == 1
    assert result["outcomes"]["recorded"] == 4  # send, delivery (once for both formats), open, click
    # Stored: all but the send, which `mark_sent` recorded.
    assert sorted(event["type"] for event in message()[1]) == ["click", "delivery", "open"]
    sqs = events_env.session.client("sqs")
    parked = sqs.receive_message(
        QueueUrl=events_env.ids["EventsDeadLetterQueue"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    assert len(parked) == 1
    assert (
        json.loads(parked[0]["Body"])["Sns"]["Message"]
        == fixture("sns_malformed")["Records"][0]["Sns"]["Message"]
    )
    assert parked[0]["MessageAttributes"]["reason"]["StringValue"] == "SNS message is not JSON"


def test_malformed_record_without_dead_letter_queue_fails_the_invocation(
    sent_message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ses_events.handler import UnprocessableRecords

    monkeypatch.delenv("EVENTS_DEAD_LETTER_QUEUE_URL")
    from posthorn import wiring

    wiring.reset()
    with pytest.raises(UnprocessableRecords):
        invoke(fixture("sns_malformed"))


def parked_reasons(stack: Stack) -> list[str]:
    sqs = stack.session.client("sqs")
    parked = sqs.receive_message(
        QueueUrl=stack.ids["EventsDeadLetterQueue"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [item["MessageAttributes"]["reason"]["StringValue"] for item in parked]


def test_deeply_nested_sns_message_is_parked_as_malformed_not_a_crash(
    sent_message: str, events_env: Stack
) -> None:
    batch = fixture("sns_event_delivery")
    nested = dict(batch["Records"][0], Sns={**batch["Records"][0]["Sns"], "Message": "[" * 100_000})
    batch["Records"].insert(0, nested)
    result = invoke(batch)
    assert result["outcomes"]["malformed"] == 1
    assert result["outcomes"]["recorded"] == 1
    assert recipient_status() == "delivered"
    assert parked_reasons(events_env) == ["SNS message is nested too deeply"]


def test_lone_surrogate_in_bounced_recipient_is_parked_as_malformed_not_a_crash(
    sent_message: str, events_env: Stack
) -> None:
    batch = fixture("sns_event_bounce_permanent")
    record = batch["Records"][0]
    bad = json.loads(record["Sns"]["Message"])
    bad["bounce"]["bouncedRecipients"][0]["emailAddress"] = "us\ud800er@example.net"
    batch["Records"].insert(0, dict(record, Sns={**record["Sns"], "Message": json.dumps(bad)}))
    result = invoke(batch)
    assert result["outcomes"]["malformed"] == 1
    assert recipient_status() == "bounced"
    assert parked_reasons(events_env) == [
        "SNS message holds text that is not valid Unicode (a lone surrogate)"
    ]


def test_ses_id_finds_its_message_through_a_pointer_not_gsi1(sent_message: str, events_env: Stack) -> None:
    from posthorn import wiring

    db, table = events_env.session.client("dynamodb"), events_env.table
    stored = db.get_item(TableName=table, Key={"pk": {"S": f"MSG#{MESSAGE_ID}"}, "sk": {"S": "MSG"}})["Item"]
    assert "gsi1pk" not in stored
    assert stored["ses_message_id"]["S"] == SES_ID
    pointer = db.get_item(TableName=table, Key={"pk": {"S": f"SES#{SES_ID}"}, "sk": {"S": "SES"}})["Item"]
    assert pointer["message_id"]["S"] == MESSAGE_ID
    assert wiring.message_events().message_id_for_ses(SES_ID) == MESSAGE_ID
    assert wiring.message_events().message_id_for_ses("0100-unknown") is None


def test_message_stored_by_an_older_posthorn_is_found_through_gsi1(
    sent_message: str, events_env: Stack
) -> None:
    """As an older Posthorn left a sent message: gsi1 keys on the message item, no pointer."""
    db, table = events_env.session.client("dynamodb"), events_env.table
    db.delete_item(TableName=table, Key={"pk": {"S": f"SES#{SES_ID}"}, "sk": {"S": "SES"}})
    db.update_item(
        TableName=table,
        Key={"pk": {"S": f"MSG#{MESSAGE_ID}"}, "sk": {"S": "MSG"}},
        UpdateExpression="SET gsi1pk = :p, gsi1sk = :s",
        ExpressionAttributeValues={":p": {"S": f"SES#{SES_ID}"}, ":s": {"S": "MSG"}},
    )
    result = invoke(fixture("sns_notification_delivery"))  # classic format: no posthorn_message_id tag
    assert result["outcomes"]["recorded"] == 1
    assert recipient_status() == "delivered"


def test_event_that_raises_nothing_changes_nothing(sent_message: str, events_env: Stack) -> None:
    """SES's Send after the send path set `sent`: read, not written, neither stored nor counted again (the
    send path counted it and the timeline shows it from `mark_sent`); a Send that came first is stored."""
    from posthorn import wiring

    db, table = events_env.session.client("dynamodb"), events_env.table
    key = {"pk": {"S": f"MSG#{MESSAGE_ID}"}, "sk": {"S": "MSG"}}
    before = db.get_item(TableName=table, Key=key)["Item"]
    assert [item["S"] for item in before["sent_to"]["L"]] == [RECIPIENT]
    counted = wiring.stats().hourly_counts("example.com", None, "2000-01-01T00", "2999-01-01T00")
    assert sum(row["sent"] for row in counted) == 1
    for _ in range(2):
        result = invoke(fixture("sns_event_send"))
        assert result["outcomes"]["recorded"] == 1
    assert db.get_item(TableName=table, Key=key)["Item"] == before
    assert message()[1] == []
    [send] = timeline()[1]
    assert (send["type"], send["recipient"], send["timestamp"]) == ("send", RECIPIENT, before["sent_at"]["S"])
    counted = wiring.stats().hourly_counts("example.com", None, "2000-01-01T00", "2999-01-01T00")
    assert sum(row["sent"] for row in counted) == 1


def test_a_send_event_that_comes_before_the_send_path_records_it_is_stored_and_shown_once(
    events_env: Stack,
) -> None:
    from posthorn import wiring

    store = wiring.messages()
    record = message_record(
        MESSAGE_ID, recipients=(RECIPIENT,), username="ph_test", subject="Hello", created_at=datetime.now(UTC)
    )
    store.create_message(record)
    assert invoke(fixture("sns_event_send"))["outcomes"]["recorded"] == 1
    store.mark_sent(MESSAGE_ID, SES_ID, {RECIPIENT: "sent"})
    assert [event["type"] for event in message()[1]] == ["send"]
    assert [event["type"] for event in timeline()[1]] == ["send"]
    counted = wiring.stats().hourly_counts("example.com", None, "2000-01-01T00", "2999-01-01T00")
    assert sum(row["sent"] for row in counted) == 1


def _message_item(events_env: Stack) -> dict[str, Any]:
    db, table = events_env.session.client("dynamodb"), events_env.table
    return db.get_item(TableName=table, Key={"pk": {"S": f"MSG#{MESSAGE_ID}"}, "sk": {"S": "MSG"}})["Item"]


def _event_items(events_env: Stack) -> list[dict[str, Any]]:
    db, table = events_env.session.client("dynamodb"), events_env.table
    return db.query(
        TableName=table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
        ExpressionAttributeValues={":p": {"S": f"MSG#{MESSAGE_ID}"}, ":e": {"S": "EVT#"}},
    )["Items"]


def test_an_event_that_raises_a_status_is_stored_on_the_message_once(
    sent_message: str, events_env: Stack, api: ApiClient, sender_key: str
) -> None:
    """The Delivery rides on the update that raises its recipient (one write, no event item); a repeat is a
    duplicate, counted once; the API shows it like any event."""
    from posthorn import wiring

    results = [invoke(fixture("sns_event_delivery")) for _ in range(2)]
    assert [result["outcomes"].get("recorded") for result in results] == [1, None]
    assert results[1]["outcomes"]["duplicate"] == 1
    item = _message_item(events_env)
    inline = [name for name in item if name.startswith("E#")]
    assert len(inline) == 1
    assert inline[0].startswith("E#delivery:")
    assert set(item[inline[0]]["M"]) == {"timestamp", "details"}  # its recipient is the message's only one
    assert _event_items(events_env) == []
    assert [(event["type"], event["recipient"]) for event in message()[1]] == [("delivery", RECIPIENT)]
    counted = wiring.stats().hourly_counts("example.com", None, "2000-01-01T00", "2999-01-01T00")
    assert sum(row["delivered"] for row in counted) == 1
    view = api.get(f"/v1/messages/{MESSAGE_ID}", api_key=sender_key)
    assert view.status == 200, view.body
    assert [event["type"] for event in view.json["events"]] == ["send", "delivery"]
    assert view.json["events"][1]["details"]
    assert view.json["status"] == "delivered"


def test_a_short_message_s_delivery_and_open_both_ride_on_its_item_in_one_write_unit_each(
    sent_message: str, events_env: Stack, api: ApiClient, sender_key: str
) -> None:
    from bench.meter import item_size as billed_size

    for name in ("sns_event_delivery", "sns_event_open"):
        assert invoke(fixture(name))["outcomes"]["recorded"] == 1
    item = _message_item(events_env)
    assert sorted(name.partition(":")[0] for name in item if name.startswith("E#")) == [
        "E#delivery",
        "E#open",
    ]
    assert _event_items(events_env) == []
    assert billed_size(item) <= 1024  # every write of it, the open's included, one unit
    view = api.get(f"/v1/messages/{MESSAGE_ID}", api_key=sender_key)
    assert [(event["type"], event["recipient"]) for event in view.json["events"]] == [
        ("send", RECIPIENT),
        ("delivery", RECIPIENT),
        ("open", RECIPIENT),
    ]
    assert view.json["status"] == "opened"


def test_a_repeat_of_an_event_stored_on_the_item_under_its_former_longer_name_is_a_duplicate(
    sent_message: str, events_env: Stack
) -> None:
    from posthorn.adapters.dynamodb.message_items import inline_names
    from posthorn.logic.events.notifications import parse_sns_message, to_recipient_events

    delivery = fixture("sns_event_delivery")
    [event] = to_recipient_events(parse_sns_message(delivery["Records"][0]["Sns"]["Message"]))
    current, former = inline_names(event.event_key)
    assert invoke(delivery)["outcomes"]["recorded"] == 1
    db, table = events_env.session.client("dynamodb"), events_env.table
    db.update_item(  # as a Posthorn before the shorter names stored it
        TableName=table,
        Key={"pk": {"S": f"MSG#{MESSAGE_ID}"}, "sk": {"S": "MSG"}},
        UpdateExpression="REMOVE #c SET #f = :v",
        ExpressionAttributeNames={"#c": current, "#f": former},
        ExpressionAttributeValues={":v": _message_item(events_env)[current]},
    )
    assert invoke(delivery)["outcomes"].get("duplicate") == 1
    assert _event_items(events_env) == []
    assert [event["type"] for event in message()[1]] == ["delivery"]


def test_an_event_that_would_grow_the_message_past_its_write_units_gets_its_own_item(
    sent_message: str, events_env: Stack
) -> None:
    """A message item just under a KB boundary: the event goes to an item of its own, the item stays."""
    db, table = events_env.session.client("dynamodb"), events_env.table
    from posthorn.adapters.dynamodb.message_items import item_size

    filler = 2048 - 60 - item_size(_message_item(events_env))
    db.update_item(
        TableName=table,
        Key={"pk": {"S": f"MSG#{MESSAGE_ID}"}, "sk": {"S": "MSG"}},
        UpdateExpression="SET filler = :f",
        ExpressionAttributeValues={":f": {"S": "x" * filler}},
    )
    assert invoke(fixture("sns_event_delivery"))["outcomes"]["recorded"] == 1
    assert not [name for name in _message_item(events_env) if name.startswith("E#")]
    assert [item["type"]["S"] for item in _event_items(events_env)] == ["delivery"]
    assert recipient_status() == "delivered"
    assert invoke(fixture("sns_event_delivery"))["outcomes"]["duplicate"] == 1
    assert [event["type"] for event in message()[1]] == ["delivery"]


def test_a_stale_read_never_stores_an_event_twice(sent_message: str, events_env: Stack) -> None:
    """The read foretold a raise, but the status rose meanwhile by this same event: the failed condition's
    item says it is there."""
    from posthorn import wiring

    store = wiring.message_events()
    invoke(fixture("sns_event_delivery"))
    from posthorn.logic.events.notifications import parse_sns_message, to_recipient_events

    [event] = to_recipient_events(
        parse_sns_message(fixture("sns_event_delivery")["Records"][0]["Sns"]["Message"])
    )
    stale = _message_item(events_env)
    stale = {name: value for name, value in stale.items() if not name.startswith("E#")}
    stale["recipients"]["M"][RECIPIENT]["M"]["rank"] = {"N": "1"}
    from posthorn.adapters.dynamodb.message_events import _Read

    change = store.advance_for_event(MESSAGE_ID, RECIPIENT, "delivered")
    store._read.value = _Read(MESSAGE_ID, RECIPIENT, "delivered", stale)
    assert store.put_event(MESSAGE_ID, event, change, {"delivered": 1}) is False
    assert _event_items(events_env) == []
    counted = wiring.stats().hourly_counts("example.com", None, "2000-01-01T00", "2999-01-01T00")
    assert sum(row["delivered"] for row in counted) == 1


def test_events_stored_as_items_before_still_read_and_repeat_as_duplicates(
    sent_message: str, events_env: Stack
) -> None:
    """As an older Posthorn stored a Delivery: its own item, the status raised apart."""
    from posthorn import wiring

    store = wiring.message_events()
    from posthorn.logic.events.notifications import parse_sns_message, to_recipient_events

    [event] = to_recipient_events(
        parse_sns_message(fixture("sns_event_delivery")["Records"][0]["Sns"]["Message"])
    )
    wiring.messages().advance_recipients(MESSAGE_ID, {RECIPIENT: "delivered"})
    assert store._put_once(f"MSG#{MESSAGE_ID}", event, ttl=None)
    assert invoke(fixture("sns_event_delivery"))["outcomes"]["duplicate"] == 1
    assert [event["type"] for event in message()[1]] == ["delivery"]
    assert not [name for name in _message_item(events_env) if name.startswith("E#")]
