"""Retention (docs/api.md, "Retention") on the real handlers against moto: every item written over a message's
life carries the message's expiry, and a message past it is gone to every reader before DynamoDB deletes it.

moto deletes nothing by TTL here, as DynamoDB may not for up to 48 hours: the tests read the stamped `ttl` and
move the readers' clock (`wiring.clock`) past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from posthorn.adapters.dynamodb.stats import counter_ttl
from posthorn_local.queue_poller import QueuePoller
from tests.conftest import SENDER_DOMAIN, Stack
from tests.integration.test_listing_stats_guard import notify, send
from tests.support import ses_fixtures
from tests.support.api import ApiClient
from tests.support.bodies import email_body
from tests.support.fakes import FixedClock
from tests.support.webhook_receiver import WebhookReceiver, run_sender

DAY = 24 * 3600
RETENTION_DAYS = 90  # the template's default, which the tests' functions are given


@pytest.fixture
def hooks_key(
    stack: Stack, api: ApiClient, admin: str, sender_key: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A `webhooks` credential for the sender's domain; webhooks may go to loopback, as locally."""
    from posthorn import wiring

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    wiring.reset()
    created = api.post(
        "/v1/credentials",
        {"name": "hooks", "domains": [SENDER_DOMAIN], "permissions": ["webhooks"]},
        api_key=admin,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def webhook_to(api: ApiClient, key: str, receiver: WebhookReceiver) -> str:
    answer = api.post("/v1/webhooks", {"url": receiver.url("/r"), "events": ["*"]}, api_key=key)
    assert answer.status == 201, answer.body
    receiver.expect_secrets("/r", answer.json["secret"])
    return str(answer.json["webhook_id"])


def scan(stack: Stack, table: str) -> list[dict[str, Any]]:
    from posthorn.adapters.dynamodb.table import from_item

    pages = stack.session.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return [from_item(item) for page in pages for item in page["Items"]]


def expiry_of(stack: Stack, message_id: str) -> int:
    """What every item of the message should carry: its creation, as stored, plus the retention."""
    from posthorn.adapters.dynamodb.table import Repository, Table

    stored = Repository(Table(stack.table)).get({"pk": f"MSG#{message_id}", "sk": "MSG"})
    assert stored is not None
    return int(datetime.fromisoformat(stored["created_at"]).timestamp()) + RETENTION_DAYS * DAY


def kind_of(item: dict[str, Any]) -> str:
    pk, sk = str(item["pk"]), str(item["sk"])
    if pk.startswith("LIST#"):
        return "status" if "#S#" in pk else "listing"
    if pk.startswith("MSG#"):
        return "message" if sk == "MSG" else "event"
    return pk.split("#", 1)[0].lower()


def message_of(item: dict[str, Any]) -> str | None:
    if "message_id" in item:
        return str(item["message_id"])
    if str(item["pk"]).startswith("MSG#"):
        return str(item["pk"]).removeprefix("MSG#")
    return None


def test_every_item_written_over_a_messages_life_expires_with_it(
    api: ApiClient,
    sender_key: str,
    hooks_key: str,
    stack: Stack,
    worker: QueuePoller,
    receiver: WebhookReceiver,
) -> None:
    from posthorn import wiring

    webhook_to(api, hooks_key, receiver)
    # Sent at once through the API, tagged and referenced (listing items of every kind), then delivered: its
    # event, the counters raised, a webhook delivery made and attempted; then clicked: a status with a
    # status item of its own (`models/listing.py`: the usual path's statuses have none).
    message = send(api, sender_key, ses_fixtures.RECIPIENT, tags=["welcome"], client_reference="order-1")
    # What follows happens a day later: the retention still counts from the message's creation.
    wiring.override(wiring.clock, FixedClock(datetime.now(UTC) + timedelta(days=1)))
    notify(message, ses_fixtures.delivery_event())
    notify(message, ses_fixtures.click_event())
    prompts = QueuePoller(stack.session.client("sqs"), stack.ids["WebhookQueue"], run_sender, wait_seconds=0)
    prompts.run_until_empty(timeout=10)
    assert receiver.on("/r"), "the delivery was attempted (an attempt rewrites the delivery's item)"
    # Queued by a batch, then held by the worker: its domain is paused.
    batch = api.post(
        "/v1/email/batch", {"messages": [email_body(to=["held@example.net"])]}, api_key=sender_key
    )
    [held_id] = [result["message_id"] for result in batch.json["results"]]
    wiring.domains().pause_domain(SENDER_DOMAIN, at=datetime.now(UTC), reason="retention test")
    worker.run_until_empty(timeout=30)

    items = scan(stack, stack.table) + scan(stack, stack.ids["WebhooksTable"])
    seen: dict[str, set[str]] = {}
    for item in items:
        message_id = message_of(item)
        if message_id in (message["message_id"], held_id):
            seen.setdefault(kind_of(item), set()).add(message_id)
            assert item.get("ttl") == expiry_of(stack, message_id), item
        elif str(item["pk"]).startswith("STATS#"):
            seen.setdefault("stats", set())
            assert item["ttl"] == counter_ttl(str(item["sk"]).removeprefix("H#")), item
    # No pointer from SES's id: sent with a configuration set (test_message_life.py has one expire).
    assert set(seen) == {"message", "event", "listing", "status", "held", "dlv", "stats"}
    assert seen["held"] == {held_id}
    assert seen["dlv"] == {message["message_id"]}
    assert expiry_of(stack, message["message_id"]) == pytest.approx(
        datetime.now(UTC).timestamp() + RETENTION_DAYS * DAY, abs=120
    )
    # Counters: 400 days from their hour, however long messages are kept.
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    expected = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp() + 400 * DAY
    assert counter_ttl(hour) == int(expected)


def test_an_expired_message_is_404_and_gone_from_the_listing_before_dynamodb_deletes_it(
    api: ApiClient, sender_key: str, hooks_key: str, receiver: WebhookReceiver, stack: Stack
) -> None:
    from posthorn import wiring

    webhook_id = webhook_to(api, hooks_key, receiver)
    old = send(api, sender_key, ses_fixtures.RECIPIENT, tags=["welcome"])
    notify(old, ses_fixtures.delivery_event())
    made = api.get(f"/v1/webhooks/{webhook_id}/deliveries", api_key=hooks_key).json["deliveries"]
    assert sorted(d["event_type"] for d in made) == ["email.delivered", "email.sent"]  # sent: at SES's 250
    expires = datetime.fromtimestamp(expiry_of(stack, old["message_id"]), UTC)

    wiring.override(wiring.clock, FixedClock(expires - timedelta(seconds=1)))
    assert api.get(f"/v1/messages/{old['message_id']}", api_key=sender_key).status == 200

    wiring.override(wiring.clock, FixedClock(expires))
    assert api.get(f"/v1/messages/{old['message_id']}", api_key=sender_key).status == 404
    new = send(api, sender_key, ses_fixtures.RECIPIENT, tags=["welcome"])  # sent on the day: kept
    for query in ({}, {"tag": "welcome"}, {"recipient": ses_fixtures.RECIPIENT}, {"status": "delivered"}):
        listed = api.get("/v1/messages", api_key=sender_key, query=urlencode(query)).json
        expected = [] if query.get("status") else [new["message_id"]]
        assert [m["message_id"] for m in listed["messages"]] == expected, query
        assert listed["next_cursor"] is None
    # Its webhook deliveries went with it: not listed, and not replayed.
    listed = api.get(f"/v1/webhooks/{webhook_id}/deliveries", api_key=hooks_key).json["deliveries"]
    for delivery in made:
        assert delivery["delivery_id"] not in [d["delivery_id"] for d in listed]
        replay = f"/v1/webhooks/{webhook_id}/deliveries/{delivery['delivery_id']}/replay"
        assert api.post(replay, api_key=hooks_key).status == 404
    # Still stored: only DynamoDB's TTL deletes it, when it gets to it.
    assert any(item["pk"] == f"MSG#{old['message_id']}" for item in scan(stack, stack.table))


def test_an_expired_message_is_skipped_and_the_listing_pages_on_to_the_end(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    """A page reads past expired entries: the cursor moves on, and pages end with a null cursor."""
    from posthorn import wiring

    olds = [send(api, sender_key, f"old{index}@example.net")["message_id"] for index in range(3)]
    expires = datetime.fromtimestamp(max(expiry_of(stack, message_id) for message_id in olds), UTC)
    news = []
    for index in range(2):  # kept: sent on the day the first ones expire, a second apart
        wiring.override(wiring.clock, FixedClock(expires + timedelta(seconds=index)))
        news.append(send(api, sender_key, f"new{index}@example.net")["message_id"])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/messages", api_key=sender_key, query=urlencode(query)).json
        seen += [m["message_id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(news))
    assert cursor is None


def test_retention_zero_keeps_messages_for_ever_and_counters_400_days(
    api: ApiClient, sender_key: str, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posthorn import wiring

    monkeypatch.setenv("MESSAGE_RETENTION_DAYS", "0")
    wiring.reset()
    message = send(api, sender_key, ses_fixtures.RECIPIENT, tags=["kept"])
    notify(message, ses_fixtures.delivery_event())
    notify(message, ses_fixtures.click_event())  # clicked has a status item (`models/listing.py`)
    notify(message, ses_fixtures.open_event())  # raises nothing after the click: an event item of its own
    items = scan(stack, stack.table)
    mine = [item for item in items if message_of(item) == message["message_id"]]
    assert {kind_of(item) for item in mine} == {"message", "event", "listing", "status"}
    assert all("ttl" not in item for item in mine), mine
    counters = [item for item in items if str(item["pk"]).startswith("STATS#")]
    assert counters
    assert all(item["ttl"] == counter_ttl(str(item["sk"]).removeprefix("H#")) for item in counters)
    wiring.override(wiring.clock, FixedClock(datetime.now(UTC) + timedelta(days=3650)))
    assert api.get(f"/v1/messages/{message['message_id']}", api_key=sender_key).status == 200
