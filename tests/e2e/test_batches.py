"""Batches over HTTP against the local stack, written from docs/api.md: `POST /v1/email/batch` answers 202
with a result per index, and the send worker (fed from the embedded SQS queue) delivers every accepted message
to the local SES once; the credential's rate counts every message of a batch."""

from __future__ import annotations

import time
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http

pytestmark = pytest.mark.e2e


def credential(http: Http, sender_key: str, rate: int) -> str:
    """A send+read credential for example.com (registered by `sender_key`) with its own rate."""
    body = {"name": "batches", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"]}
    created = http.post("/v1/credentials", {**body, "rate_limit_per_second": rate}, api_key=ADMIN_KEY)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def message(index: int) -> dict[str, Any]:
    return {
        "from_email": "hello@example.com",
        "to": [f"success+{index}@simulator.amazonses.com"],
        "subject": f"Batch message {index}",
        "body_text": "Hello",
    }


def wait_for_status(http: Http, key: str, message_id: str, wanted: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = str(http.get(f"/v1/messages/{message_id}", api_key=key).json["status"])
        if status in wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_a_batch_is_accepted_at_once_and_every_message_reaches_ses(
    http: Http, stack: LocalStack, sender_key: str
) -> None:
    key = credential(http, sender_key, rate=1000)
    messages = [message(index) for index in range(60)]
    messages[7] = {**message(7), "to": ["not an address"]}
    before = len(stack.ses.outbox)
    response = http.post("/v1/email/batch", {"messages": messages}, api_key=key)
    assert response.status == 202, response.body
    assert response.json["count"] == 59
    results = response.json["results"]
    assert results[7]["status"] == "rejected"
    assert results[7]["error"]["code"] == "validation_error"
    assert results[7]["error"]["details"][0]["field"] == "to[0].email"

    stack.ses.outbox.wait_for(before + 59, timeout=60)
    last = results[-1]["message_id"]
    assert wait_for_status(http, key, last, {"delivered"}) == "delivered"


def test_a_batch_over_500_is_422(http: Http, sender_key: str) -> None:
    key = credential(http, sender_key, rate=1000)
    response = http.post("/v1/email/batch", {"messages": [message(i) for i in range(501)]}, api_key=key)
    assert response.status == 422
    assert response.json["error"]["code"] == "validation_error"


def test_a_batch_counts_each_message_against_the_rate(http: Http, sender_key: str) -> None:
    key = credential(http, sender_key, rate=3)
    accepted = http.post("/v1/email/batch", {"messages": [message(i) for i in range(6)]}, api_key=key)
    assert accepted.status == 202
    refused = http.post("/v1/email", message(99), api_key=key)
    assert refused.status == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Limit"] == "3"
