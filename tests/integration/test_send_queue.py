"""`POST /v1/email/batch`, the send queue and the send worker: the real handlers, moto's SQS/DynamoDB/S3
(resources from template.yaml, with the queue's redrive policy) and the local SES over SMTP. The worker is
fed the way Lambda's event source mapping feeds it (`QueuePoller`)."""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from email import message_from_bytes
from typing import Any

import pytest

from posthorn_local.queue_poller import QueuePoller
from posthorn_local.ses_smtp_server import LocalSes
from tests.conftest import Stack
from tests.support.api import ApiClient
from tests.support.queue import posthorn_ids, take_queued, waiting_count

BATCH = "/v1/email/batch"


def message(index: int = 0, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_email": "hello@example.com",
        "to": [f"user{index}@example.net"],
        "subject": f"Hello {index}",
        "body_text": "Hi",
    }
    body.update(overrides)
    return body


def view(api: ApiClient, key: str, message_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/messages/{message_id}", api_key=key)
    assert response.status == 200, response.body
    return dict(response.json)


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    return take_queued(stack.session, stack.ids["SendDeadLetterQueue"])


# --- the batch API --------------------------------------------------------------------------------------
def test_batch_is_202_with_a_result_per_index_and_each_accepted_message_reaches_ses_once(
    api: ApiClient, sender_key: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    messages = [message(index) for index in range(12)]
    messages[3] = message(3, to=["not an address"])
    messages[5] = message(5, from_email="hello@other.example")
    response = api.post(BATCH, {"messages": messages}, api_key=sender_key)
    assert response.status == 202, response.body
    results = response.json["results"]
    assert response.json["count"] == 10
    assert [r["index"] for r in results] == list(range(12))
    assert results[3]["status"] == "rejected"
    assert results[3]["error"]["code"] == "validation_error"
    assert "message_id" not in results[3]
    assert results[5]["error"]["code"] == "sender_not_allowed"
    queued = [r for r in results if r["status"] == "queued"]
    assert all(set(r) == {"index", "status", "message_id"} for r in queued)
    assert view(api, sender_key, queued[0]["message_id"])["status"] == "queued"
    assert len(local_ses.outbox) == 0

    worker.run_until_empty(timeout=20)
    assert posthorn_ids(local_ses) == Counter({r["message_id"]: 1 for r in queued})
    for result in queued:
        record = view(api, sender_key, result["message_id"])
        assert record["status"] == "sent"
        assert record["ses_message_id"]


@pytest.mark.parametrize(
    "bad",
    [
        {"to": ["a@example.net"], "subject": "x", "body_text": "y"},
        {"from_email": "hello@example.com", "to": [], "subject": "x", "body_text": "y"},
        {"from_email": "hello@example.com", "to": ["a@example.net"], "subject": "x"},
        {"from_email": "hello@example.com", "to": ["a@example.net"], "subject": "Hi {n}", "body_text": "y",
         "template_data": {}},
        {"from_email": "hello@example.com", "to": ["a@example.net"], "subject": "x", "body_text": "y",
         "headers": {"X-A": "b\r\nBcc: c@example.net"}},
    ],
)  # fmt: skip
def test_a_rejected_batch_item_has_the_error_a_single_send_gets(
    api: ApiClient, sender_key: str, bad: dict[str, Any]
) -> None:
    single = api.post("/v1/email", bad, api_key=sender_key)
    assert single.status in (403, 422), single.body
    batch = api.post(BATCH, {"messages": [message(), bad]}, api_key=sender_key)
    assert batch.status == 202, batch.body
    assert batch.json["count"] == 1
    assert batch.json["results"][1] == {"index": 1, "status": "rejected", "error": single.json["error"]}


def test_a_batch_item_that_is_not_an_object_is_rejected_alone(api: ApiClient, sender_key: str) -> None:
    response = api.post(BATCH, {"messages": [message(), "hello", [1]]}, api_key=sender_key)
    assert response.status == 202, response.body
    assert [r["status"] for r in response.json["results"]] == ["queued", "rejected", "rejected"]
    assert response.json["results"][1]["error"]["code"] == "validation_error"


@pytest.mark.parametrize("count", [0, 501])
def test_empty_batch_or_over_500_is_422(api: ApiClient, sender_key: str, count: int, stack: Stack) -> None:
    response = api.post(BATCH, {"messages": [message(i) for i in range(count)]}, api_key=sender_key)
    assert response.status == 422, response.body
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["details"][0]["field"] == "messages"
    assert waiting_count(stack.session, stack.ids["SendQueue"]) == 0


@pytest.mark.parametrize("body", [{}, {"messages": "x"}, {"messages": [], "extra": 1}])
def test_batch_without_a_list_of_messages_is_422(api: ApiClient, sender_key: str, body: Any) -> None:
    response = api.post(BATCH, body, api_key=sender_key)
    assert response.status == 422, response.body


def test_batch_needs_the_send_permission(api: ApiClient, admin: str) -> None:
    response = api.post(BATCH, {"messages": [message()]}, api_key=admin)
    assert response.status == 403
    assert response.json["error"]["code"] == "forbidden"


def test_batch_with_an_idempotency_key_replays_and_queues_once(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    headers = {"Idempotency-Key": "batch-1"}
    body = {"messages": [message(0), message(1)]}
    first = api.post(BATCH, body, api_key=sender_key, headers=headers)
    second = api.post(BATCH, body, api_key=sender_key, headers=headers)
    assert first.status == second.status == 202
    assert second.json == first.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert waiting_count(stack.session, stack.ids["SendQueue"]) == 2
    other = api.post(BATCH, {"messages": [message(2)]}, api_key=sender_key, headers=headers)
    assert other.status == 409


def test_batch_of_500_is_stored_and_queued_before_the_answer(
    api: ApiClient, sender_key: str, stack: Stack
) -> None:
    response = api.post(BATCH, {"messages": [message(i) for i in range(500)]}, api_key=sender_key)
    assert response.status == 202, response.body
    assert response.json["count"] == 500
    assert waiting_count(stack.session, stack.ids["SendQueue"]) == 500
    scan = stack.session.client("dynamodb").get_paginator("scan")
    stored = [
        item
        for page in scan.paginate(TableName=stack.table)
        for item in page["Items"]
        if item["sk"]["S"] == "MSG"
    ]
    assert len(stored) == 500


def test_batch_recipient_on_the_suppression_list_is_not_sent_to(
    api: ApiClient, sender_key: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    assert api.post("/v1/suppressions", {"email": "gone@example.net"}, api_key=sender_key).status == 201
    messages = [message(0, to=["gone@example.net", "here@example.net"]), message(1, to=["gone@example.net"])]
    response = api.post(BATCH, {"messages": messages}, api_key=sender_key)
    assert [r["status"] for r in response.json["results"]] == ["queued", "rejected"]
    assert response.json["results"][1]["error"]["code"] == "all_recipients_suppressed"
    worker.run_until_empty(timeout=10)
    [received] = local_ses.outbox.list()
    assert received.rcpt_to == ("here@example.net",)


def test_a_recipient_suppressed_while_the_batch_waited_is_not_sent_to(
    api: ApiClient, sender_key: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    batch = {"messages": [message(0, to=["stays@example.net", "bounced@example.net"]), message(1)]}
    response = api.post(BATCH, batch, api_key=sender_key)
    assert response.json["count"] == 2, response.body
    added = api.post("/v1/suppressions", {"email": "bounced@example.net"}, api_key=sender_key)
    assert added.status in (200, 201), added.body

    worker.run_until_empty(timeout=10)

    assert sorted(received.rcpt_to for received in local_ses.outbox.list()) == [
        ("stays@example.net",),
        ("user1@example.net",),
    ]
    viewed = view(api, sender_key, response.json["results"][0]["message_id"])
    assert {r["email"]: r["status"] for r in viewed["recipients"]} == {
        "stays@example.net": "sent",
        "bounced@example.net": "suppressed",
    }


def test_a_message_over_200_kb_waits_in_s3_and_arrives_intact(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, worker: QueuePoller
) -> None:
    data = os.urandom(300 * 1024)
    attachment = {
        "name": "big.bin",
        "content": base64.b64encode(data).decode(),
        "content_type": "application/octet-stream",
    }
    response = api.post(BATCH, {"messages": [message(0, attachments=[attachment])]}, api_key=sender_key)
    assert response.json["count"] == 1, response.body
    message_id = response.json["results"][0]["message_id"]
    s3 = stack.session.client("s3")
    key = f"queue/{message_id}.json"
    assert s3.head_object(Bucket=stack.ids["FilesBucket"], Key=key)["ContentLength"] > 300 * 1024

    worker.run_until_empty(timeout=10)
    [received] = local_ses.outbox.list()
    parsed = message_from_bytes(received.raw)
    [part] = [p for p in parsed.walk() if p.get_filename() == "big.bin"]
    assert part.get_payload(decode=True) == data
    assert s3.list_objects_v2(Bucket=stack.ids["FilesBucket"], Prefix="queue/").get("KeyCount", 0) == 0


@pytest.fixture
def files_key(api: ApiClient, admin: str, sender_key: str) -> str:
    """A credential of example.com (the sender's domain) with send, read and files."""
    body = {"name": "files", "domains": ["example.com"], "permissions": ["send", "read", "files"]}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def upload_file(api: ApiClient, key: str, data: bytes) -> str:
    response = api.request(
        "POST",
        "/v1/files",
        raw=data,
        headers={"Content-Type": "application/octet-stream"},
        api_key=key,
        query="name=report.bin",
    )
    assert response.status == 201, response.body
    return str(response.json["file_key"])


def test_queued_messages_carry_a_cached_file_by_reference_and_arrive_with_its_bytes(
    api: ApiClient, files_key: str, local_ses: LocalSes, stack: Stack, worker: QueuePoller
) -> None:
    data = os.urandom(400 * 1024)
    file_key = upload_file(api, files_key, data)
    messages = [message(index, attachments=[{"file_key": file_key}]) for index in range(3)]
    response = api.post(BATCH, {"messages": messages}, api_key=files_key)
    assert response.json["count"] == 3, response.body

    bodies = take_queued(stack.session, stack.ids["SendQueue"])
    assert all(len(json.dumps(body)) < 8 * 1024 for body in bodies)  # the 400 KB file is not in them
    assert [part["file_key"] for body in bodies for part in body["parts"] if isinstance(part, dict)] == [
        file_key
    ] * 3
    sqs = stack.session.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=stack.ids["SendQueue"], MessageBody=json.dumps(body))
    worker.run_until_empty(timeout=10)

    assert len(local_ses.outbox.list()) == 3
    for received in local_ses.outbox.list():
        [part] = [p for p in message_from_bytes(received.raw).walk() if p.get_filename() == "report.bin"]
        assert part.get_payload(decode=True) == data


def test_a_cached_file_deleted_while_its_message_waits_fails_the_message_with_the_reason(
    api: ApiClient, files_key: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    file_key = upload_file(api, files_key, b"quarterly figures" * 100)
    response = api.post(
        BATCH, {"messages": [message(attachments=[{"file_key": file_key}])]}, api_key=files_key
    )
    message_id = response.json["results"][0]["message_id"]
    assert api.delete(f"/v1/files/{file_key}", api_key=files_key).status == 204

    worker.run_until_empty(timeout=10)

    assert local_ses.outbox.list() == []
    viewed = view(api, files_key, message_id)
    assert viewed["status"] == "failed"
    assert file_key in viewed["error"]
    assert "no longer" in viewed["error"]


# --- the worker -----------------------------------------------------------------------------------------
def test_single_send_queued_while_ses_is_down_is_sent_by_the_worker(
    api: ApiClient, sender_key: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    local_ses.faults.force(*["454"] * 40)
    response = api.post("/v1/email", message(), api_key=sender_key)
    assert response.status == 202, response.body
    local_ses.faults.script.clear()
    worker.run_until_empty(timeout=10)
    assert posthorn_ids(local_ses) == Counter({response.json["message_id"]: 1})
    assert view(api, sender_key, response.json["message_id"])["status"] == "sent"


def test_a_second_copy_of_a_queue_message_after_sending_sends_nothing(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, worker: QueuePoller
) -> None:
    response = api.post(BATCH, {"messages": [message()]}, api_key=sender_key)
    [body] = take_queued(stack.session, stack.ids["SendQueue"])
    sqs = stack.session.client("sqs")
    for _ in range(2):  # SQS delivers at least once: the same message twice
        sqs.send_message(QueueUrl=stack.ids["SendQueue"], MessageBody=json.dumps(body))
    worker.run_until_empty(timeout=10)
    worker.poll_once()
    assert posthorn_ids(local_ses) == Counter({response.json["results"][0]["message_id"]: 1})


def test_a_message_another_worker_is_sending_is_deferred_not_sent(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, worker: QueuePoller
) -> None:
    import time

    from posthorn import wiring

    response = api.post(BATCH, {"messages": [message()]}, api_key=sender_key)
    message_id = response.json["results"][0]["message_id"]
    claim = wiring.messages().claim_for_sending(message_id, now=time.time(), lease_seconds=60)
    assert claim.state == "claimed"
    assert worker.poll_once() == 1
    assert len(local_ses.outbox) == 0
    assert waiting_count(stack.session, stack.ids["SendQueue"]) == 1  # queued again, with a delay
    assert view(api, sender_key, message_id)["status"] == "queued"


def test_ses_refusal_marks_the_message_failed_with_its_reply_and_is_not_retried(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, worker: QueuePoller
) -> None:
    response = api.post(BATCH, {"messages": [message()]}, api_key=sender_key)
    local_ses.faults.force("554")
    worker.run_until_empty(timeout=10)
    record = view(api, sender_key, response.json["results"][0]["message_id"])
    assert record["status"] == "failed"
    assert "554" in record["error"]
    assert len(local_ses.outbox) == 0
    assert dead_letters(stack) == []


def test_transient_failures_are_retried_until_sent(
    api: ApiClient, sender_key: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    response = api.post(BATCH, {"messages": [message()]}, api_key=sender_key)
    local_ses.faults.force("451", "drop", "421", "454", "451", "drop")
    worker.run_until_empty(timeout=20)
    assert worker.invocations >= 2  # the SMTP budget of one attempt could not cover six failures
    message_id = response.json["results"][0]["message_id"]
    assert posthorn_ids(local_ses) == Counter({message_id: 1})
    assert view(api, sender_key, message_id)["status"] == "sent"


def test_exhausted_retries_mark_the_message_failed_and_move_it_to_the_dead_letter_queue(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, worker: QueuePoller
) -> None:
    response = api.post(BATCH, {"messages": [message()]}, api_key=sender_key)
    local_ses.faults.force(*["454"] * 200)
    worker.run_until_empty(timeout=30)
    local_ses.faults.script.clear()
    message_id = response.json["results"][0]["message_id"]
    record = view(api, sender_key, message_id)
    assert record["status"] == "failed"
    assert "not sent after 5 attempts" in record["error"]
    assert "454" in record["error"]
    [parked] = dead_letters(stack)
    assert parked["message_id"] == message_id
    assert len(local_ses.outbox) == 0
