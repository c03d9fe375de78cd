"""Per-credential rate limits through the API, with the buckets in moto's DynamoDB (the template's table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from posthorn.adapters.dynamodb.rate_limits import RateRepository
from posthorn.adapters.dynamodb.table import Table
from posthorn.logic.sending.rate_limits import take
from tests.conftest import SENDER_DOMAIN, Stack
from tests.support.api import ApiClient
from tests.support.queue import waiting_count

SECOND = 1_000_000


class ManualClock:
    """The API's clock, moved only by the test: rate decisions never depend on how fast the machine is."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def clock(stack: Stack) -> ManualClock:
    from posthorn import wiring

    manual = ManualClock()
    wiring.override(wiring.clock, manual)
    return manual


def message(index: int = 0) -> dict[str, Any]:
    return {
        "from_email": "hello@example.com",
        "to": [f"u{index}@example.net"],
        "subject": "Hi",
        "body_text": "x",
    }


def credential(api: ApiClient, admin: str, rate: int | None) -> str:
    assert api.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=admin).status in (200, 201)
    body: dict[str, Any] = {"name": "app", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"]}
    if rate is not None:
        body["rate_limit_per_second"] = rate
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def test_over_the_credentials_rate_is_429_with_retry_after_and_ratelimit_headers(
    api: ApiClient, admin: str, clock: ManualClock
) -> None:
    key = credential(api, admin, rate=2)
    first = api.post("/v1/email", message(), api_key=key)
    assert first.status == 200, first.body
    assert first.headers["RateLimit-Limit"] == "2"
    assert first.headers["RateLimit-Remaining"] == "1"
    assert api.post("/v1/email", message(), api_key=key).status == 200
    refused = api.post("/v1/email", message(), api_key=key)
    assert refused.status == 429, refused.body
    assert refused.json["error"]["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Limit"] == "2"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert int(refused.headers["RateLimit-Reset"]) >= 1
    clock.advance(0.6)
    assert api.post("/v1/email", message(), api_key=key).status == 200


def test_the_default_rate_applies_to_a_credential_without_one(
    api: ApiClient, admin: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posthorn import wiring

    monkeypatch.setenv("DEFAULT_RATE_LIMIT_PER_SECOND", "3")
    wiring.reset()
    wiring.override(wiring.clock, clock)
    key = credential(api, admin, rate=None)
    answers = [api.post("/v1/email", message(), api_key=key).status for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_the_routes_and_the_answers_around_them_take_the_rate_limit_from_the_same_place(
    api: ApiClient, admin: str, clock: ManualClock
) -> None:
    """A send counts against the rates its route is given (`Depends`), and every other answer reads the same
    rates (the middleware and error handlers resolve the factory the same way): one override reaches both."""
    from posthorn import wiring
    from posthorn.logic.sending.rate_limits import CredentialRates
    from send_api.app import app

    key = credential(api, admin, rate=None)
    rates = CredentialRates(wiring.rate_limits(), clock, default_rate=7)
    app.dependency_overrides[wiring.credential_rates] = lambda: rates
    try:
        sent = api.post("/v1/email", message(), api_key=key)
        listed = api.get("/v1/suppressions", api_key=key)
        missing = api.get("/v1/messages/msg_01JUNKNOWN000000000000000", api_key=key)
    finally:
        app.dependency_overrides.clear()
    assert sent.status == 200, sent.body
    assert (sent.headers["RateLimit-Limit"], sent.headers["RateLimit-Remaining"]) == ("7", "6")
    for answer in (listed, missing):
        assert (answer.headers["RateLimit-Limit"], answer.headers["RateLimit-Remaining"]) == ("7", "6")
    assert missing.status == 404


def test_a_batch_counts_every_message_and_a_refused_batch_stores_nothing(
    api: ApiClient, admin: str, stack: Stack
) -> None:
    key = credential(api, admin, rate=2)
    accepted = api.post("/v1/email/batch", {"messages": [message(i) for i in range(6)]}, api_key=key)
    assert accepted.status == 202, accepted.body
    assert accepted.headers["RateLimit-Remaining"] == "0"
    assert accepted.headers["RateLimit-Reset"] == "3"  # six messages at two a second
    refused = api.post("/v1/email/batch", {"messages": [message(9)]}, api_key=key)
    assert refused.status == 429
    assert api.post("/v1/email", message(), api_key=key).status == 429
    assert waiting_count(stack.session, stack.ids["SendQueue"]) == 6


def test_a_batch_larger_than_the_rate_is_accepted_and_the_credential_waits_out_its_messages(
    api: ApiClient, admin: str
) -> None:
    key = credential(api, admin, rate=10)
    accepted = api.post("/v1/email/batch", {"messages": [message(i) for i in range(50)]}, api_key=key)
    assert accepted.status == 202, accepted.body
    refused = api.post("/v1/email", message(), api_key=key)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "5"  # fifty messages at ten a second


def test_an_idempotent_replay_costs_no_rate(api: ApiClient, admin: str) -> None:
    key = credential(api, admin, rate=1)
    headers = {"Idempotency-Key": "once"}
    assert api.post("/v1/email", message(), api_key=key, headers=headers).status == 200
    replay = api.post("/v1/email", message(), api_key=key, headers=headers)
    assert replay.status == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_a_429_releases_the_idempotency_key(api: ApiClient, admin: str, clock: ManualClock) -> None:
    key = credential(api, admin, rate=1)
    assert api.post("/v1/email", message(), api_key=key).status == 200
    headers = {"Idempotency-Key": "later"}
    assert api.post("/v1/email", message(), api_key=key, headers=headers).status == 429
    clock.advance(1.05)
    retried = api.post("/v1/email", message(), api_key=key, headers=headers)
    assert retried.status == 200, retried.body
    assert "Idempotent-Replayed" not in retried.headers


def test_one_bucket_is_shared_by_every_instance(stack: Stack) -> None:
    """Four "instances" (each its own store and client) take turns on one credential's bucket. (DynamoDB's
    conditional writes make this hold under real concurrency too; moto does not serialize them.)"""
    now = 1_790_000_000 * SECOND
    instances = [RateRepository(Table(stack.table, stack.session.client("dynamodb"))) for _ in range(4)]
    admitted = [
        take(instances[turn % 4], "credential#shared", rate=20, count=1, now_us=now).allowed
        for turn in range(40)
    ]
    assert admitted == [True] * 20 + [False] * 20


class CountingClient:
    """A DynamoDB client that counts the UpdateItems it passes on (each a write unit, failed or not)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.updates = 0

    def update_item(self, **request: Any) -> Any:
        self.updates += 1
        return self._client.update_item(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_bucket_seen_busy_or_full_spares_the_writes_that_could_only_fail(stack: Stack) -> None:
    now = 1_790_000_000 * SECOND
    client = CountingClient(stack.session.client("dynamodb"))
    store = RateRepository(Table(stack.table, client))  # type: ignore[arg-type]
    assert take(store, "credential#busy", rate=10, count=1, now_us=now).allowed  # idle: one write
    assert client.updates == 1
    for _ in range(9):  # busy, as this process saw: straight to the busy case, one write each
        assert take(store, "credential#busy", rate=10, count=1, now_us=now).allowed
    assert client.updates == 10
    for _ in range(5):  # full, as this process saw: refused without a write
        assert not take(store, "credential#busy", rate=10, count=1, now_us=now).allowed
    assert client.updates == 10
    # Another instance filled nothing meanwhile; a second later this one has room again, in one write.
    assert take(store, "credential#busy", rate=10, count=1, now_us=now + SECOND).allowed
    assert client.updates == 11


def test_a_full_bucket_another_instance_filled_is_refused_by_its_stored_time(stack: Stack) -> None:
    now = 1_790_000_000 * SECOND
    table = Table(stack.table, stack.session.client("dynamodb"))
    first, second = RateRepository(table), RateRepository(table)
    assert take(first, "credential#other", rate=2, count=2, now_us=now).allowed
    assert not take(second, "credential#other", rate=2, count=1, now_us=now).allowed
    assert not take(first, "credential#other", rate=2, count=1, now_us=now).allowed


def test_a_bucket_whose_item_is_gone_starts_again_though_this_process_saw_it_busy(stack: Stack) -> None:
    """The item expires a day after its bucket went idle; deleted here at once, the busy case tried first
    finds nothing and the bucket starts again (no error, no refusal)."""
    now = 1_790_000_000 * SECOND
    store = RateRepository(Table(stack.table, stack.session.client("dynamodb")))
    assert take(store, "credential#gone", rate=10, count=1, now_us=now).allowed
    stack.session.client("dynamodb").delete_item(
        TableName=stack.table, Key={"pk": {"S": "RATE#credential#gone"}, "sk": {"S": "RATE"}}
    )
    decision = take(store, "credential#gone", rate=10, count=1, now_us=now)
    assert decision.allowed
    assert decision.remaining == 9
