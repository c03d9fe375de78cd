"""The SMTP relay's control headers (`X-Posthorn-*`, `X-TM-*`, `X-PM-*`, `X-MailPace-*`, `X-OMS-*`,
`X-OhMySMTP-*`, `X-List-Unsubscribe`) given as custom headers over HTTP: the relay reads and removes them,
the HTTP API has a field for each, so every HTTP entry point refuses them in its own shape, naming the
header, instead of mailing a file key or an idempotency key to the recipient as it stands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from posthorn.errors import ValidationFailed
from send_api.compat import mailpace, postmark, resend, zeptomail

CONTROL = ["X-Posthorn-Idempotency-Key", "X-TM-FILE-KEY", "X-PM-Tag", "X-MailPace-Tags", "X-OhMySMTP-Tags"]


def resend_body(name: str) -> dict[str, Any]:
    return {"from": "hello@example.com", "to": "a@example.net", "subject": "s", "text": "t",
            "headers": {name: "secret"}}  # fmt: skip


def postmark_body(name: str) -> dict[str, Any]:
    return {"From": "hello@example.com", "To": "a@example.net", "Subject": "s", "TextBody": "t",
            "Headers": [{"Name": name, "Value": "secret"}]}  # fmt: skip


def zeptomail_body(name: str) -> dict[str, Any]:
    return {"from": {"address": "hello@example.com"}, "to": [{"email_address": {"address": "a@example.net"}}],
            "subject": "s", "textbody": "t", "mime_headers": {name: "secret"}}  # fmt: skip


SURFACES: list[tuple[str, Callable[[dict[str, Any]], Any], Callable[[str], dict[str, Any]], str]] = [
    ("resend", resend.message_of, resend_body, "headers"),
    ("postmark", postmark.message_of, postmark_body, "Headers"),
    ("zeptomail", zeptomail.single, zeptomail_body, "mime_headers"),
]


@pytest.mark.parametrize("name", CONTROL)
@pytest.mark.parametrize(("vendor", "mapped", "body", "field"), SURFACES, ids=[s[0] for s in SURFACES])
def test_a_control_header_is_refused_naming_the_vendor_field_and_the_header(
    vendor: str,
    mapped: Callable[[dict[str, Any]], Any],
    body: Callable[[str], dict[str, Any]],
    field: str,
    name: str,
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        mapped(body(name))
    assert raised.value.details[0]["field"] == field
    assert name in raised.value.details[0]["message"]
    assert "control header" in raised.value.details[0]["message"]


def test_an_ordinary_custom_header_still_passes() -> None:
    assert resend.message_of(resend_body("X-Entity-Ref-ID")).headers == {"X-Entity-Ref-ID": "secret"}
    assert postmark.message_of(postmark_body("X-Order")).headers == {"X-Order": "secret"}
    assert zeptomail.single(zeptomail_body("X-Order")).headers == {"X-Order": "secret"}


def test_mailpace_has_no_custom_headers_to_smuggle_them_in() -> None:
    """MailPace's send API takes no header map: its headers come only from inreplyto and references."""
    assert "headers" not in mailpace.MailPaceEmail.model_fields
