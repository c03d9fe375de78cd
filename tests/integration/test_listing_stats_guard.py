"""GET /v1/messages, GET /v1/stats and the deliverability guard on the real handlers: messages sent through
the API function to the local SES, their SES events fed to the events function as SNS delivers them, the
send worker draining the queue, all against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from posthorn_local.apigw import LambdaContext
from posthorn_local.queue_poller import QueuePoller
from tests.conftest import Stack
from tests.support import ses_fixtures
from tests.support.api import ApiClient
from tests.support.bodies import email_body


def send(api: ApiClient, key: str, to: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/email", email_body(to=[to], **fields), api_key=key)
    assert response.status == 200, response.body
    message = api.get(f"/v1/messages/{response.json['message_id']}", api_key=key).json
    return dict(message)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notify(message: dict[str, Any], ses_event: dict[str, Any], *, name: str = "n") -> dict[str, Any]:
    """Deliver one SES event about `message` to the events function, as SNS would; its answer."""
    from ses_events.handler import lambda_handler

    ses_event["mail"].update(
        messageId=message["ses_message_id"],
        timestamp=now_iso(),
        tags={"posthorn_message_id": [message["message_id"]]},
    )
    for part in ("bounce", "complaint", "delivery", "open", "click"):
        if part in ses_event and not ses_event[part]["timestamp"].startswith(now_iso()[:10]):
            ses_event[part]["timestamp"] = now_iso()
    event = ses_fixtures.lambda_event(ses_fixtures.sns_record(ses_event, name=name))
    return dict(lambda_handler(event, LambdaContext(function_name="events")))


def listing(api: ApiClient, key: str, **query: Any) -> Any:
    return api.get("/v1/messages", api_key=key, query=urlencode(query))


# --- listing -------------------------------------------------------------------------------------------
def test_listing_is_newest_first_and_pages_follow_the_cursor_to_the_end(
    api: ApiClient, sender_key: str
) -> None:
    sent = [send(api, sender_key, f"user{index}@example.net")["message_id"] for index in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = listing(api, sender_key, **query)
        assert page.status == 200, page.body
        seen += [message["message_id"] for message in page.json["messages"]]
        cursor = page.json["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert seen == list(reversed(sent))
    assert pages == 3


def test_each_filter_finds_only_its_messages(api: ApiClient, sender_key: str) -> None:
    tagged = send(api, sender_key, "a@example.net", tags=["welcome"], client_reference="order-1")
    other = send(api, sender_key, "b@example.net", tags=["receipt"], metadata={"k": "v"})
    assert listing(api, sender_key, tag="welcome").json["messages"][0]["message_id"] == tagged["message_id"]
    assert [m["message_id"] for m in listing(api, sender_key, tag="welcome").json["messages"]] == [
        tagged["message_id"]
    ]
    by_reference = listing(api, sender_key, client_reference="order-1").json["messages"]
    assert [m["message_id"] for m in by_reference] == [tagged["message_id"]]
    by_recipient = listing(api, sender_key, recipient="B@Example.NET").json["messages"]
    assert [m["message_id"] for m in by_recipient] == [other["message_id"]]
    assert by_recipient[0]["metadata"] == {"k": "v"}
    assert len(listing(api, sender_key, status="sent", source="api").json["messages"]) == 2
    assert listing(api, sender_key, source="smtp").json["messages"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert listing(api, sender_key, since=future).json["messages"] == []


def test_the_status_filter_follows_events(api: ApiClient, sender_key: str) -> None:
    message = send(api, sender_key, ses_fixtures.RECIPIENT)
    notify(message, ses_fixtures.delivery_event())
    delivered = listing(api, sender_key, status="delivered").json["messages"]
    assert [m["message_id"] for m in delivered] == [message["message_id"]]
    assert listing(api, sender_key, status="sent").json["messages"] == []


def test_a_changed_cursor_an_unknown_filter_and_a_bad_status_are_422(api: ApiClient, sender_key: str) -> None:
    for index in range(3):
        send(api, sender_key, f"user{index}@example.net")
    cursor = listing(api, sender_key, limit=1).json["next_cursor"]
    payload, _, signature = cursor.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    for query in ({"cursor": forged}, {"cursor": "nonsense"}, {"colour": "red"}, {"status": "lost"}):
        answer = listing(api, sender_key, **query)
        assert answer.status == 422, query
        assert answer.error_code == "validation_error"
    # The cursor of one filter set is not a cursor of another.
    assert listing(api, sender_key, cursor=cursor, tag="x").status == 422


def test_another_tenant_sees_none_of_the_messages_even_with_their_cursor(
    api: ApiClient, admin: str, sender_key: str
) -> None:
    for index in range(3):
        send(api, sender_key, f"user{index}@example.net")
    cursor = listing(api, sender_key, limit=1).json["next_cursor"]
    assert api.post("/v1/domains", {"domain": "other.org"}, api_key=admin).status == 201
    other = api.post(
        "/v1/credentials",
        {"name": "other", "domains": ["other.org"], "permissions": ["read"]},
        api_key=admin,
    ).json["api_key"]
    assert listing(api, other).json == {"messages": [], "next_cursor": None}
    assert listing(api, other, cursor=cursor).status == 422


def test_suppressions_are_paged_and_filtered_by_reason(api: ApiClient, sender_key: str) -> None:
    for index in range(5):
        assert (
            api.post("/v1/suppressions", {"email": f"x{index}@example.net"}, api_key=sender_key).status == 201
        )
    first = api.get("/v1/suppressions", api_key=sender_key, query="limit=2").json
    assert len(first["suppressions"]) == 2
    second = api.get(
        "/v1/suppressions", api_key=sender_key, query=urlencode({"limit": 10, "cursor": first["next_cursor"]})
    ).json
    emails = [entry["email"] for entry in first["suppressions"] + second["suppressions"]]
    assert sorted(emails) == [f"x{index}@example.net" for index in range(5)]
    assert second["next_cursor"] is None
    assert api.get("/v1/suppressions", api_key=sender_key, query="reason=bounce").json["suppressions"] == []
    assert api.delete("/v1/suppressions/x0@example.net", api_key=sender_key).status == 204
    remaining = api.get("/v1/suppressions", api_key=sender_key, query="reason=manual").json["suppressions"]
    assert "x0@example.net" not in [entry["email"] for entry in remaining]
    assert len(remaining) == 4


# --- stats ---------------------------------------------------------------------------------------------
def test_stats_count_each_event_once_however_often_sns_delivers_it(api: ApiClient, sender_key: str) -> None:
    message = send(api, sender_key, ses_fixtures.RECIPIENT, tags=["welcome"])
    for _ in range(3):  # SNS delivers at least once: the same three notifications, three times
        notify(message, ses_fixtures.send_event())
        notify(message, ses_fixtures.delivery_event())
        notify(message, ses_fixtures.open_event())
    later = (
        (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    notify(message, ses_fixtures.open_event(timestamp=later))  # a second open of the same recipient
    stats = api.get("/v1/stats", api_key=sender_key)
    assert stats.status == 200, stats.body
    totals = stats.json["totals"]
    assert (totals["sent"], totals["delivered"], totals["opened"], totals["bounced"]) == (1, 1, 1, 0)
    assert stats.json["rates"]["open"] == 1.0
    by_tag = api.get("/v1/stats", api_key=sender_key, query="tag=welcome&interval=hour").json
    assert by_tag["totals"]["delivered"] == 1
    assert sum(bucket["delivered"] for bucket in by_tag["series"]) == 1
    assert api.get("/v1/stats", api_key=sender_key, query="tag=other").json["totals"]["sent"] == 0
    assert api.get("/v1/stats", api_key=sender_key, query="domain=other.org").status == 404
    assert api.get("/v1/stats", api_key=sender_key, query="interval=week").status == 422


# --- the deliverability guard ----------------------------------------------------------------------------
@pytest.fixture
def small_guard(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A guard acting on 6 sends: 5 hard bounces over 10 recipients is 50 %."""
    from posthorn import wiring

    for name, value in {"GUARD_WINDOW": "10", "GUARD_MINIMUM": "6", "GUARD_BOUNCE_RATE": "4"}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    yield
    wiring.reset()


def bounce_until_paused(api: ApiClient, key: str, bounces: int, sends: int = 10) -> list[dict[str, Any]]:
    messages = [send(api, key, f"rcpt{index}@example.net") for index in range(sends)]
    for message in messages:
        notify(message, ses_fixtures.send_event(recipients=[message["recipients"][0]["email"]]))
    for index, message in enumerate(messages[:bounces]):
        notify(
            message,
            ses_fixtures.bounce_event(
                recipients=[message["recipients"][0]["email"]], feedback_id=f"feedback-{index}"
            ),
        )
    return messages


def test_four_hard_bounces_never_pause_whatever_the_rate(
    api: ApiClient, admin: str, sender_key: str, small_guard: None
) -> None:
    bounce_until_paused(api, sender_key, bounces=4)
    domain = api.get("/v1/domains/example.com", api_key=admin).json
    assert domain["sending"] == "enabled"
    assert domain["reputation"]["bounced"] == 4
    assert domain["reputation"]["sent"] == 10


def test_the_fifth_hard_bounce_pauses_the_domain_and_sends_are_refused_until_resumed(
    api: ApiClient, admin: str, sender_key: str, small_guard: None, stack: Stack
) -> None:
    topic = stack.ids["AlarmTopic"]
    sqs = stack.session.client("sqs")
    alarms = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    alarms_arn = sqs.get_queue_attributes(QueueUrl=alarms, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stack.session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=alarms_arn)

    bounce_until_paused(api, sender_key, bounces=5)
    domain = api.get("/v1/domains/example.com", api_key=admin).json
    assert domain["sending"] == "paused"
    assert domain["paused_at"] is not None
    assert "bounce rate 50.00%" in domain["paused_reason"]
    assert domain["reputation"] == {
        "window": 10,
        "sent": 10,
        "bounced": 5,
        "complained": 0,
        "bounce_rate": 0.5,
        "complaint_rate": 0.0,
    }
    told = sqs.receive_message(QueueUrl=alarms, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(json.loads(m["Body"])["Message"])["type"] for m in told] == ["domain.paused"]

    refused = api.post("/v1/email", email_body(), api_key=sender_key)
    assert (refused.status, refused.error_code) == (403, "domain_paused")
    batch = api.post("/v1/email/batch", {"messages": [email_body()]}, api_key=sender_key)
    assert batch.status == 202
    assert batch.json["results"][0]["error"]["code"] == "domain_paused"

    resumed = api.post("/v1/domains/example.com/resume", api_key=admin)
    assert resumed.status == 200, resumed.body
    assert resumed.json["sending"] == "enabled"
    assert resumed.json["paused_reason"] is None
    assert resumed.json["reputation"]["bounced"] == 0  # a fresh window
    assert api.post("/v1/email", email_body(), api_key=sender_key).status == 200


def test_queued_messages_of_a_paused_domain_are_held_then_sent_after_resume(
    api: ApiClient, admin: str, sender_key: str, small_guard: None, worker: QueuePoller, local_ses: Any
) -> None:
    batch = api.post(
        "/v1/email/batch",
        {"messages": [email_body(to=[f"held{index}@example.net"]) for index in range(3)]},
        api_key=sender_key,
    )
    queued = [result["message_id"] for result in batch.json["results"]]
    bounce_until_paused(api, sender_key, bounces=5)
    before = len(local_ses.outbox)

    worker.run_until_empty(timeout=30)  # the worker takes them off the queue without sending them
    assert len(local_ses.outbox) == before
    for message_id in queued:
        held = api.get(f"/v1/messages/{message_id}", api_key=sender_key).json
        assert held["status"] == "queued"

    assert api.post("/v1/domains/example.com/resume", api_key=admin).status == 200
    worker.run_until_empty(timeout=30)
    for message_id in queued:
        assert api.get(f"/v1/messages/{message_id}", api_key=sender_key).json["status"] == "sent"
    assert len(local_ses.outbox) == before + 3


def test_times_must_be_iso_8601_not_unix_seconds(api: ApiClient, sender_key: str) -> None:
    assert listing(api, sender_key, until="0.5").status == 422
    assert api.get("/v1/stats", api_key=sender_key, query="since=1700000000").status == 422
    assert api.get("/v1/suppressions", api_key=sender_key, query="since=0.5").status == 422
    assert listing(api, sender_key, since="2026-11-01T00:00:00Z").status == 200
    assert listing(api, sender_key, since="2026-11-01").status == 200
