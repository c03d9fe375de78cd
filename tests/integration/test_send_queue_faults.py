"""Faults like SES's, at a rate: 421/451/454 replies, connections dropped mid-transaction, drops after SES
accepted the message, and a few permanent refusals. Whatever happens, every accepted message ends `sent`
exactly once or `failed` with a reason; none stays `queued`; a message reaches SES twice only through the
one ambiguous window (a drop after SES accepted it), and never more often than that window occurred."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from posthorn_local.queue_poller import QueuePoller
from posthorn_local.ses_smtp_server import FaultPlan, LocalSes
from posthorn_local.tls import TlsMaterial
from tests.conftest import SMTP, Stack
from tests.integration.test_send_queue import message
from tests.support.api import ApiClient
from tests.support.queue import posthorn_ids, take_queued, waiting_count

# 30% transient failures: 20% 421/451/454 replies, 6% dropped before SES accepted, 4% dropped after.
FAULTS = {"transient_rate": 0.20, "drop_rate": 0.06, "accepted_drop_rate": 0.04, "permanent_rate": 0.02}


@pytest.fixture
def local_ses(tls: TlsMaterial) -> Iterator[LocalSes]:
    with LocalSes(
        username=SMTP.username, password=SMTP.password, tls=tls, faults=FaultPlan(seed=20261121, **FAULTS)
    ) as server:
        yield server


def records(stack: Stack, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored messages (one scan), each with its status derived from its recipients as on read."""
    from posthorn.adapters.dynamodb.table import from_item
    from posthorn.logic.events.recipient_status import message_status

    scan = stack.session.client("dynamodb").get_paginator("scan")
    items = [from_item(item) for page in scan.paginate(TableName=stack.table) for item in page["Items"]]
    found = {item["message_id"]: item for item in items if item["sk"] == "MSG" and item["message_id"] in ids}
    for item in found.values():
        item["status"] = message_status(r["status"] for r in item["recipients"].values()).value
    assert set(found) == set(ids)
    return found


def test_under_30_percent_transient_faults_every_message_is_sent_once_or_failed_with_a_reason(
    api: ApiClient,
    sender_key: str,
    local_ses: LocalSes,
    stack: Stack,
    worker: QueuePoller,
) -> None:
    accepted: list[str] = []
    batch = api.post("/v1/email/batch", {"messages": [message(i) for i in range(120)]}, api_key=sender_key)
    assert batch.status == 202, batch.body
    accepted += [r["message_id"] for r in batch.json["results"] if r["status"] == "queued"]
    answers: Counter[int] = Counter()
    for index in range(30):
        single = api.post("/v1/email", message(1000 + index), api_key=sender_key)
        answers[single.status] += 1
        if single.status in (200, 202):
            accepted.append(single.json["message_id"])
    assert answers[503] == 0  # SES unavailable means queued, never an error
    assert set(answers) <= {200, 202, 502}  # 502: one of the few permanent refusals

    worker.run_until_empty(timeout=120)

    seen = records(stack, accepted)
    statuses = Counter(record["status"] for record in seen.values())
    assert set(statuses) <= {"sent", "failed"}, statuses
    assert statuses["sent"] > 0.9 * len(accepted)
    delivered = posthorn_ids(local_ses)
    for message_id, record in seen.items():
        if record["status"] == "sent":
            assert delivered[message_id] >= 1, message_id
            assert record["ses_message_id"]
        else:
            assert record.get("error"), message_id
    duplicates = sum(count - 1 for count in delivered.values())
    assert duplicates <= local_ses.faults.injected["accept_drop"]
    assert set(delivered) <= set(seen)  # nothing reached SES that was not accepted
    assert waiting_count(stack.session, stack.ids["SendQueue"]) == 0
    parked = take_queued(stack.session, stack.ids["SendDeadLetterQueue"])
    assert {body["message_id"] for body in parked} <= {i for i, r in seen.items() if r["status"] == "failed"}
    assert sum(local_ses.faults.injected.values()) > 0.2 * len(accepted)  # the faults really happened
