"""API.md, Administration: "A message that omits a field gets the default, on every entry point that can omit
it (`POST /v1/email`, batch items, every compatible endpoint)". The surfaces whose vendor requires a From
(Resend, Postmark, ZeptoMail, MailPace) leave it to the credential's `sender_defaults` when it is absent, and
without a default refuse it in the vendor's shape, naming the vendor's field."""

from __future__ import annotations

from typing import Any

import pytest

from posthorn.errors import ValidationFailed
from posthorn.logic.sending.sender_defaults import NO_SENDER
from posthorn.models.credentials import SenderDefaults
from send_api.compat import mailpace, postmark, resend, zeptomail
from send_api.compat.surface import has_sender
from tests.support.records import credential

WITHOUT_DEFAULT = credential()
WITH_DEFAULT = credential().model_copy(
    update={"sender_defaults": SenderDefaults(from_email="noreply@example.com")}
)


def test_a_message_has_a_sender_of_its_own_or_the_credentials() -> None:
    message = resend.message_of({"to": "a@example.net", "subject": "s", "text": "t"})
    assert message.from_email is None
    assert has_sender(message, WITH_DEFAULT)
    assert not has_sender(message, WITHOUT_DEFAULT)
    assert has_sender(resend.message_of({"from": "x@example.com", "to": "a@example.net", "subject": "s",
                                         "text": "t"}), WITHOUT_DEFAULT)  # fmt: skip


def test_resend_without_from_and_default_is_its_missing_required_field() -> None:
    message = resend.message_of({"to": "a@example.net", "subject": "s", "text": "t"})
    assert resend.sendable(message, WITH_DEFAULT) is message
    with pytest.raises(resend.MissingRequiredField) as raised:
        resend.sendable(message, WITHOUT_DEFAULT)
    assert raised.value.message == "Missing `from` field."
    assert resend.answer_of(raised.value) == (422, "missing_required_field")


def test_zeptomail_without_from_and_default_is_its_mandatory_field_missing() -> None:
    body: dict[str, Any] = {"to": [{"email_address": {"address": "a@example.net"}}], "subject": "s",
                            "textbody": "t"}  # fmt: skip
    message = zeptomail.single(body)
    assert zeptomail.sendable(message, credential=WITH_DEFAULT) == [message]
    with pytest.raises(ValidationFailed) as raised:
        zeptomail.sendable(message, credential=WITHOUT_DEFAULT)
    answer = zeptomail.render(raised.value)
    assert answer.status_code == 400
    assert '"code": "TM_3201"' in str(answer.body)
    assert '"target": "from"' in str(answer.body)


def test_a_zeptomail_batch_without_from_uses_the_default_for_every_recipient() -> None:
    body = {"to": [{"email_address": {"address": f"{n}@example.net"}} for n in "ab"], "subject": "s",
            "textbody": "t"}  # fmt: skip
    assert len(zeptomail.sendable(*zeptomail.batch(body), credential=WITH_DEFAULT)) == 2


def test_mailpace_without_from_and_default_names_from() -> None:
    message = mailpace.message({"to": "a@example.net", "subject": "s", "textbody": "t"})
    assert mailpace.sendable(message, WITH_DEFAULT) is message
    with pytest.raises(ValidationFailed) as raised:
        mailpace.sendable(message, WITHOUT_DEFAULT)
    answer = mailpace.render(raised.value)
    assert answer.status_code == 400
    assert '"errors": {"from": [' in str(answer.body)


def test_postmark_without_from_and_default_names_from() -> None:
    """Postmark's send lets the send refuse Posthorn's `from_email` and renames it."""
    message = postmark.message_of({"To": "a@example.net", "Subject": "s", "TextBody": "t"})
    assert message.from_email is None
    refused = postmark.renamed(ValidationFailed.on("from_email", NO_SENDER))
    assert refused.message.startswith("Invalid 'From': is required")
    assert postmark.answer_of(refused) == (422, 300)


@pytest.mark.parametrize("vendor", ["resend", "postmark", "zeptomail", "mailpace"])
def test_the_documented_request_schema_no_longer_requires_from(vendor: str) -> None:
    model = {
        "resend": resend.ResendEmail,
        "postmark": postmark.PostmarkMessage,
        "zeptomail": zeptomail.ZeptoMailEmail,
        "mailpace": mailpace.MailPaceEmail,
    }[vendor]
    schema = model.model_json_schema(by_alias=True)
    assert not {"from", "From"} & set(schema.get("required", []))
    assert "sender_defaults" in str(schema["properties"].get("from") or schema["properties"]["From"])


def test_a_message_without_a_body_names_the_vendors_body_fields() -> None:
    """Not Posthorn's `body_text`/`body_html` (nor MailPace's catch-all `base`)."""
    with pytest.raises(ValidationFailed) as raised:
        mailpace.message({"from": "a@example.com", "to": "b@example.net", "subject": "s"})
    assert raised.value.details[0]["field"] == "htmlbody"
    with pytest.raises(ValidationFailed) as raised:
        zeptomail.single({"from": {"address": "a@example.com"}, "subject": "s",
                          "to": [{"email_address": {"address": "b@example.net"}}]})  # fmt: skip
    assert raised.value.details[0]["field"] == "htmlbody"
    assert "textbody" in raised.value.details[0]["message"]
