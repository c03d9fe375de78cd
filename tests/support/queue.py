"""The send queue in tests: what is waiting in it, and a queue that cannot be reached."""

from __future__ import annotations

import json
from collections import Counter
from email import message_from_bytes
from typing import Any

import pytest

from posthorn_local.ses_smtp_server import LocalSes

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
    from posthorn.settings import BucketSettings

    unreachable = SqsSendQueue(MISSING_QUEUE_URL, wiring.settings(BucketSettings).bucket_name)
    monkeypatch.setattr(wiring, "send_queue", lambda: unreachable)


def posthorn_ids(ses: LocalSes) -> Counter[str]:
    """How many times the local SES received each Posthorn message (its id is in X-SES-MESSAGE-TAGS)."""
    counts: Counter[str] = Counter()
    for received in ses.outbox.list():
        tags = str(message_from_bytes(received.raw).get("X-SES-MESSAGE-TAGS", ""))
        for tag in tags.split(","):
            name, _, value = tag.strip().partition("=")
            if name == "posthorn_message_id":
                counts[value] += 1
    return counts
