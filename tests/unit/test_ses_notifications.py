"""SES notifications from SNS: parsing both formats, normalising to recipient events, dedupe keys."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SnsModel

from posthorn.logic.events.notifications import (
    EventType,
    MalformedNotification,
    RecipientEvent,
    normalise_address,
    parse_sns_message,
    to_recipient_events,
)
from posthorn.models.ses_notifications import (
    BounceEvent,
    BounceNotification,
    ClickEvent,
    ComplaintEvent,
    ComplaintNotification,
    DeliveryDelayEvent,
    DeliveryEvent,
    DeliveryNotification,
    OpenEvent,
    RejectEvent,
    RenderingFailureEvent,
    SendEvent,
    SubscriptionEvent,
    UnknownNotification,
    parse_ses_notification,
)
from tests.support import ses_fixtures as fx

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"

EXPECTED_TYPES: dict[str, list[type]] = {
    "sns_event_send": [SendEvent],
    "sns_event_delivery": [DeliveryEvent],
    "sns_event_bounce_permanent": [BounceEvent],
    "sns_event_bounce_transient": [BounceEvent],
    "sns_event_complaint": [ComplaintEvent],
    "sns_event_reject": [RejectEvent],
    "sns_event_open": [OpenEvent],
    "sns_event_click": [ClickEvent],
    "sns_event_rendering_failure": [RenderingFailureEvent],
    "sns_event_delivery_delay": [DeliveryDelayEvent],
    "sns_event_subscription": [SubscriptionEvent],
    "sns_notification_bounce": [BounceNotification],
    "sns_notification_complaint": [ComplaintNotification],
    "sns_notification_delivery": [DeliveryNotification],
    "sns_event_unknown_type": [UnknownNotification],
    "sns_batch_mixed": [
        SendEvent,
        DeliveryEvent,
        DeliveryNotification,
        OpenEvent,
        ClickEvent,
        UnknownNotification,
    ],
}


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def messages(name: str) -> list[str]:
    return [record["Sns"]["Message"] for record in load_fixture(name)["Records"]]


def events_of(message: dict[str, Any] | str) -> list[RecipientEvent]:
    text = message if isinstance(message, str) else json.dumps(message)
    return to_recipient_events(parse_sns_message(text))


def fixture_events(name: str) -> list[RecipientEvent]:
    return [event for message in messages(name) for event in to_recipient_events(parse_sns_message(message))]


# ---------------------------------------------------------------------------------------------- fixtures
def test_fixture_set_is_exactly_the_documented_files() -> None:
    on_disk = {path.stem for path in EVENTS_DIR.glob("sns_*.json")}
    assert on_disk == set(EXPECTED_TYPES) | {"sns_malformed"}


@pytest.mark.parametrize("name", sorted(fx.fixtures()))
def test_committed_fixture_matches_generator(name: str) -> None:
    committed = (EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8")
    assert committed == fx.render(fx.fixtures()[name]), "run: python -m tests.support.ses_fixtures"


@pytest.mark.parametrize("name", sorted(fx.fixtures()))
def test_fixture_is_a_lambda_sns_event(name: str) -> None:
    event = SnsModel.model_validate(load_fixture(name))
    assert event.Records
    assert all(record.Sns.Type == "Notification" for record in event.Records)


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_fixture_message_parses_to_expected_type(name: str) -> None:
    parsed = [parse_sns_message(message) for message in messages(name)]
    assert [type(item) for item in parsed] == EXPECTED_TYPES[name]


def test_event_publishing_fixtures_share_ids_and_tag() -> None:
    for name in EXPECTED_TYPES:
        for event in fixture_events(name):
            assert event.ses_message_id == fx.SES_MESSAGE_ID
            if event.origin == "event":
                assert event.posthorn_message_id == fx.POSTHORN_MESSAGE_ID


# --------------------------------------------------------------------------------------- normalisation
def test_send_yields_one_sent_event_per_destination_lowercased() -> None:
    events = events_of(fx.send_event(recipients=["User@Example.NET", "second@example.org"]))
    assert [(e.type, e.recipient) for e in events] == [
        (EventType.SEND, "user@example.net"),
        (EventType.SEND, "second@example.org"),
    ]
    assert all(e.details == {} and not e.suppresses for e in events)


def test_send_event_has_posthorn_message_id_from_tag_and_mail_timestamp() -> None:
    [event] = fixture_events("sns_event_send")
    assert event.posthorn_message_id == fx.POSTHORN_MESSAGE_ID
    assert event.timestamp == datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
    assert event.origin == "event"


def test_delivery_yields_one_event_per_delivered_recipient_with_smtp_details() -> None:
    message = fx.delivery_event(recipients=["a@example.net", "b@example.net"])
    message["mail"]["destination"].append("not-yet@example.net")
    events = events_of(message)
    assert [e.recipient for e in events] == ["a@example.net", "b@example.net"]
    assert events[0].type is EventType.DELIVERY
    assert events[0].timestamp == datetime(2025, 1, 15, 10, 0, 2, 345000, tzinfo=UTC)
    assert events[0].details == {
        "processing_time_millis": 2345,
        "smtp_response": "250 2.0.0 OK  1736935202 a1b2c3d4e5f6.123 - gsmtp",
        "reporting_mta": "a8-70.smtp-out.amazonses.com",
    }
    assert not any(e.suppresses for e in events)


def test_permanent_bounce_suppresses_each_bounced_recipient_with_dsn_details() -> None:
    events = events_of(fx.bounce_event(recipients=["a@example.net", "B@example.net"]))
    assert [(e.type, e.recipient, e.suppresses) for e in events] == [
        (EventType.BOUNCE, "a@example.net", True),
        (EventType.BOUNCE, "b@example.net", True),
    ]
    assert events[0].timestamp == datetime(2025, 1, 15, 10, 0, 3, 100000, tzinfo=UTC)
    assert events[0].details == {
        "bounce_type": "Permanent",
        "bounce_sub_type": "General",
        "feedback_id": fx.BOUNCE_FEEDBACK_ID,
        "reporting_mta": "dsn; mx.example.net",
        "action": "failed",
        "status": "5.1.1",
        "diagnostic_code": "smtp; 550 5.1.1 user unknown",
    }


def test_transient_bounce_does_not_suppress() -> None:
    [event] = fixture_events("sns_event_bounce_transient")
    assert event.type is EventType.BOUNCE
    assert event.details["bounce_type"] == "Transient"
    assert event.details["bounce_sub_type"] == "MailboxFull"
    assert event.suppresses is False


def test_undetermined_bounce_does_not_suppress() -> None:
    [event] = events_of(fx.bounce_event(bounce_type="Undetermined", sub_type="Undetermined"))
    assert event.suppresses is False


def test_classic_bounce_has_no_posthorn_id_and_keeps_remote_mta_ip() -> None:
    [event] = fixture_events("sns_notification_bounce")
    assert event.posthorn_message_id is None
    assert event.origin == "notification"
    assert event.suppresses is True
    assert event.details["remote_mta_ip"] == "203.0.113.25"


@pytest.mark.parametrize("name", ["sns_event_complaint", "sns_notification_complaint"])
def test_complaint_suppresses_with_feedback_details(name: str) -> None:
    [event] = fixture_events(name)
    assert (event.type, event.recipient, event.suppresses) == (EventType.COMPLAINT, fx.RECIPIENT, True)
    assert event.timestamp == datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    assert event.details == {
        "complaint_feedback_type": "abuse",
        "feedback_id": fx.COMPLAINT_FEEDBACK_ID,
        "user_agent": "ExampleCorp Feedback Loop (V0.01)",
        "arrival_date": "2025-01-15T11:59:58.000Z",
    }


def test_complaint_on_account_suppression_list_still_suppresses() -> None:
    message = fx.complaint_event()
    message["complaint"] = {
        "complainedRecipients": [{"emailAddress": fx.RECIPIENT}],
        "timestamp": "2025-01-15T10:00:01.000Z",
        "feedbackId": "fb-1",
        "complaintSubType": "OnAccountSuppressionList",
    }
    [event] = events_of(message)
    assert event.suppresses is True
    assert event.details == {"complaint_sub_type": "OnAccountSuppressionList", "feedback_id": "fb-1"}


def test_complaint_lists_every_complained_recipient() -> None:
    events = events_of(fx.complaint_event(recipients=["a@example.net", "b@example.net"]))
    assert [e.recipient for e in events] == ["a@example.net", "b@example.net"]


def test_reject_applies_to_every_destination_with_reason() -> None:
    events = events_of(fx.reject_event(recipients=["a@example.net", "b@example.net"]))
    assert [(e.type, e.recipient, e.details) for e in events] == [
        (EventType.REJECT, "a@example.net", {"reason": "Bad content"}),
        (EventType.REJECT, "b@example.net", {"reason": "Bad content"}),
    ]


def test_rendering_failure_applies_to_every_destination_with_error() -> None:
    events = events_of(fx.rendering_failure_event(recipients=["a@example.net", "b@example.net"]))
    assert [e.recipient for e in events] == ["a@example.net", "b@example.net"]
    assert events[0].type is EventType.RENDERING_FAILURE
    assert events[0].details == {
        "error_message": "Attribute 'first_name' is not present in the rendering data.",
        "template_name": "welcome",
    }


def test_rendering_failure_spelled_without_space_is_accepted() -> None:
    message = fx.rendering_failure_event()
    message["eventType"] = "RenderingFailure"
    [event] = events_of(message)
    assert event.type is EventType.RENDERING_FAILURE


def test_delivery_delay_yields_one_event_per_delayed_recipient() -> None:
    [event] = fixture_events("sns_event_delivery_delay")
    assert (event.type, event.recipient, event.suppresses) == (EventType.DELIVERY_DELAY, fx.RECIPIENT, False)
    assert event.timestamp == datetime(2025, 1, 15, 10, 10, tzinfo=UTC)
    assert event.details == {
        "delay_type": "TransientCommunicationFailure",
        "expiration_time": "2025-01-16T10:00:00.000Z",
        "status": "4.4.1",
        "diagnostic_code": "smtp; 421 4.4.1 Unable to connect to remote host",
    }


def test_open_with_single_destination_names_that_recipient() -> None:
    [event] = fixture_events("sns_event_open")
    assert (event.type, event.recipient) == (EventType.OPEN, fx.RECIPIENT)
    assert event.timestamp == datetime(2025, 1, 15, 10, 5, 0, 123000, tzinfo=UTC)
    assert set(event.details) == {"ip_address", "user_agent"}


def test_open_with_several_destinations_is_message_level() -> None:
    [event] = events_of(fx.open_event(recipients=["a@example.net", "b@example.net"]))
    assert event.recipient is None


def test_open_with_one_address_listed_twice_names_it() -> None:
    [event] = events_of(fx.open_event(recipients=["a@example.net", "A@Example.net"]))
    assert event.recipient == "a@example.net"


def test_click_carries_link_and_link_tags() -> None:
    [event] = fixture_events("sns_event_click")
    assert (event.type, event.recipient) == (EventType.CLICK, fx.RECIPIENT)
    assert event.details["link"] == "https://example.com/welcome?step=1"
    assert event.details["link_tags"] == {"campaign": ["welcome"]}
    assert event.details["ip_address"] == "198.51.100.7"


def test_subscription_carries_new_preferences_and_does_not_suppress() -> None:
    [event] = fixture_events("sns_event_subscription")
    assert (event.type, event.recipient, event.suppresses) == (EventType.SUBSCRIPTION, fx.RECIPIENT, False)
    assert event.timestamp == datetime(2025, 1, 15, 12, 30, tzinfo=UTC)
    assert event.details == {
        "contact_list": "posthorn-newsletter",
        "source": "UnsubscribeHeader",
        "unsubscribe_all": True,
        "topic_subscription_status": [{"topic_name": "product-updates", "subscription_status": "OptOut"}],
    }


def test_duplicate_destinations_yield_one_event_each() -> None:
    events = events_of(fx.send_event(recipients=["a@example.net", "A@EXAMPLE.NET", "b@example.net"]))
    assert [e.recipient for e in events] == ["a@example.net", "b@example.net"]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("User@Example.NET", "user@example.net"),
        ("  user@example.net ", "user@example.net"),
        ('"User, Name" <User@Example.NET>', "user@example.net"),
        ("rfc822; User@Example.net", "user@example.net"),
    ],
)
def test_normalise_address(raw: str, normalised: str) -> None:
    assert normalise_address(raw) == normalised


# ------------------------------------------------------------------------------------------ timestamps
def test_every_recipient_event_timestamp_is_timezone_aware() -> None:
    for name in EXPECTED_TYPES:
        for event in fixture_events(name):
            assert event.timestamp.utcoffset() is not None


def test_bounce_without_own_timestamp_falls_back_to_mail_timestamp() -> None:
    message = fx.bounce_event()
    del message["bounce"]["timestamp"]
    [event] = events_of(message)
    assert event.timestamp == datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def test_mail_timestamp_with_space_before_offset_parses() -> None:
    # The classic-notification guide's own example: "2018-10-08T14:05:45 +0000".
    message = fx.delivery_notification()
    message["mail"]["timestamp"] = "2018-10-08T14:05:45 +0000"
    del message["delivery"]["timestamp"]
    [event] = events_of(message)
    assert event.timestamp == datetime(2018, 10, 8, 14, 5, 45, tzinfo=UTC)


def test_timestamp_without_offset_is_taken_as_utc() -> None:
    message = fx.open_event(timestamp="2025-01-15T10:05:00")
    [event] = events_of(message)
    assert event.timestamp == datetime(2025, 1, 15, 10, 5, tzinfo=UTC)


def test_timestamp_with_other_offset_is_kept_aware() -> None:
    [event] = events_of(fx.open_event(timestamp="2025-01-15T13:05:00.000+03:00"))
    assert event.timestamp == datetime(2025, 1, 15, 10, 5, tzinfo=UTC)


# ------------------------------------------------------------------------------------- unknown, ignored
def test_unknown_event_type_is_unknown_not_an_error() -> None:
    [message] = messages("sns_event_unknown_type")
    parsed = parse_sns_message(message)
    assert parsed == UnknownNotification(format="event", type_name="FutureEventType", ignored=False)
    assert to_recipient_events(parsed) == []


def test_unknown_notification_type_is_unknown() -> None:
    parsed = parse_sns_message(json.dumps({"notificationType": "Frobnicated", "mail": {}}))
    assert parsed == UnknownNotification(format="notification", type_name="Frobnicated", ignored=False)


@pytest.mark.parametrize("notification_type", ["Received", "AmazonSnsSubscriptionSucceeded"])
def test_documented_non_sending_notification_types_are_ignored(notification_type: str) -> None:
    parsed = parse_sns_message(json.dumps({"notificationType": notification_type, "message": "whatever"}))
    assert isinstance(parsed, UnknownNotification)
    assert parsed.ignored is True
    assert to_recipient_events(parsed) == []


def test_object_without_a_type_field_is_unknown() -> None:
    parsed = parse_sns_message(json.dumps({"hello": "world"}))
    assert parsed == UnknownNotification(format="none", type_name=None)


def test_event_type_that_is_not_a_string_is_unknown() -> None:
    parsed = parse_sns_message(json.dumps({"eventType": ["Bounce"], "mail": {}}))
    assert isinstance(parsed, UnknownNotification)
    assert parsed.ignored is False


def test_unknown_fields_anywhere_are_ignored() -> None:
    message = fx.bounce_event()
    message["newTopLevelThing"] = {"x": 1}
    message["mail"]["newMailField"] = "y"
    message["bounce"]["bouncedRecipients"][0]["newRecipientField"] = True
    [event] = events_of(message)
    assert event.recipient == fx.RECIPIENT
    assert "newRecipientField" not in event.details


def test_event_type_wins_when_both_type_fields_are_present() -> None:
    message = fx.send_event()
    message["notificationType"] = "Bounce"
    assert isinstance(parse_sns_message(json.dumps(message)), SendEvent)


# -------------------------------------------------------------------------------------------- malformed
def test_malformed_fixture_raises_malformed_notification() -> None:
    [message] = messages("sns_malformed")
    with pytest.raises(MalformedNotification, match="not JSON"):
        parse_sns_message(message)


@pytest.mark.parametrize("message", ["[]", '"a string"', "42", "null"])
def test_json_that_is_not_an_object_is_malformed(message: str) -> None:
    with pytest.raises(MalformedNotification, match="not an object"):
        parse_sns_message(message)


def test_known_type_missing_its_object_is_malformed_and_names_the_field() -> None:
    message = fx.bounce_event()
    del message["bounce"]
    with pytest.raises(MalformedNotification) as caught:
        parse_sns_message(json.dumps(message))
    assert any("bounce" in error and "Field required" in error for error in caught.value.errors)


def test_malformed_error_text_never_contains_the_address() -> None:
    message = fx.bounce_event(recipients=["secret.person@example.net"])
    message["bounce"]["bouncedRecipients"][0]["emailAddress"] = {"not": "a string"}
    message["mail"]["timestamp"] = "secret.person@example.net"
    with pytest.raises(MalformedNotification) as caught:
        parse_sns_message(json.dumps(message))
    assert "secret.person" not in str(caught.value)
    assert "secret.person" not in " ".join(caught.value.errors)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_models_parse_dicts_directly() -> None:
    assert isinstance(parse_ses_notification(fx.delivery_notification()), DeliveryNotification)


# ------------------------------------------------------------------------------------------------ dedupe
def test_same_event_delivered_twice_has_the_same_keys() -> None:
    for name in EXPECTED_TYPES:
        first = [e.event_key for e in fixture_events(name)]
        second = [e.event_key for e in fixture_events(name)]
        assert first == second


def test_bounce_key_is_equal_across_event_publishing_and_classic_notification() -> None:
    [published] = fixture_events("sns_event_bounce_permanent")
    [classic] = fixture_events("sns_notification_bounce")
    assert published.event_key == classic.event_key


def test_complaint_key_is_equal_across_formats() -> None:
    [published] = fixture_events("sns_event_complaint")
    [classic] = fixture_events("sns_notification_complaint")
    assert published.event_key == classic.event_key


def test_delivery_key_is_equal_across_formats() -> None:
    [published] = fixture_events("sns_event_delivery")
    [classic] = fixture_events("sns_notification_delivery")
    assert published.event_key == classic.event_key


def test_delivery_key_is_equal_across_formats_even_when_timestamps_are_written_differently() -> None:
    published = fx.delivery_event(timestamp="2025-01-15T10:00:02.345Z")
    classic = fx.delivery_notification()
    classic["delivery"]["timestamp"] = "2025-01-15T10:00:02.345+00:00"
    assert events_of(published)[0].event_key == events_of(classic)[0].event_key


def test_batched_and_per_recipient_classic_deliveries_have_the_same_keys() -> None:
    batched = events_of(fx.delivery_notification(recipients=["a@example.net", "b@example.net"]))
    split = events_of(fx.delivery_notification(recipients=["a@example.net"])) + events_of(
        fx.delivery_notification(recipients=["b@example.net"])
    )
    assert [e.event_key for e in batched] == [e.event_key for e in split]


def test_key_ignores_address_case_and_display_form() -> None:
    lower = events_of(fx.bounce_event(recipients=["user@example.net"]))[0]
    upper = events_of(fx.bounce_event(recipients=["User@EXAMPLE.net"]))[0]
    assert lower.event_key == upper.event_key


def test_key_differs_per_recipient() -> None:
    events = events_of(fx.bounce_event(recipients=["a@example.net", "b@example.net"]))
    assert events[0].event_key != events[1].event_key


def test_key_differs_per_feedback_id() -> None:
    first = events_of(fx.bounce_event(feedback_id="fb-1"))[0]
    second = events_of(fx.bounce_event(feedback_id="fb-2"))[0]
    assert first.event_key != second.event_key


def test_bounce_without_feedback_id_is_keyed_by_its_timestamp() -> None:
    def without_feedback(timestamp: str) -> dict[str, Any]:
        message = fx.bounce_event(timestamp=timestamp)
        del message["bounce"]["feedbackId"]
        return message

    first = events_of(without_feedback("2025-01-15T10:00:03.100Z"))[0]
    again = events_of(without_feedback("2025-01-15T10:00:03.100Z"))[0]
    later = events_of(without_feedback("2025-01-15T10:30:00.000Z"))[0]
    assert first.event_key == again.event_key
    assert first.event_key != later.event_key


def test_two_opens_at_different_times_have_different_keys() -> None:
    first = events_of(fx.open_event(timestamp="2025-01-15T10:05:00.123Z"))[0]
    second = events_of(fx.open_event(timestamp="2025-01-15T10:05:00.124Z"))[0]
    assert first.event_key != second.event_key


def test_clicks_at_the_same_moment_on_different_links_have_different_keys() -> None:
    first = events_of(fx.click_event(link="https://example.com/a"))[0]
    second = events_of(fx.click_event(link="https://example.com/b"))[0]
    assert first.event_key != second.event_key


def test_two_delivery_delays_have_different_keys() -> None:
    first = events_of(fx.delivery_delay_event(timestamp="2025-01-15T10:10:00.000Z"))[0]
    second = events_of(fx.delivery_delay_event(timestamp="2025-01-15T11:10:00.000Z"))[0]
    assert first.event_key != second.event_key


def test_same_event_for_another_ses_message_has_another_key() -> None:
    first = events_of(fx.delivery_event())[0]
    other = events_of(
        fx.delivery_event(message_id="010001234567890a-ffffffff-0000-0000-0000-000000000000-000000")
    )[0]
    assert first.event_key != other.event_key


def test_distinct_fixture_events_have_distinct_keys_and_cross_format_pairs_collide() -> None:
    keys: dict[str, set[str]] = {}
    for name in sorted(EXPECTED_TYPES):
        if name == "sns_batch_mixed":
            continue
        for event in fixture_events(name):
            keys.setdefault(event.event_key, set()).add(name)
    shared = sorted(sorted(names) for names in keys.values() if len(names) > 1)
    assert shared == [
        ["sns_event_bounce_permanent", "sns_notification_bounce"],
        ["sns_event_complaint", "sns_notification_complaint"],
        ["sns_event_delivery", "sns_notification_delivery"],
    ]


def test_key_is_prefixed_by_type_and_does_not_expose_the_address() -> None:
    for name in EXPECTED_TYPES:
        for event in fixture_events(name):
            assert event.event_key.startswith(f"{event.type}:")
            assert "@" not in event.event_key


def test_batch_fixture_delivers_the_same_delivery_twice_under_one_key() -> None:
    events = fixture_events("sns_batch_mixed")
    deliveries = [e for e in events if e.type is EventType.DELIVERY]
    assert len(deliveries) == 2
    assert deliveries[0].event_key == deliveries[1].event_key
    assert len({e.event_key for e in events}) == len(events) - 1


def test_recipient_event_is_immutable() -> None:
    [event] = fixture_events("sns_event_delivery")
    with pytest.raises(ValueError, match="frozen"):
        event.recipient = "other@example.net"  # type: ignore[misc]


def test_parsing_does_not_mutate_a_reused_builder_output() -> None:
    message = fx.bounce_event()
    before = copy.deepcopy(message)
    parse_ses_notification(message)
    assert message == before
