"""The Resend surface's mapping (send_api/compat/resend.py): a Resend email becomes Posthorn's message, every
field Posthorn cannot honour is refused naming it, and every Posthorn error has Resend's answer."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from posthorn import errors
from posthorn.errors import PosthornError, ValidationFailed
from send_api.compat import resend, surface_of
from send_api.compat.resend import (
    ANSWERS,
    InvalidAttachment,
    MissingRequiredField,
    answer_of,
    api_key,
    message_of,
    render,
    surface,
)
from send_api.compat.surface import MissingApiKey
from send_api.errors import HTTP_STATUS
from tests.support.openapi_conformance import committed_document, schema_errors
from tests.support.records import credential

WITH_FROM = credential()
EMAIL: dict[str, Any] = {
    "from": "hello@example.com",
    "to": "success@simulator.amazonses.com",
    "subject": "Hi",
    "text": "Hello",
}


def refusal(body: dict[str, Any]) -> PosthornError:
    with pytest.raises(PosthornError) as raised:
        message_of(body)
    return raised.value


def test_the_surface_is_registered_under_resend() -> None:
    assert surface_of("/resend/emails") == surface_of("/resend/emails/batch") == "resend"


# --- what maps ----------------------------------------------------------------------------------------------
def test_every_field_resend_takes_maps_onto_posthorns_message() -> None:
    message = message_of(
        {
            "from": "Zoë's Café <hello@example.com>",
            "to": ['"Müller, Jürgen" <juergen@example.net>', "b@example.net"],
            "cc": "cc@example.net",
            "bcc": ["bcc@example.org"],
            "reply_to": "Support <support@example.com>",
            "subject": "Grüße",
            "html": "<p>Hi</p>",
            "text": "Hi",
            "headers": {"X-Entity-Ref-ID": "42"},
            "tags": [{"name": "category", "value": "confirm_email"}, {"name": "flag"}],
        }
    )
    assert (message.from_name, message.from_email) == ("Zoë's Café", "hello@example.com")
    assert [(r.name, r.email) for r in message.to] == [
        ("Müller, Jürgen", "juergen@example.net"),
        (None, "b@example.net"),
    ]
    assert [r.email for r in message.cc] == ["cc@example.net"]
    assert [r.email for r in message.bcc] == ["bcc@example.org"]
    assert (message.reply_to_name, message.reply_to_email) == ("Support", "support@example.com")
    assert (message.subject, message.body_html, message.body_text) == ("Grüße", "<p>Hi</p>", "Hi")
    assert message.headers == {"X-Entity-Ref-ID": "42"}
    assert message.metadata == {"category": "confirm_email", "flag": ""}
    assert message.tags == []


def test_an_empty_text_is_resends_no_text_part() -> None:
    message = message_of({**EMAIL, "text": "", "html": "<p>Hi</p>"})
    assert message.body_text is None


def test_a_reply_to_list_of_one_is_taken() -> None:
    assert message_of({**EMAIL, "reply_to": ["r@example.com"]}).reply_to_email == "r@example.com"


@pytest.mark.parametrize(
    "content",
    [
        base64.b64encode(b"\x00\xffbytes").decode(),  # base64, as the docs and the Node SDK (6.x) send it
        list(b"\x00\xffbytes"),  # the Python SDK's `list(open(...).read())`
        {"type": "Buffer", "data": list(b"\x00\xffbytes")},  # JSON.stringify(Buffer): older Node SDKs
    ],
)
def test_attachment_content_in_each_form_an_sdk_sends(content: Any) -> None:
    email = {**EMAIL, "attachments": [{"filename": "a.bin", "content": content, "content_type": "image/png"}]}
    [attachment] = message_of(email).attachments
    assert attachment.content is not None
    assert base64.b64decode(attachment.content) == b"\x00\xffbytes"
    assert (attachment.name, attachment.content_type) == ("a.bin", "image/png")


@pytest.mark.parametrize("field", ["content_id", "inline_content_id"])
def test_an_inline_image_by_either_sdks_name(field: str) -> None:
    attachment = {"filename": "logo.png", "content": "iVBORw0KGgo=", field: "<logo>"}
    [mapped] = message_of({**EMAIL, "attachments": [attachment]}).attachments
    assert mapped.content_id == "logo"


def test_list_unsubscribe_headers_become_posthorns_field() -> None:
    headers = {
        "list-unsubscribe": "<https://example.com/u>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    message = message_of({**EMAIL, "headers": headers})
    assert message.list_unsubscribe == "<https://example.com/u>"
    assert message.has_one_click_unsubscribe
    assert message.headers == {}


# --- what is refused, naming the field -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"scheduled_at": "in 1 min"}, "scheduled_at"),
        ({"template": {"id": "welcome", "variables": {"name": "Ada"}}}, "template"),
        ({"topic_id": "t_1"}, "topic_id"),
        ({"react": "<Email />"}, "react"),
    ],
)
def test_fields_posthorn_cannot_honour_are_refused(extra: dict[str, Any], field: str) -> None:
    error = refusal({**EMAIL, **extra})
    assert type(error) is ValidationFailed
    assert error.message.startswith(f"{field}: not supported by Posthorn")
    assert error.details == [{"field": field, "message": error.message.removeprefix(f"{field}: ")}]
    assert answer_of(error) == (422, "validation_error")


def test_a_refused_field_given_as_null_is_absent() -> None:
    assert message_of({**EMAIL, "scheduled_at": None, "topic_id": None}).subject == "Hi"


def test_an_unknown_field_is_refused() -> None:
    error = refusal({**EMAIL, "attachment": []})
    assert error.message == "attachment: not a field of Resend's send API that Posthorn takes"


def test_an_attachment_path_is_refused_posthorn_fetches_no_urls() -> None:
    error = refusal({**EMAIL, "attachments": [{"filename": "a.pdf", "path": "https://example.com/a.pdf"}]})
    assert isinstance(error, InvalidAttachment)
    assert error.message.startswith("attachments[0].path: Posthorn does not fetch URLs")
    assert answer_of(error) == (422, "invalid_attachment")


def test_more_than_one_reply_to_is_refused() -> None:
    error = refusal({**EMAIL, "reply_to": ["a@example.com", "b@example.com"]})
    assert error.message == "reply_to: Posthorn sets one Reply-To address: give one"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("to", "Missing `to` field."),
        ("subject", "Missing `subject` field."),
    ],
)
def test_a_missing_required_field_is_resends_missing_required_field(missing: str, message: str) -> None:
    error = refusal({key: value for key, value in EMAIL.items() if key != missing})
    assert isinstance(error, MissingRequiredField)
    assert error.message == message
    assert answer_of(error) == (422, "missing_required_field")


def test_neither_html_nor_text_is_a_missing_field() -> None:
    error = refusal({key: value for key, value in EMAIL.items() if key != "text"})
    assert error.message == "Missing `html` or `text` field."
    assert answer_of(error) == (422, "missing_required_field")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to": ["ok@example.net", "not-an-address"]}, "to[1]"),
        ({"from": "Bad <nope>"}, "from"),
        ({"cc": "x"}, "cc[0]"),
        ({"reply_to": "nope"}, "reply_to"),
        ({"headers": {"From": "x@example.com"}}, "headers"),
        ({"tags": [{"name": "has space", "value": "x"}]}, "tags[0].name"),
        ({"tags": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}, "tags"),
        ({"to": [f"r{i}@example.net" for i in range(51)]}, "to"),
    ],
)
def test_a_bad_value_is_a_validation_error_naming_the_resend_field(
    change: dict[str, Any], field: str
) -> None:
    error = refusal({**EMAIL, **change})
    assert type(error) is ValidationFailed
    assert error.details[0]["field"] == field
    assert answer_of(error) == (422, "validation_error")


def test_recipients_over_posthorns_limit_across_to_cc_and_bcc_are_refused() -> None:
    error = refusal(
        {
            **EMAIL,
            "to": [f"r{i}@example.net" for i in range(30)],
            "cc": [f"c{i}@example.net" for i in range(30)],
        }
    )
    assert "at most 50 recipients" in error.message


def test_a_bad_attachment_is_invalid_attachment_named_as_resend_names_it() -> None:
    error = refusal({**EMAIL, "attachments": [{"filename": "../a.txt", "content": "aGk="}]})
    assert isinstance(error, InvalidAttachment)
    assert error.details[0]["field"] == "attachments[0].filename"


def test_one_click_without_an_https_list_unsubscribe_is_refused() -> None:
    headers = {
        "List-Unsubscribe": "<mailto:u@example.com>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    error = refusal({**EMAIL, "headers": headers})
    assert error.details[0]["field"] == "headers.List-Unsubscribe-Post"


def test_content_id_and_inline_content_id_that_differ_are_refused() -> None:
    attachment = {"filename": "a.png", "content": "aGk=", "content_id": "a", "inline_content_id": "b"}
    error = refusal({**EMAIL, "attachments": [attachment]})
    assert error.details[0]["field"] == "attachments[0].content_id"


@pytest.mark.parametrize("attachments", [5, True, "a.pdf", {"filename": "a.pdf"}])
def test_attachments_that_are_not_a_list_are_refused_not_a_500(attachments: Any) -> None:
    error = refusal({**EMAIL, "attachments": attachments})
    assert error.details[0]["field"].startswith("attachments")


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert refusal(["not", "an", "object"]).message == "(body): an email must be a JSON object"  # type: ignore[arg-type]


# --- Resend's answers ---------------------------------------------------------------------------------------
def test_every_posthorn_error_class_has_a_resend_answer() -> None:
    unmapped = [kind for kind in HTTP_STATUS if kind not in ANSWERS]
    assert unmapped == []
    for kind in HTTP_STATUS:
        status, name = ANSWERS[kind]
        assert name != "internal_server_error", kind
        assert 400 <= status < 600


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (MissingApiKey("the Resend API key is missing"), (401, "missing_api_key")),
        (errors.Unauthorized("unknown credential or wrong secret"), (403, "invalid_api_key")),
        (errors.CredentialSuspended("suspended"), (403, "invalid_api_key")),
        (errors.Forbidden("lacks send"), (401, "restricted_api_key")),
        (errors.SenderNotAllowed("not yours"), (403, "invalid_from_address")),
        (errors.InvalidJson("not JSON"), (400, "validation_error")),
        (errors.IdempotencyConflict("another body"), (409, "invalid_idempotent_request")),
        (errors.IdempotencyInFlight("in flight"), (409, "concurrent_idempotent_requests")),
        (
            ValidationFailed.on("Idempotency-Key", "must be 1-256 printable characters"),
            (400, "invalid_idempotency_key"),
        ),
        (errors.RateLimited("slow down", retry_after_seconds=2), (429, "rate_limit_exceeded")),
        (errors.UpstreamUnavailable("SES is down"), (503, "application_error")),
        (PosthornError("?"), (500, "internal_server_error")),
    ],
)
def test_errors_are_answered_with_resends_status_and_name(
    error: PosthornError, answer: tuple[int, str]
) -> None:
    assert answer_of(error) == answer
    response = render(error)
    assert response.status_code == answer[0]
    assert json.loads(str(response.body)) == {
        "statusCode": answer[0],
        "name": answer[1],
        "message": error.message,
    }


def test_a_missing_key_challenges_for_a_bearer_token() -> None:
    assert render(MissingApiKey("missing")).headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_rate_limit_answer_carries_retry_after() -> None:
    response = surface.failed(errors.RateLimited("slow down", retry_after_seconds=3))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


@pytest.mark.parametrize(
    ("authorization", "key"),
    [
        ("Bearer ph_a.secret", "ph_a.secret"),
        ("bearer  ph_a.secret ", "ph_a.secret"),
        ("Basic eDp5", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_the_key_is_the_bearer_token(authorization: str, key: str | None) -> None:
    assert api_key({"authorization": authorization}) == key


# --- the document ------------------------------------------------------------------------------------------
def test_the_document_describes_the_routes_in_resends_shape() -> None:
    document = committed_document()
    for path, operation_id in (
        ("/resend/emails", "resend_send_email"),
        ("/resend/emails/batch", "resend_send_batch"),
    ):
        operation = document["paths"][path]["post"]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["compatible: Resend"]
        assert operation["security"] == [{"bearer": []}]
        for status, response in operation["responses"].items():
            schema = response["content"]["application/json"]["schema"]
            if int(status) < 400 or status in ("413", "500", "504") or (status == "502" and "batch" in path):
                continue  # API Gateway's own answers (a batch sends nothing to SES), and unexpected failures
            assert "ResendError" in json.dumps(schema), (path, status)
            for example in response["content"]["application/json"]["examples"].values():
                assert not schema_errors(document, schema, example["value"])
    email = document["components"]["schemas"]["ResendEmail"]
    assert email["additionalProperties"] is False
    assert set(email["required"]) == {"to", "subject"}  # `from`: the credential's sender_defaults may give it


def test_every_documented_refusal_is_what_render_sends() -> None:
    for error in resend.REFUSALS:
        assert json.loads(str(render(error).body)) == resend.error_json(error)


# --- the batch's modes: permissive forgives an email Posthorn will not send, not one off the document ---
BATCH_SCHEMA = {"$ref": "#/components/schemas/ResendEmail"}
UNSENDABLE = {**EMAIL, "to": "not-an-address"}  # Resend's shape; Posthorn refuses the address
OFF_THE_DOCUMENT = [
    {**EMAIL, "reply_to": {"email": "r@example.com"}},
    {**EMAIL, "headers": ["X-A: 1"]},
    {**EMAIL, "to": 7},
    {**EMAIL, "unknown": 1},
    {key: value for key, value in EMAIL.items() if key != "subject"},
    "not an email",
]


@pytest.mark.parametrize("malformed", OFF_THE_DOCUMENT)
def test_permissive_refuses_the_batch_for_an_email_off_the_document(malformed: Any) -> None:
    document = committed_document()
    assert schema_errors(document, BATCH_SCHEMA, malformed), "the case must be off the document"
    with pytest.raises(ValidationFailed) as raised:
        resend.batch_items([EMAIL, UNSENDABLE, malformed], "permissive", WITH_FROM)
    assert raised.value.message.startswith("emails[2]: ")
    assert answer_of(raised.value)[0] == 422


def test_permissive_lists_an_email_on_the_document_that_posthorn_refuses() -> None:
    assert not schema_errors(committed_document(), BATCH_SCHEMA, UNSENDABLE)
    sent, refused = resend.batch_items([EMAIL, UNSENDABLE], "permissive", WITH_FROM)
    assert sent == message_of(EMAIL)
    assert isinstance(refused, ValidationFailed)
    assert "not-an-address" in refused.message


def test_strict_keeps_every_refusal_in_order_for_the_first_to_refuse_the_batch() -> None:
    malformed = OFF_THE_DOCUMENT[0]
    items = resend.batch_items([UNSENDABLE, malformed], "strict", WITH_FROM)
    messages = [item.message for item in items if isinstance(item, ValidationFailed)]
    assert len(messages) == 2
    assert messages[0].startswith("to[0]: ")
    assert messages[1].startswith("reply_to: ")
