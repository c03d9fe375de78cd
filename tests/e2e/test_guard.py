"""The deliverability guard on the local stack, with a small window: hard bounces pause the domain, its
queued messages are held (neither sent nor failed), and after POST /v1/domains/{domain}/resume they are
sent. The local page's domain card reads the same state and resumes the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, Http, running_stack
from tests.e2e.test_local_stack import label, send

GUARD = {
    "POSTHORN_GUARD_WINDOW": "1000",
    "POSTHORN_GUARD_MINIMUM": "5",
    "POSTHORN_GUARD_BOUNCE_RATE": "4",
    "POSTHORN_GUARD_COMPLAINT_RATE": "0.08",
}
BATCH = 12


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A stack of its own: the guard's small settings, and a send worker at 1 message a second, so a batch
    is still being sent when the guard pauses its domain."""
    with running_stack(GUARD, ses_max_send_rate=1.0) as running:
        yield running


@pytest.fixture(scope="module")
def sender_key(http: Http) -> str:
    """A send+read credential for example.com whose rate a batch and five sends right after it stay under."""
    assert http.post("/v1/domains", {"domain": "example.com"}, api_key=ADMIN_KEY).status == 201
    created = http.post(
        "/v1/credentials",
        {
            "name": "guard",
            "domains": ["example.com"],
            "permissions": ["send", "read"],
            "rate_limit_per_second": 100,
        },
        api_key=ADMIN_KEY,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def wait_until(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not {what} after {timeout} s")


def statuses(http: Http, key: str, ids: list[str]) -> list[str]:
    return [http.get(f"/v1/messages/{message_id}", api_key=key).json["status"] for message_id in ids]


def test_bounces_pause_the_domain_its_queued_messages_wait_and_go_out_after_resume(
    http: Http, sender_key: str
) -> None:
    batch = http.post(
        "/v1/email/batch",
        {
            "messages": [
                {
                    "from_email": "hello@example.com",
                    "to": [f"success+{i}@simulator.amazonses.com"],
                    "subject": f"Batch {i}",
                    "body_text": "Hi",
                }
                for i in range(BATCH)
            ]
        },
        api_key=sender_key,
    )
    assert batch.status == 202, batch.body
    queued = [result["message_id"] for result in batch.json["results"]]
    for _ in range(5):
        send(http, sender_key, to=[label("bounce")])

    domain = wait_until(
        lambda: (
            (d := http.get("/v1/domains/example.com", api_key=ADMIN_KEY).json)["sending"] == "paused" and d
        ),
        "paused",
    )
    assert domain["reputation"]["bounced"] >= 5
    assert "bounce rate" in domain["paused_reason"]
    refused = http.post(
        "/v1/email",
        {"from_email": "hello@example.com", "to": ["a@example.net"], "subject": "x", "body_text": "y"},
        api_key=sender_key,
    )
    assert (refused.status, refused.json["error"]["code"]) == (403, "domain_paused")

    time.sleep(4)  # the worker keeps draining the queue: what it takes now is held, not sent
    waiting = [
        m for m, status in zip(queued, statuses(http, sender_key, queued), strict=True) if status == "queued"
    ]
    assert waiting  # the pause came while the batch was being sent
    time.sleep(3)
    assert statuses(http, sender_key, waiting) == ["queued"] * len(waiting)  # held: neither sent nor failed

    card = http.get("/_local/domains/example.com")
    assert card.status == 200
    assert card.json["sending"] == "paused"
    assert card.json["stats"]["totals"]["bounced"] >= 5

    resumed = http.post("/v1/domains/example.com/resume", api_key=ADMIN_KEY)
    assert resumed.status == 200, resumed.body
    assert resumed.json["sending"] == "enabled"
    wait_until(lambda: all(s != "queued" for s in statuses(http, sender_key, queued)), "sent", timeout=40)
    assert set(statuses(http, sender_key, queued)) <= {"sent", "delivered"}


def test_the_outbox_filters_by_tag_status_and_search(http: Http, sender_key: str) -> None:
    tagged = send(
        http, sender_key, to=["success@simulator.amazonses.com"], tags=["findme"], client_reference="ref-9"
    )
    found = wait_until(
        lambda: http.get("/_local/outbox?tag=findme").json["messages"], "listed with its tag", timeout=15
    )
    assert [item["posthorn_message_id"] for item in found] == [tagged]
    assert found[0]["client_reference"] == "ref-9"
    assert http.get("/_local/outbox?q=ref-9").json["messages"][0]["posthorn_message_id"] == tagged
    assert http.get("/_local/outbox?tag=findme&status=bounced").json["messages"] == []
    listed = http.get("/v1/messages?tag=findme", api_key=sender_key).json["messages"]
    assert [message["message_id"] for message in listed] == [tagged]
