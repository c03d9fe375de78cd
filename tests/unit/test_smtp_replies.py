"""The SMTP relay's replies (smtp_relay/replies.py) beside the API's statuses (send_api/errors.py): every
domain error has both, a permanent problem is a 5xx in SMTP exactly when it is a 4xx or 5xx other than
429/503 in HTTP, and the reply is one printable line."""

from __future__ import annotations

import inspect

import pytest

from posthorn import errors
from posthorn.errors import PosthornError
from send_api.errors import HTTP_STATUS, http_status
from smtp_relay.replies import SMTP_REPLY, smtp_reply

DOMAIN_ERRORS = [
    kind
    for _, kind in inspect.getmembers(errors, inspect.isclass)
    if issubclass(kind, PosthornError) and kind is not PosthornError
]
# Errors that cannot happen over SMTP: JSON bodies, ids in a path, templates and unknown routes.
HTTP_ONLY = {errors.InvalidJson, errors.NotFound, errors.Conflict, errors.MissingTemplateData}


@pytest.mark.parametrize("kind", DOMAIN_ERRORS, ids=lambda kind: kind.__name__)
def test_every_domain_error_has_an_http_status_and_an_smtp_reply(kind: type[PosthornError]) -> None:
    assert any(base in HTTP_STATUS for base in kind.__mro__), kind
    if kind not in HTTP_ONLY:
        assert any(base in SMTP_REPLY for base in kind.__mro__), kind


@pytest.mark.parametrize("kind", [k for k in DOMAIN_ERRORS if k not in HTTP_ONLY], ids=lambda k: k.__name__)
def test_temporary_in_one_is_temporary_in_the_other(kind: type[PosthornError]) -> None:
    error = (
        kind("x", retry_after_seconds=3) if kind is errors.RateLimited else kind("x")  # type: ignore[call-arg]
    )
    temporary_http = http_status(error) in (429, 503) or isinstance(error, errors.IdempotencyInFlight)
    assert smtp_reply(error).startswith("4") is temporary_http


def test_replies_name_the_api_error_code() -> None:
    assert smtp_reply(errors.SenderNotAllowed("this credential may not send from example.org")) == (
        "550 5.7.1 sender_not_allowed: this credential may not send from example.org"  # docs/api.md's example
    )
    assert smtp_reply(errors.DomainNotVerified("no")) == "550 5.7.1 domain_not_verified: no"
    assert smtp_reply(errors.DomainPaused("no")) == "550 5.7.1 domain_paused: no"
    assert smtp_reply(errors.Unauthorized("unknown credential or wrong secret")) == (
        "535 5.7.8 unauthorized: unknown credential or wrong secret"
    )
    assert smtp_reply(errors.PayloadTooLarge("big")) == "552 5.3.4 payload_too_large: big"
    assert smtp_reply(errors.ValidationFailed.on("X-TM-FILE-KEY", "unknown file_key")) == (
        "550 5.6.0 validation_error: X-TM-FILE-KEY: unknown file_key"
    )
    limited = errors.RateLimited("over", retry_after_seconds=7)
    assert smtp_reply(limited) == "451 4.7.1 rate limit exceeded, try again in 7 s"  # docs/api.md's wording


@pytest.mark.parametrize(
    "kind",
    [k for k in DOMAIN_ERRORS if k not in HTTP_ONLY and k is not errors.RateLimited],
    ids=lambda k: k.__name__,
)
def test_every_refusal_names_its_api_error_code(kind: type[PosthornError]) -> None:
    _, _, text = smtp_reply(kind("what went wrong")).split(" ", 2)
    assert text == f"{kind.code}: what went wrong"


def test_a_reply_is_one_printable_line() -> None:
    reply = smtp_reply(errors.ValidationFailed("line one\r\nline two é " + "x" * 600))
    assert "\r" not in reply
    assert "\n" not in reply
    assert all(32 <= ord(c) < 127 for c in reply)
    assert len(reply) < 512
