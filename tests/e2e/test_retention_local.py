"""`POSTHORN_MESSAGE_RETENTION_DAYS` on the local stack (docs/api.md, "Retention"): every function reads it in
place of the template's MessageRetentionDays, and what they write for a message carries that expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from posthorn.settings import RetentionSettings
from posthorn_local.stack import LocalStack
from tests.e2e.conftest import Http, running_stack
from tests.e2e.test_local_stack import send

DAYS = 7


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack({"POSTHORN_MESSAGE_RETENTION_DAYS": str(DAYS)}) as running:
        yield running


def test_every_function_reads_the_local_retention(stack: LocalStack) -> None:
    for name, settings in stack.settings.items():
        assert isinstance(settings, RetentionSettings), name
        assert settings.message_retention_days == DAYS, name


def test_a_message_and_its_events_carry_the_local_retention(
    stack: LocalStack, http: Http, sender_key: str
) -> None:
    message_id = send(http, sender_key, to=["success@simulator.amazonses.com"])
    dynamodb = boto3.client("dynamodb")

    def items() -> list[dict[str, Any]]:
        query = dynamodb.query(
            TableName=stack.ids["Table"],
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"MSG#{message_id}"}},
        )
        return list(query["Items"])

    def has_event(item: dict[str, Any]) -> bool:
        """An event item of its own, or an event riding on the message item (`E#...`, which raised its
        recipient's status in the same write; it expires with that item)."""
        return item["sk"]["S"].startswith("EVT#") or any(name.startswith("E#") for name in item)

    deadline = time.monotonic() + 30
    while not any(has_event(item) for item in items()):  # SES's Delivery event
        assert time.monotonic() < deadline, "no event was recorded"
        time.sleep(0.2)
    stored = items()
    [message] = [item for item in stored if item["sk"]["S"] == "MSG"]
    created = datetime.fromisoformat(message["created_at"]["S"])
    expected = str(int(created.timestamp()) + DAYS * 24 * 3600)
    assert {item["sk"]["S"]: item.get("ttl", {}).get("N") for item in stored} == {
        item["sk"]["S"]: expected for item in stored
    }
