"""A message's life as figure 10 prices it (the API's send with a tag, then SES's Send, Delivery and Open,
each delivered twice as SNS may), and what the API answers about it afterwards, on the real handlers against
moto: the message with its events, the listing under each status, the stats per tag. Also what the send
leaves in the table for SES's id: no gsi1 keys on the message item, and a pointer item only for a message
sent without a configuration set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from posthorn_local.apigw import LambdaContext
from tests.conftest import Stack
from tests.support import ses_fixtures
from tests.support.api import ApiClient
from tests.support.bodies import email_body
from tests.support.records import message_record


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notify(
    message: dict[str, Any], ses_event: dict[str, Any], *, tagged: bool = True, stamp: bool = True
) -> dict[str, Any]:
    """Deliver one SES event about `message` to the events function, as SNS would; `tagged=False`: without
    the `posthorn_message_id` tag (a classic notification), so the SES id alone must find the message;
    `stamp`: its times set to now (False: as they are, to deliver it again)."""
    from ses_events.handler import lambda_handler

    ses_event["mail"]["messageId"] = message["ses_message_id"]
    if tagged:
        ses_event["mail"]["tags"] = {"posthorn_message_id": [message["message_id"]]}
    for part in ("mail", "delivery", "open"):
        if part in ses_event and stamp:
            ses_event[part]["timestamp"] = now_iso()
    event = ses_fixtures.lambda_event(ses_fixtures.sns_record(ses_event, name=message["message_id"]))
    return dict(lambda_handler(event, LambdaContext(function_name="events")))


def send(api: ApiClient, key: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/email", email_body(to=[ses_fixtures.RECIPIENT], **fields), api_key=key)
    assert response.status == 200, response.body
    return dict(api.get(f"/v1/messages/{response.json['message_id']}", api_key=key).json)


def listed(api: ApiClient, key: str, **query: Any) -> list[str]:
    page = api.get("/v1/messages", api_key=key, query=urlencode(query))
    assert page.status == 200, page.body
    return [m["message_id"] for m in page.json["messages"]]


def test_the_figures_life_answers_as_before(api: ApiClient, sender_key: str) -> None:
    message = send(api, sender_key, tags=["welcome"], track_opens=True)
    assert message["status"] == "sent"
    events = [ses_fixtures.send_event(), ses_fixtures.delivery_event(), ses_fixtures.open_event()]
    for ses_event in events:
        notify(message, ses_event)
    for ses_event in events:  # the same notifications again, timestamps and all
        notify(message, ses_event, stamp=False)

    found = api.get(f"/v1/messages/{message['message_id']}", api_key=sender_key).json
    assert found["status"] == "opened"
    assert [r["status"] for r in found["recipients"]] == ["opened"]
    assert sorted(event["type"] for event in found["events"]) == ["delivery", "open", "send"]
    assert listed(api, sender_key, status="opened") == [message["message_id"]]
    for status in ("queued", "sent", "delivered"):
        assert listed(api, sender_key, status=status) == []
    assert listed(api, sender_key, tag="welcome") == [message["message_id"]]
    for query in ("", "tag=welcome"):
        totals = api.get("/v1/stats", api_key=sender_key, query=query).json["totals"]
        assert (totals["sent"], totals["delivered"], totals["opened"]) == (1, 1, 1)


def test_a_message_with_a_configuration_set_has_no_ses_id_pointer_and_its_events_need_none(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    """Every event SES publishes through a configuration set carries the message's tags; a classic
    notification (no tags) about such a message repeats one of them and is kept as unmatched."""
    message = send(api, sender_key)
    db = stack.session.client("dynamodb")
    item = db.get_item(
        TableName=stack.table, Key={"pk": {"S": f"MSG#{message['message_id']}"}, "sk": {"S": "MSG"}}
    )["Item"]
    assert item["configuration_set"]["S"]
    assert "gsi1pk" not in item
    assert "gsi1sk" not in item
    pointer_key = {"pk": {"S": f"SES#{message['ses_message_id']}"}, "sk": {"S": "SES"}}
    assert "Item" not in db.get_item(TableName=stack.table, Key=pointer_key)
    assert notify(message, ses_fixtures.delivery_event())["outcomes"]["recorded"] == 1
    assert notify(message, ses_fixtures.delivery_notification(), tagged=False)["outcomes"]["unmatched"] == 1
    found = api.get(f"/v1/messages/{message['message_id']}", api_key=sender_key).json
    assert found["status"] == "delivered"
    assert [event["type"] for event in found["events"]] == ["send", "delivery"]  # send: from `mark_sent`


def test_a_message_without_a_configuration_set_is_found_by_ses_id_through_a_pointer(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    """Stored and sent as the send path does, but without a configuration set (which a deployed stack
    always gives): SES publishes no event for it, so only a classic notification, without tags, can name
    it, and its SES id must find it."""
    from posthorn import wiring

    store = wiring.messages()
    recipients = (ses_fixtures.RECIPIENT,)
    record = message_record("msg_" + "0" * 24, recipients=recipients, created_at=datetime.now(UTC))
    assert record.configuration_set is None
    store.create_message(record)
    store.mark_sent(record.message_id, "0100-no-configuration-set", {ses_fixtures.RECIPIENT: "sent"})
    message = {"message_id": record.message_id, "ses_message_id": "0100-no-configuration-set"}
    db = stack.session.client("dynamodb")
    item = db.get_item(
        TableName=stack.table, Key={"pk": {"S": f"MSG#{message['message_id']}"}, "sk": {"S": "MSG"}}
    )["Item"]
    pointer = db.get_item(
        TableName=stack.table, Key={"pk": {"S": f"SES#{message['ses_message_id']}"}, "sk": {"S": "SES"}}
    )["Item"]
    assert pointer["message_id"] == {"S": message["message_id"]}
    assert pointer.get("ttl") == item.get("ttl")  # it expires with its message
    result = notify(message, ses_fixtures.delivery_notification(), tagged=False)
    assert result["outcomes"]["recorded"] == 1
    found = api.get(f"/v1/messages/{message['message_id']}", api_key=sender_key).json
    assert found["status"] == "delivered"
    assert listed(api, sender_key, status="delivered") == [message["message_id"]]
