"""Signing: the Standard Webhooks spec's own test vector, and what both reference verifiers accept."""

from __future__ import annotations

import base64
import time

import pytest
import standardwebhooks
import svix

from posthorn.logic.webhooks import signing

# The spec's test vector (standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_PAYLOAD = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_spec_test_vector() -> None:
    assert signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD) == SPEC_SIGNATURE


def test_signature_of_a_changed_body_differs_from_the_vector() -> None:
    changed = signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, '{"test": 2432232315}')
    assert changed != SPEC_SIGNATURE


def test_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_two_secrets_give_two_space_separated_signatures_newest_first() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    header = signing.signature_header([new, old], "msg_1", 1, "{}")
    assert header.split(" ") == [
        signing.signature(new, "msg_1", 1, "{}"),
        signing.signature(old, "msg_1", 1, "{}"),
    ]


@pytest.mark.parametrize("verifier", [standardwebhooks.Webhook, svix.Webhook])
def test_reference_verifiers_accept_the_headers_with_either_secret(verifier: type) -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = '{"type":"email.delivered","data":{"message_id":"msg_1"}}'
    headers = signing.headers([new, old], "msg_abc", int(time.time()), body)
    for secret in (new, old):
        verifier(secret).verify(body, headers)  # raises when no signature verifies


@pytest.mark.parametrize("verifier", [standardwebhooks.Webhook, svix.Webhook])
def test_reference_verifiers_refuse_a_third_secret(verifier: type) -> None:
    body = "{}"
    headers = signing.headers([signing.new_secret()], "msg_abc", int(time.time()), body)
    with pytest.raises(Exception, match=r"(?i)signature"):
        verifier(signing.new_secret()).verify(body, headers)
