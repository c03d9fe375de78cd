"""Postmark's request mapped onto Posthorn's send request, each refusal naming the Postmark field, and every
PosthornError answered with Postmark's status and ErrorCode (send_api.compat.postmark)."""

from __future__ import annotations

import base64
import inspect
import json
from typing import Any

import pytest

from posthorn import errors
from posthorn.errors import AllRecipientsSuppressed, PosthornError, RateLimited, ValidationFailed
from posthorn.logic.sending.sender_defaults import NO_SENDER
from posthorn.models.email import SendEmailRequest
from send_api.compat import SURFACES, surface_of
from send_api.compat.postmark import (
    ANSWERS,
    ERROR_CODES,
    TooManyBatchMessages,
    addresses,
    answer_of,
    inactive,
    message_of,
    renamed,
    render,
)
from tests.support.openapi_conformance import committed_document, schema_errors

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def postmark(**fields: Any) -> dict[str, Any]:
    return {
        "From": "hello@example.com",
        "To": "jane@example.net",
        "Subject": "Hi",
        "TextBody": "Hello",
        **fields,
    }


def refusal(body: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as raised:
        message_of(body)
    assert answer_of(raised.value) == (422, 300)
    return raised.value


def refused_field(body: Any) -> str:
    return refusal(body).details[0]["field"]


# --- what maps ------------------------------------------------------------------------------------------
def test_every_field_postmark_documents_maps_onto_the_send_request() -> None:
    request = message_of(
        {
            "From": "Zoë's Café <hello@example.com>",
            "To": '"Müller, Jürgen" <juergen@example.net>, team@example.net',
            "Cc": "Ærø Team <cc@example.net>",
            "Bcc": "hidden@example.org",
            "ReplyTo": "Support <support@example.com>",
            "Subject": "Your receipt",
            "HtmlBody": '<p>Hi <img src="cid:logo.png"></p>',
            "TextBody": "Hi",
            "Headers": [{"Name": "X-Order", "Value": "1234"}],
            "Attachments": [
                {"Name": "logo.png", "Content": PNG, "ContentType": "image/png", "ContentID": "cid:logo.png"},
                {"Name": "a.txt", "Content": "aGk=", "ContentType": "text/plain", "ContentID": None},
            ],
            "Tag": "receipt",
            "Metadata": {"order_id": "1234"},
            "TrackOpens": True,
            "TrackLinks": "HtmlAndText",
            "MessageStream": "outbound",
        }
    )
    assert isinstance(request, SendEmailRequest)
    assert (request.from_email, request.from_name) == ("hello@example.com", "Zoë's Café")
    assert [(r.email, r.name) for r in request.to] == [
        ("juergen@example.net", "Müller, Jürgen"),
        ("team@example.net", None),
    ]
    assert [(r.email, r.name) for r in request.cc] == [("cc@example.net", "Ærø Team")]
    assert [r.email for r in request.bcc] == ["hidden@example.org"]
    assert (request.reply_to_email, request.reply_to_name) == ("support@example.com", "Support")
    assert (request.subject, request.body_text) == ("Your receipt", "Hi")
    assert request.headers == {"X-Order": "1234"}
    logo, text = request.attachments
    assert (logo.name, logo.content_type, logo.content_id) == ("logo.png", "image/png", "logo.png")
    assert (text.name, text.content_id) == ("a.txt", None)
    assert request.tags == ["receipt"]
    assert request.metadata == {"order_id": "1234"}
    assert (request.track_opens, request.track_clicks) == (True, True)


@pytest.mark.parametrize(
    ("links", "tracked"), [(None, False), ("None", False), ("HtmlOnly", True), ("HtmlAndText", True)]
)
def test_track_links_turns_click_tracking_on_or_off(links: str | None, tracked: bool) -> None:
    assert message_of(postmark(TrackLinks=links)).track_clicks is tracked


def test_absent_and_null_fields_are_postmarks_defaults() -> None:
    request = message_of(postmark(Cc=None, Bcc=None, ReplyTo=None, Tag=None, MessageStream=None))
    assert (request.cc, request.bcc, request.tags, request.reply_to_email) == ([], [], [], None)
    assert (request.track_opens, request.track_clicks) == (False, False)


def test_a_content_id_without_cid_prefix_and_a_matching_disposition_and_length_are_taken() -> None:
    request = message_of(
        postmark(
            Attachments=[
                {
                    "Name": "logo.png",
                    "Content": PNG,
                    "ContentType": "image/png",
                    "ContentID": "logo@x",
                    "Disposition": "inline",
                    "ContentLength": len(base64.b64decode(PNG)),
                }
            ]
        )
    )
    assert request.attachments[0].content_id == "logo@x"


def test_addresses_split_on_commas_outside_quoted_names_and_angle_brackets() -> None:
    assert addresses('"Doe, Jane" <jane@x.org>, bob@y.org,  , "a \\" b" <c@d.org>') == [
        '"Doe, Jane" <jane@x.org>',
        "bob@y.org",
        '"a \\" b" <c@d.org>',
    ]
    assert addresses("") == []


# --- what is refused, naming the field ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"TemplateId": 7}, "TemplateId"),
        ({"TemplateAlias": "welcome"}, "TemplateAlias"),
        ({"TemplateModel": {"name": "x"}}, "TemplateModel"),
        ({"InlineCss": True}, "InlineCss"),
        ({"Sender": "x@example.com"}, "Sender"),
        ({"MessageStream": "broadcast"}, "MessageStream"),
        ({"TrackLinks": "TextOnly"}, "TrackLinks"),
        ({"TrackLinks": "Always"}, "TrackLinks"),
        ({"TrackOpens": "true"}, "TrackOpens"),
        ({"Metadata": {"n": 1}}, "Metadata.n"),
        ({"Tag": "New Year's campaign"}, "Tag"),
        ({"ReplyTo": "a@example.com, b@example.com"}, "ReplyTo"),
        ({"From": "not an address"}, "From"),
        ({"From": "a@example.com, b@example.com"}, "From"),
        ({"To": "jane@example.net, nope"}, "To"),
        ({"To": ""}, "To"),
        ({"Cc": "@@"}, "Cc"),
        ({"Bcc": "x@"}, "Bcc"),
        ({"Subject": ""}, "Subject"),
        ({"Headers": [{"Name": "Message-ID", "Value": "<x@y>"}]}, "Headers"),
        ({"Headers": [{"Name": "X-A", "Value": "1"}, {"Name": "x-a", "Value": "2"}]}, "Headers[1]"),
        ({"Headers": [{"Name": "X-A"}]}, "Headers[0].Value"),
        ({"Attachments": [{"Name": "a.txt", "ContentType": "text/plain"}]}, "Attachments[0].Content"),
        (
            {
                "Attachments": [
                    {"Name": "a", "Content": "aGk=", "ContentType": "text/plain", "Disposition": "inline"}
                ]
            },
            "Attachments[0].Disposition",
        ),
        (
            {
                "Attachments": [
                    {"Name": "a", "Content": "aGk=", "ContentType": "text/plain", "ContentLength": 9}
                ]
            },
            "Attachments[0].ContentLength",
        ),
        (
            {
                "Attachments": [
                    {"Name": "a", "Content": "aGk=", "ContentType": "text/plain", "ContentID": "<x>"}
                ]
            },
            "Attachments[0].ContentID",
        ),
    ],
)
def test_what_posthorn_cannot_honour_is_refused_with_300_naming_the_field(
    extra: dict[str, Any], field: str
) -> None:
    error = refusal(postmark(**extra))
    assert error.details[0]["field"] == field
    assert f"'{field}'" in error.message


@pytest.mark.parametrize("missing", ["To", "Subject"])
def test_a_required_field_missing_is_named(missing: str) -> None:
    body = postmark()
    del body[missing]
    assert refused_field(body) == missing


def test_a_missing_from_is_left_to_the_credentials_sender_defaults() -> None:
    """API.md, Administration: a compatible request may omit From and get the credential's default; without
    one, the send refuses Posthorn's `from_email`, which this surface says of Postmark's `From`."""
    body = postmark()
    del body["From"]
    assert message_of(body).from_email is None
    refused = renamed(ValidationFailed.on("from_email", NO_SENDER))
    assert refused.details[0]["field"] == "From"
    assert refused.message.startswith("Invalid 'From': is required")


def test_a_message_without_a_body_is_refused_as_postmark_words_it() -> None:
    body = postmark()
    del body["TextBody"]
    assert "TextBody or HtmlBody" in refusal(body).message


def test_more_than_fifty_recipients_is_refused_naming_the_field() -> None:
    many = ", ".join(f"r{n}@example.net" for n in range(51))
    assert refused_field(postmark(To=many)) in ("To", "Bcc", "Cc")


def test_json_that_is_not_a_message_is_postmarks_incompatible_json() -> None:
    from send_api.compat.postmark import IncompatibleJson

    with pytest.raises(IncompatibleJson) as raised:
        message_of(["not", "a", "message"])
    assert answer_of(raised.value) == (422, 403)


# --- every error as Postmark answers it -----------------------------------------------------------------
def domain_errors() -> list[type[PosthornError]]:
    return [
        kind
        for _, kind in inspect.getmembers(errors, inspect.isclass)
        if issubclass(kind, PosthornError) and kind is not PosthornError
    ]


def test_every_posthorn_error_has_a_postmark_answer() -> None:
    from send_api.errors import HTTP_STATUS

    assert set(HTTP_STATUS) <= set(ANSWERS)
    for kind in domain_errors():
        status, code = answer_of(kind.__new__(kind))
        assert status in {401, 409, 413, 422, 429, 503}, kind  # 409: Posthorn's Idempotency-Key
        assert code > 0, kind


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.Unauthorized("unknown credential or wrong secret"), 401, 10),
        (errors.Forbidden("this credential lacks the 'send' permission"), 401, 10),
        (errors.CredentialSuspended("this credential is suspended"), 422, 405),
        (errors.InvalidJson("the request body is not valid JSON"), 422, 402),
        (errors.SenderNotAllowed("this credential may not send from example.org"), 422, 400),
        (errors.DomainNotVerified("example.com is not verified yet"), 422, 401),
        (errors.DomainPaused("paused"), 422, 405),
        (errors.AllRecipientsSuppressed("every recipient is suppressed"), 422, 406),
        (errors.PayloadTooLarge("too large"), 413, 300),
        (errors.UpstreamRejected("SES rejected the message"), 422, 300),
        (errors.UpstreamUnavailable("SES is unavailable"), 503, 100),
        (TooManyBatchMessages("a batch holds at most 500 messages"), 422, 410),
    ],
)
def test_errors_render_in_postmarks_shape_and_status(error: PosthornError, status: int, code: int) -> None:
    response = render(error)
    assert response.status_code == status
    assert json.loads(str(response.body)) == {"ErrorCode": code, "Message": error.message}


def test_rate_limited_is_429_with_postmarks_code() -> None:
    error = RateLimited("rate limit of 14 messages per second exceeded", retry_after_seconds=2)
    response = render(error)
    assert (response.status_code, json.loads(str(response.body))["ErrorCode"]) == (429, 429)
    assert error.headers["Retry-After"] == "2"  # the surface adds the error's headers to the answer


def test_a_batch_items_error_code_maps_like_its_class() -> None:
    assert ERROR_CODES["validation_error"] == 300
    assert ERROR_CODES["all_recipients_suppressed"] == 406
    assert ERROR_CODES["sender_not_allowed"] == 400
    assert ERROR_CODES["domain_not_verified"] == 401


def test_inactive_recipients_are_listed_as_postmarks_sdks_parse_them() -> None:
    import re

    request = message_of(postmark(To="a@example.net, B <b@example.net>", Cc="c@example.net"))
    message = inactive(AllRecipientsSuppressed("every recipient is suppressed"), request).message
    # postmark.js InactiveRecipientsError's pattern.
    found = re.search(r"Found inactive addresses: (.+?)\.? Inactive", message)
    assert found
    assert [part.strip() for part in found.group(1).split(",")] == [
        "a@example.net",
        "b@example.net",
        "c@example.net",
    ]


# --- the routes and their document ----------------------------------------------------------------------
def test_the_surface_is_registered_by_its_prefix() -> None:
    assert SURFACES["/postmark/"] == "postmark"
    assert surface_of("/postmark/email/batch") == "postmark"
    assert surface_of("/v1/email") is None


def test_the_document_declares_both_routes_with_postmarks_key_tag_and_answers() -> None:
    document = committed_document()
    scheme = document["components"]["securitySchemes"]["postmark"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Postmark-Server-Token")
    for path, operation_id in (
        ("/postmark/email", "postmark_send_email"),
        ("/postmark/email/batch", "postmark_send_email_batch"),
    ):
        operation = document["paths"][path]["post"]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["compatible: Postmark"]
        assert operation["security"] == [{"postmark": []}]
        responses = operation["responses"]
        assert {"200", "401", "413", "422", "429", "500", "503"} <= set(responses)
        assert responses["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PostmarkError"
        }
        assert "Retry-After" in responses["429"]["headers"]


def test_the_documents_postmark_message_refuses_what_the_surface_refuses() -> None:
    document = committed_document()
    schema = {"$ref": "#/components/schemas/PostmarkMessage"}
    assert schema_errors(document, schema, postmark()) == []
    assert schema_errors(document, schema, postmark(TemplateId=7))
    assert schema_errors(document, schema, postmark(TrackLinks="TextOnly"))
    assert schema_errors(document, schema, postmark(MessageStream="broadcast"))
    assert schema_errors(document, schema, postmark(TrackOpens="true"))


@pytest.mark.parametrize(
    ("path", "field", "reason"),
    [
        ("attachments[0].content", "Attachments[0].Content", "is not valid base64"),
        ("attachments[2].file_key", "Attachments[2]", "is not valid base64"),
        ("to[2]", "To", "address 3: is not valid base64"),
        ("bcc[0].email", "Bcc", "address 1: is not valid base64"),
        ("subject", "Subject", "is not valid base64"),
        ("", "body", "is not valid base64"),
    ],
)
def test_a_refusal_of_posthorns_field_is_said_of_the_postmark_field(
    path: str, field: str, reason: str
) -> None:
    from send_api.compat.postmark import renamed, said_of_postmark

    error = said_of_postmark(path, "is not valid base64")
    assert error.details == [{"field": field, "message": reason}]
    assert error.message == f"Invalid '{field}': {reason}"
    sent = ValidationFailed.on("attachments[0].content", "is not valid base64")
    assert renamed(sent).message == "Invalid 'Attachments[0].Content': is not valid base64"
    assert renamed(ValidationFailed("no field")).message == "no field"
