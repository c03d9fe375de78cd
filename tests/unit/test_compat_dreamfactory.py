"""DreamFactory's email service request → Posthorn's message, and Posthorn's errors → DreamFactory's
(send_api/compat/dreamfactory.py). The requests and answers against the running stack are in
tests/e2e/test_compat_dreamfactory.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from posthorn import errors
from posthorn.errors import PosthornError, ValidationFailed
from send_api.compat.dreamfactory import SEED_EXAMPLE, error_response, to_message


def refused_field(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationFailed) as raised:
        to_message(body)
    return raised.value.details[0]["field"]


def test_the_seed_body_maps_field_for_field_without_a_sender() -> None:
    message = to_message(SEED_EXAMPLE)
    assert message.from_email is None  # the credential's sender_defaults supply it
    assert [(r.email, r.name) for r in message.to] == [("user@example.net", "John Doe")]
    assert message.subject == "Your Order Confirmation"
    assert message.body_text == "Thank you for your order!"
    assert message.body_html == "<h1>Thank you for your order!</h1>"
    assert message.template_data is None


def test_sender_reply_to_cc_and_bcc_map_to_posthorns_fields() -> None:
    message = to_message(
        {
            **SEED_EXAMPLE,
            "from_email": "shop@example.com",
            "from_name": "Shop",
            "reply_to_email": "help@example.com",
            "reply_to_name": "Help",
            "cc": [{"email": "cc@example.net"}],
            "bcc": ["bcc@example.net"],
        }
    )
    assert (message.from_email, message.from_name) == ("shop@example.com", "Shop")
    assert (message.reply_to_email, message.reply_to_name) == ("help@example.com", "Help")
    assert [r.email for r in message.cc] == ["cc@example.net"]
    assert [r.email for r in message.bcc] == ["bcc@example.net"]


@pytest.mark.parametrize(
    "to",
    [
        "user@example.net",
        {"email": "user@example.net", "name": "User"},
        ["user@example.net"],
        [{"email": "user@example.net"}],
    ],
)
def test_recipients_may_be_one_address_one_object_or_a_list_of_either(to: Any) -> None:
    assert [r.email for r in to_message({**SEED_EXAMPLE, "to": to}).to] == ["user@example.net"]


def test_other_fields_fill_placeholders_as_dreamfactory_lookups_do() -> None:
    message = to_message({**SEED_EXAMPLE, "subject": "Hi {first_name}", "first_name": "Joe"})
    assert message.template_data == {"first_name": "Joe"}


@pytest.mark.parametrize("field", ["template", "template_id", "attachment", "import_url"])
def test_fields_posthorn_cannot_honour_are_refused_naming_them(field: str) -> None:
    assert refused_field({**SEED_EXAMPLE, field: "x"}) == field


def test_a_field_that_fills_no_placeholder_is_refused_not_dropped() -> None:
    assert refused_field({**SEED_EXAMPLE, "from": "shop@example.com"}) == "from"
    assert refused_field({**SEED_EXAMPLE, "subject": "Hi {name}", "name": {"first": "Joe"}}) == "name"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in SEED_EXAMPLE.items() if k != "to"}, "to"),
        ({**SEED_EXAMPLE, "to": [{"email": "not an address"}]}, "to[0].email"),
        ({**SEED_EXAMPLE, "to": [{"email": "a@example.net", "first": "x"}]}, "to[0].first"),
        ({**SEED_EXAMPLE, "cc": 5}, "cc[0]"),
        ({**SEED_EXAMPLE, "subject": 5}, "subject"),
        ({**SEED_EXAMPLE, "from_email": "nobody"}, "from_email"),
    ],
)
def test_bad_fields_are_named(body: dict[str, Any], field: str) -> None:
    assert refused_field(body) == field


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidJson("not JSON"), 400),
        (ValidationFailed.on("to", "required"), 400),
        (errors.MissingTemplateData("no value"), 400),
        (errors.Unauthorized("wrong key"), 401),
        (errors.Forbidden("no send"), 403),
        (errors.SenderNotAllowed("not yours"), 403),
        (errors.RateLimited("slow down", retry_after_seconds=2), 429),
        (errors.UpstreamUnavailable("SES down"), 503),
    ],
)
def test_errors_are_dreamfactorys_shape_and_status(error: PosthornError, status: int) -> None:
    response = error_response(error)
    assert response.status_code == status
    body = json.loads(str(response.body))
    assert body["error"]["code"] == body["error"]["status_code"] == status
    assert body["error"]["message"] == error.message
    assert body["error"]["context"]["code"] == error.code


def test_every_error_the_api_answers_has_its_dreamfactory_status() -> None:
    """A new error class is answered with its meaning, never the 500 an unlisted one would get."""
    from send_api.compat.dreamfactory import STATUS
    from send_api.errors import HTTP_STATUS

    assert set(HTTP_STATUS) - {errors.Conflict} <= set(STATUS)  # Conflict: administration routes only
    # DreamFactory's BadRequestException (400) is every refusal of the content; the rest keep their status.
    assert {kind for kind, status in HTTP_STATUS.items() if STATUS.get(kind, status) != status} == {
        errors.ValidationFailed,
        errors.MissingTemplateData,
        errors.AllRecipientsSuppressed,
    }


def test_a_validation_error_names_its_field_in_the_context() -> None:
    body = json.loads(str(error_response(ValidationFailed.on("to[0].email", "bad")).body))
    assert body["error"]["context"] == {"code": "validation_error", "field": "to[0].email", "error": "bad"}
