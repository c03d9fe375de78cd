"""MailPace's request onto Posthorn's message (`send_api.compat.mailpace`), field by field, what is refused
naming the field, and every Posthorn error as MailPace answers it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from posthorn import errors
from posthorn.errors import PosthornError, ValidationFailed
from posthorn_local.apigw import LambdaContext, build_event
from send_api.compat import mailpace
from send_api.compat.surface import KeyMissing
from send_api.errors import HTTP_STATUS

BASE: dict[str, Any] = {
    "from": "hello@example.com",
    "to": "ada@example.net",
    "subject": "Hi",
    "textbody": "Hello",
}


def refused_fields(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as raised:
        mailpace.message(body)
    return [detail.get("field", "") for detail in raised.value.details]


def test_a_send_maps_every_field() -> None:
    message = mailpace.message(
        {
            "from": "Example App <hello@example.com>",
            "to": '"Müller, Jürgen" <juergen@example.net>, ada@example.net',
            "cc": "Team <team@example.net>",
            "bcc": "hidden@example.org, other@example.org",
            "replyto": "Support <support@example.com>",
            "subject": "Hi",
            "htmlbody": "<p>Hello</p>",
            "textbody": "Hello",
            "inreplyto": "<first@example.com>",
            "references": "<first@example.com> <second@example.com>",
            "list_unsubscribe": "<mailto:unsubscribe@example.com>",
            "attachments": [
                {"name": "a.pdf", "content": "JVBERi0=", "content_type": "application/pdf"},
                {"name": "logo.png", "content": "iVBORw==", "content_type": "image/png", "cid": "logo"},
            ],
            "tags": ["welcome", "receipt"],
        }
    )
    assert (message.from_email, message.from_name) == ("hello@example.com", "Example App")
    assert [(r.email, r.name) for r in message.to] == [
        ("juergen@example.net", "Müller, Jürgen"),
        ("ada@example.net", None),
    ]
    assert [(r.email, r.name) for r in message.cc] == [("team@example.net", "Team")]
    assert [r.email for r in message.bcc] == ["hidden@example.org", "other@example.org"]
    assert (message.reply_to_email, message.reply_to_name) == ("support@example.com", "Support")
    assert (message.subject, message.body_text, message.body_html) == ("Hi", "Hello", "<p>Hello</p>")
    assert message.headers == {
        "In-Reply-To": "<first@example.com>",
        "References": "<first@example.com> <second@example.com>",
    }
    assert message.list_unsubscribe == "<mailto:unsubscribe@example.com>"
    assert [item.model_dump(exclude_none=True) for item in message.attachments] == [
        {"name": "a.pdf", "content": "JVBERi0=", "content_type": "application/pdf"},
        {"name": "logo.png", "content": "iVBORw==", "content_type": "image/png", "content_id": "logo"},
    ]
    assert message.tags == ["welcome", "receipt"]


def test_tags_may_be_one_string() -> None:
    assert mailpace.message({**BASE, "tags": "password-reset"}).tags == ["password-reset"]


@pytest.mark.parametrize(
    ("value", "split"),
    [
        ("a@b.io", ["a@b.io"]),
        ("a@b.io,b@b.io ,  c@b.io", ["a@b.io", "b@b.io", "c@b.io"]),
        ('"Doe, Jane" <j@b.io>, Bob <b@b.io>', ['"Doe, Jane" <j@b.io>', "Bob <b@b.io>"]),
        ("<odd,but@b.io>", ["<odd,but@b.io>"]),
        ("", []),
    ],
)
def test_an_address_list_splits_outside_quotes_and_angle_brackets(value: str, split: list[str]) -> None:
    assert mailpace.addresses(value) == split


def test_an_unknown_field_is_refused_naming_it() -> None:
    assert refused_fields({**BASE, "send_at": "tomorrow"}) == ["send_at"]
    attachment = {
        "name": "a.pdf",
        "content": "JVBERi0=",
        "content_type": "application/pdf",
        "disposition": "x",
    }
    assert refused_fields({**BASE, "attachments": [attachment]}) == ["attachments"]


def test_what_posthorn_cannot_honour_is_refused_naming_it() -> None:
    assert refused_fields({**BASE, "replyto": "a@example.com, b@example.com"}) == ["replyto"]
    assert refused_fields({key: value for key, value in BASE.items() if key != "subject"}) == ["subject"]
    assert refused_fields({**BASE, "tags": ["not a tag"]}) == ["tags"]


def test_an_invalid_value_names_mailpaces_field() -> None:
    assert refused_fields({**BASE, "to": "not-an-address"}) == ["to"]
    assert refused_fields({**BASE, "from": "Nobody <nowhere>"}) == ["from"]
    assert refused_fields({**BASE, "inreplyto": "a\r\nBcc: x@y.z"}) == ["inreplyto"]
    assert refused_fields({**BASE, "to": 42}) == ["to"]


def test_the_key_is_the_server_token_header() -> None:
    assert mailpace.api_key({"mailpace-server-token": " ph_a.secret "}) == "ph_a.secret"
    assert mailpace.api_key({"mailpace-server-token": ""}) is None
    assert mailpace.api_key({}) is None


def test_every_posthorn_error_has_mailpaces_answer() -> None:
    assert set(HTTP_STATUS) <= set(mailpace.ERRORS)
    for kind in HTTP_STATUS:
        error: PosthornError = (
            errors.RateLimited("slow down", retry_after_seconds=2)
            if kind is errors.RateLimited
            else kind("what went wrong")
        )
        response = mailpace.render(error)
        body = json.loads(response.body)
        assert response.status_code == mailpace.ERRORS[kind][0]
        if issubclass(kind, mailpace.ERRORS_SHAPE):
            mailpace.MailPaceFieldErrors.model_validate(body)
        else:
            mailpace.MailPaceError.model_validate(body)


def test_mailpaces_documented_texts() -> None:
    def said(error: PosthornError) -> tuple[int, Any]:
        response = mailpace.render(error)
        return response.status_code, json.loads(response.body)

    assert said(KeyMissing("no key")) == (401, {"error": "Missing API Token"})
    assert said(errors.Unauthorized("wrong")) == (401, {"error": "Invalid API Token"})
    assert said(errors.AllRecipientsSuppressed("all")) == (
        400,
        {"errors": {"to": ["contains a blocked address"]}},
    )
    assert said(errors.InvalidJson("not json")) == (406, {"error": "Invalid request format or content type"})
    assert said(ValidationFailed.on("to", "is invalid")) == (400, {"errors": {"to": ["is invalid"]}})
    sender = said(errors.SenderNotAllowed("x"))
    assert sender == (403, {"error": "Verified domain does not match domain in From address of email"})


def test_a_request_without_the_token_is_mailpaces_401() -> None:
    from send_api.app import app

    event = build_event(
        "POST", "/mailpace/api/v1/send", resource="/mailpace/api/v1/send", body=json.dumps(BASE).encode()
    )
    answer = app.resolve(event, LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"])) == (401, {"error": "Missing API Token"})
