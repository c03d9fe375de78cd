"""The listing partitions split over write shards (`adapters/dynamodb/listing.py`): a domain's messages land
on several shards, and `GET /v1/messages` still pages them newest first with its cursors, whatever the
filter; items written before the shards (on the unsharded key) are still listed, and a status move of such
a message lists it under its new status only. Against moto, through the API and events functions."""

from __future__ import annotations

from typing import Any

import pytest

from posthorn.adapters.dynamodb import listing as index
from posthorn.models.listing import LISTING_SHARDS
from tests.conftest import Stack
from tests.integration.test_listing_stats_guard import listing, notify, send
from tests.support import ses_fixtures
from tests.support.api import ApiClient


def list_all(api: ApiClient, key: str, limit: int, **query: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = listing(api, key, limit=limit, **query, **({"cursor": cursor} if cursor else {}))
        assert page.status == 200, page.body
        assert len(page.json["messages"]) <= limit
        seen += [message["message_id"] for message in page.json["messages"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return seen


def listing_items(stack: Stack) -> list[dict[str, Any]]:
    items = stack.session.client("dynamodb").scan(TableName=stack.table)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("LIST#")]


def test_partition_keys_keep_the_unsharded_key_as_shard_0_and_never_meet_a_value() -> None:
    assert index.partition("example.com") == "LIST#example.com"
    assert index.partition("example.com", "status", "sent", 3) == "LIST#example.com#3#S#sent"
    assert index.partition("example.com", "tag", "a", 0) == "LIST#example.com#T#a"
    keys = {
        index.partition("example.com", kind, value, shard)
        for kind in (None, "tag", "status")
        for value in ("3", "S#x", "1#T#y")
        for shard in range(LISTING_SHARDS)
    }
    assert len(keys) == (1 + 3 + 3) * LISTING_SHARDS
    with pytest.raises(ValueError, match="not sharded"):
        index.partition("example.com", "recipient", "a@example.net", 2)


def test_messages_spread_over_shards_and_list_newest_first_through_cursors(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    sent = [send(api, sender_key, f"user{n}@example.net", tags=["t"])["message_id"] for n in range(20)]
    shards = {index.listing_shard(message_id) for message_id in sent}
    assert len(shards) > 3
    domain_keys = {item["pk"]["S"] for item in listing_items(stack) if "#R#" not in item["pk"]["S"]}
    assert {index.partition("example.com", shard=shard) for shard in shards} <= domain_keys
    newest_first = list(reversed(sent))
    for limit in (1, 3, 7, 20, 100):
        assert list_all(api, sender_key, limit) == newest_first, limit
    assert list_all(api, sender_key, 4, tag="t") == newest_first
    assert list_all(api, sender_key, 6, status="sent") == newest_first
    page = listing(api, sender_key, limit=5).json
    assert [m["message_id"] for m in page["messages"]] == newest_first[:5]
    assert page["next_cursor"] is not None


def test_items_written_before_the_shards_are_listed_and_a_status_move_lists_them_once(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    dynamodb = stack.session.client("dynamodb")
    sent = [send(api, sender_key, f"user{n}@example.net")["message_id"] for n in range(6)]
    old = next(message_id for message_id in sent if index.listing_shard(message_id) != 0)
    for item in listing_items(stack):  # as the code before the shards wrote them: on the unsharded keys
        if item["message_id"]["S"] == old and "#R#" not in item["pk"]["S"]:
            dynamodb.delete_item(TableName=stack.table, Key={"pk": item["pk"], "sk": item["sk"]})
            unsharded = item["pk"]["S"].replace(f"#{index.listing_shard(old)}", "", 1)
            dynamodb.put_item(TableName=stack.table, Item=item | {"pk": {"S": unsharded}})
    assert list_all(api, sender_key, 2) == list(reversed(sent))
    assert list_all(api, sender_key, 4, status="sent") == list(reversed(sent))

    message = api.get(f"/v1/messages/{old}", api_key=sender_key).json
    notify(message, ses_fixtures.delivery_event(recipients=[message["recipients"][0]["email"]]))
    assert list_all(api, sender_key, 3, status="delivered") == [old]
    assert list_all(api, sender_key, 3, status="sent") == [m for m in reversed(sent) if m != old]
    assert list_all(api, sender_key, 3) == list(reversed(sent))


def test_the_usual_path_writes_no_status_item_and_a_rarer_status_moves_in_and_out_of_its_own(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    sent = [send(api, sender_key, f"user{n}@example.net")["message_id"] for n in range(4)]
    messages = [api.get(f"/v1/messages/{message_id}", api_key=sender_key).json for message_id in sent]
    for message in messages:
        notify(message, ses_fixtures.delivery_event(recipients=[message["recipients"][0]["email"]]))
    notify(messages[0], ses_fixtures.open_event(recipients=[messages[0]["recipients"][0]["email"]]))
    notify(messages[1], ses_fixtures.click_event(recipients=[messages[1]["recipients"][0]["email"]]))
    status_keys = {item["pk"]["S"] for item in listing_items(stack) if "#S#" in item["pk"]["S"]}
    # queued, sent, delivered, opened: none; clicked: its own partition, in the message's shard.
    assert status_keys == {index.partition("example.com", "status", "clicked", index.listing_shard(sent[1]))}
    assert list_all(api, sender_key, 2, status="delivered") == [sent[3], sent[2]]
    assert list_all(api, sender_key, 2, status="opened") == [sent[0]]
    assert list_all(api, sender_key, 2, status="clicked") == [sent[1]]
    assert list_all(api, sender_key, 2, status="sent") == []
    notify(messages[1], ses_fixtures.complaint_event(recipients=[messages[1]["recipients"][0]["email"]]))
    status_keys = {item["pk"]["S"] for item in listing_items(stack) if "#S#" in item["pk"]["S"]}
    assert status_keys == {
        index.partition("example.com", "status", "complained", index.listing_shard(sent[1]))
    }
    assert list_all(api, sender_key, 2, status="complained") == [sent[1]]
    assert list_all(api, sender_key, 2, status="clicked") == []
