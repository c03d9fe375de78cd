"""scripts/backfill_listing.py: messages and suppressions stored without listing items are listed after it."""

from __future__ import annotations

from urllib.parse import urlencode

from scripts.backfill_listing import backfill
from tests.conftest import Stack
from tests.support.api import ApiClient
from tests.support.bodies import email_body


def test_the_backfill_lists_what_was_stored_before_the_listing_items(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    from posthorn import wiring

    sent = api.post("/v1/email", email_body(tags=["old"]), api_key=sender_key).json["message_id"]
    assert api.post("/v1/suppressions", {"email": "gone@example.net"}, api_key=sender_key).status == 201
    db = stack.session.client("dynamodb")
    for page in db.get_paginator("scan").paginate(TableName=stack.table):
        for item in page["Items"]:  # as an older Posthorn left the table: no listing items
            if item["pk"]["S"].startswith(("LIST#", "SUPPLIST#")):
                db.delete_item(TableName=stack.table, Key={"pk": item["pk"], "sk": item["sk"]})
    assert api.get("/v1/messages", api_key=sender_key).json["messages"] == []
    assert api.get("/v1/suppressions", api_key=sender_key).json["suppressions"] == []

    read, written = backfill(wiring.messages())
    assert read >= 2
    assert written > 0
    listed = api.get("/v1/messages", api_key=sender_key, query=urlencode({"tag": "old"})).json["messages"]
    assert [message["message_id"] for message in listed] == [sent]
    assert [e["email"] for e in api.get("/v1/suppressions", api_key=sender_key).json["suppressions"]] == [
        "gone@example.net"
    ]
    assert backfill(wiring.messages())[1] == written  # again: the same items, nothing more


def test_the_backfill_lists_domains_registered_before_the_domain_listing(
    api: ApiClient, admin: str, sender_key: str, stack: Stack
) -> None:
    from posthorn import wiring

    listed_before = [d["domain"] for d in api.get("/v1/domains", api_key=admin).json["domains"]]
    assert listed_before
    db = stack.session.client("dynamodb")
    for page in db.get_paginator("scan").paginate(TableName=stack.table):
        for item in page["Items"]:  # as an older Posthorn registered them: no gsi1 keys
            if item["sk"]["S"] == "DOMAIN":
                db.update_item(
                    TableName=stack.table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="REMOVE gsi1pk, gsi1sk",
                )
    assert api.get("/v1/domains", api_key=admin).json["domains"] == []

    first = backfill(wiring.messages())[1]
    assert [d["domain"] for d in api.get("/v1/domains", api_key=admin).json["domains"]] == listed_before
    again = backfill(wiring.messages())[1]  # the messages' and suppressions' puts again, no domain update
    assert first - again == len(listed_before)
