"""The send queue in tests: what is waiting in it, and a queue that cannot be reached."""

from __future__ import annotations

import json
from typing import Any

import pytest

MISSING_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"


def take_queued(session: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every message waiting in the queue; their bodies."""
    sqs = session.client("sqs")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def waiting_count(session: Any, queue_url: str) -> int:
    """Messages in the queue: visible, in flight, or delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = session.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    return sum(int(value) for value in attributes["Attributes"].values())


def make_queue_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's send queue points at a queue that does not exist: every enqueue fails."""
    from posthorn import wiring
    from posthorn.adapters.send_queue import SqsSendQueue

    unreachable = SqsSendQueue(MISSING_QUEUE_URL, wiring.settings().bucket_name)
    monkeypatch.setattr(wiring, "send_queue", lambda: unreachable)
