"""`Idempotency-Key` logic against an in-memory store with the DynamoDB adapter's claim semantics."""

from __future__ import annotations

import json

import pytest

from posthorn.errors import IdempotencyConflict, ValidationFailed
from posthorn.logic.sending.idempotency import (
    LEASE_SECONDS,
    MAX_KEY_LENGTH,
    begin,
    fingerprint,
    scope_key,
    should_remember,
)
from posthorn.models.idempotency import StoredResponse
from tests.support.fakes import FakeIdempotencyStore

TTL = 24 * 3600
NOW = 1_700_000_000
BODY = {"from_email": "a@example.com", "to": ["b@example.net"], "subject": "Hi", "body_text": "x"}


@pytest.fixture
def store() -> FakeIdempotencyStore:
    return FakeIdempotencyStore()


def test_same_json_with_other_key_order_and_whitespace_has_the_same_fingerprint() -> None:
    reordered = json.loads('{ "subject" : "Hi", "to": ["b@example.net"],\n"body_text":"x",'
                           '"from_email":"a@example.com"}')  # fmt: skip
    assert fingerprint(reordered) == fingerprint(BODY)


def test_nested_key_order_does_not_change_the_fingerprint() -> None:
    assert fingerprint({"m": {"a": 1, "b": 2}}) == fingerprint({"m": {"b": 2, "a": 1}})


def test_different_body_has_a_different_fingerprint() -> None:
    assert fingerprint(BODY) != fingerprint({**BODY, "subject": "Hi!"})
    assert fingerprint({"to": ["a", "b"]}) != fingerprint({"to": ["b", "a"]})


def test_keys_are_scoped_to_the_credential() -> None:
    assert scope_key("ph_a", "key-1") != scope_key("ph_b", "key-1")
    assert scope_key("ph_a", "key-1") == scope_key("ph_a", "key-1")
    assert scope_key("ph_a", "key-1").startswith("ph_a#")


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1), "line\nbreak", "tab\tkey", "del\x7f"])
def test_bad_key_is_a_validation_error(key: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        scope_key("ph_a", key)
    assert caught.value.details[0]["field"] == "Idempotency-Key"


def test_key_of_256_printable_characters_is_accepted() -> None:
    assert scope_key("ph_a", "k" * MAX_KEY_LENGTH)


def test_first_request_goes_ahead(store: FakeIdempotencyStore) -> None:
    assert begin(store, "s", "f1", now=NOW, ttl_seconds=TTL) is None


def test_completed_request_is_replayed(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    store.complete("s", StoredResponse(200, '{"message_id": "m"}'), expires_at=NOW + TTL)
    assert begin(store, "s", "f1", now=NOW + 5, ttl_seconds=TTL) == StoredResponse(200, '{"message_id": "m"}')


def test_same_key_with_a_different_body_is_a_conflict(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    store.complete("s", StoredResponse(200, "{}"), expires_at=NOW + TTL)
    with pytest.raises(IdempotencyConflict, match="different request body"):
        begin(store, "s", "f2", now=NOW + 1, ttl_seconds=TTL)


def test_request_still_in_flight_is_a_conflict(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    with pytest.raises(IdempotencyConflict, match="still in flight"):
        begin(store, "s", "f1", now=NOW + 1, ttl_seconds=TTL)


def test_a_claim_whose_lease_ran_out_can_be_taken_again(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    assert begin(store, "s", "f1", now=NOW + LEASE_SECONDS + 1, ttl_seconds=TTL) is None


def test_a_completed_response_outlives_the_lease(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    store.complete("s", StoredResponse(200, "{}"), expires_at=NOW + TTL)
    assert begin(store, "s", "f1", now=NOW + LEASE_SECONDS * 10, ttl_seconds=TTL) is not None


def test_an_expired_key_can_be_used_again(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    store.complete("s", StoredResponse(200, "{}"), expires_at=NOW + TTL)
    assert begin(store, "s", "f2", now=NOW + TTL + 1, ttl_seconds=TTL) is None


def test_a_released_key_can_be_claimed_again(store: FakeIdempotencyStore) -> None:
    begin(store, "s", "f1", now=NOW, ttl_seconds=TTL)
    store.release("s")
    assert begin(store, "s", "f1", now=NOW + 1, ttl_seconds=TTL) is None


@pytest.mark.parametrize(
    ("status", "remember"),
    [
        (200, True),
        (202, True),
        (409, True),
        (422, True),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
    ],
)
def test_final_answers_are_remembered_and_retryable_ones_released(status: int, remember: bool) -> None:
    assert should_remember(status) is remember
