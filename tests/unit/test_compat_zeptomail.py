"""ZeptoMail's request onto Posthorn's message (`send_api.compat.zeptomail`), field by field, what is
refused naming the field, and every Posthorn error in ZeptoMail's error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from posthorn import errors
from posthorn.errors import PosthornError, ValidationFailed
from posthorn_local.apigw import LambdaContext, build_event
from send_api.compat import zeptomail
from send_api.compat.surface import MissingApiKey
from send_api.errors import HTTP_STATUS

BASE: dict[str, Any] = {
    "from": {"address": "hello@example.com", "name": "Example"},
    "to": [{"email_address": {"address": "ada@example.net", "name": "Ada"}}],
    "subject": "Hi",
    "textbody": "Hello",
}


# Two attachments and two inline images, each kind inline and by file_cache_key.
FILES: dict[str, Any] = {
    "attachments": [
        {"content": "JVBERi0=", "mime_type": "application/pdf", "name": "a.pdf"},
        {"file_cache_key": "fk_1", "name": "b.txt"},
    ],
    "inline_images": [
        {"cid": "logo", "content": "iVBORw==", "mime_type": "image/png"},
        {"cid": "footer", "file_cache_key": "fk_2"},
    ],
}


def refusal(call: Any, body: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    with pytest.raises(ValidationFailed) as raised:
        call(body)
    return raised.value.message, raised.value.details


def test_a_send_maps_every_field() -> None:
    message = zeptomail.single(
        {
            **BASE,
            "cc": [{"email_address": {"address": "cc@example.net"}}],
            "bcc": [{"email_address": {"address": "bcc@example.net", "name": "B"}}],
            "reply_to": [{"address": "support@example.com", "name": "Support"}],
            "htmlbody": "<p>Hello</p>",
            "track_clicks": True,
            "track_opens": True,
            "client_reference": "order-1",
            "mime_headers": {"X-Order": "42"},
            **FILES,
        }
    )
    assert (message.from_email, message.from_name) == ("hello@example.com", "Example")
    assert [(r.email, r.name) for r in message.to] == [("ada@example.net", "Ada")]
    assert [(r.email, r.name) for r in message.cc] == [("cc@example.net", None)]
    assert [(r.email, r.name) for r in message.bcc] == [("bcc@example.net", "B")]
    assert (message.reply_to_email, message.reply_to_name) == ("support@example.com", "Support")
    assert (message.subject, message.body_text, message.body_html) == ("Hi", "Hello", "<p>Hello</p>")
    assert (message.track_clicks, message.track_opens, message.client_reference) == (True, True, "order-1")
    assert message.headers == {"X-Order": "42"}
    files = [item.model_dump(exclude_none=True) for item in message.attachments]
    assert files == [
        {"name": "a.pdf", "content": "JVBERi0=", "content_type": "application/pdf"},
        {"name": "b.txt", "file_key": "fk_1"},
        {"name": "logo.png", "content": "iVBORw==", "content_type": "image/png", "content_id": "logo"},
        {"file_key": "fk_2", "content_id": "footer"},
    ]


@pytest.mark.parametrize(
    ("posthorn", "zeptomail_field"),
    [
        ("attachments[1].file_key", "attachments[1].file_cache_key"),
        ("attachments[0].content_type", "attachments[0].mime_type"),
        ("attachments[3].file_key", "inline_images[1].file_cache_key"),
        ("attachments[2].content_id", "inline_images[0].cid"),
        ("attachments[2].content", "inline_images[0].content"),
        ("subject", "subject"),
    ],
)
def test_a_refusal_met_while_sending_names_zeptomails_attachment_field(
    posthorn: str, zeptomail_field: str
) -> None:
    message = zeptomail.single(
        {
            **BASE,
            **FILES,
        }
    )
    error = zeptomail.in_zeptomail_terms(ValidationFailed.on(posthorn, "unknown file_key"), message)
    assert isinstance(error, ValidationFailed)
    assert error.details == [{"field": zeptomail_field, "message": "unknown file_key"}]
    assert error.message == f"{zeptomail_field}: unknown file_key"
    assert f'"target": "{zeptomail_field}"' in str(zeptomail.render(error).body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("template_key", "2d6f.1"),
        ("template_alias", "welcome"),
        ("mail_template_key", "k"),
        ("bounce_address", "bounce@bounce.example.com"),
    ],
)
def test_what_posthorn_cannot_honour_is_refused_naming_it(field: str, value: str) -> None:
    _, details = refusal(zeptomail.single, {**BASE, field: value})
    assert [detail["field"] for detail in details] == [field]
    assert details[0]["message"].startswith("not supported: ")


def test_an_unknown_field_is_refused_not_dropped() -> None:
    _, details = refusal(zeptomail.single, {**BASE, "send_at": "tomorrow"})
    assert details == [
        {"field": "send_at", "message": "is not a field Posthorn knows; it is refused rather than dropped"}
    ]
    _, details = refusal(zeptomail.single, {**BASE, "to": [{"email_address": {"address": "a@b.c", "x": 1}}]})
    assert [detail["field"] for detail in details] == ["to[0].email_address.x"]


def test_more_than_one_reply_to_is_refused() -> None:
    two = [{"address": "a@example.com"}, {"address": "b@example.com"}]
    _, details = refusal(zeptomail.single, {**BASE, "reply_to": two})
    assert [detail["field"] for detail in details] == ["reply_to"]


def test_an_invalid_value_names_zeptomails_field() -> None:
    bad_to = {**BASE, "to": [{"email_address": {"address": "not-an-address"}}]}
    assert [d["field"] for d in refusal(zeptomail.single, bad_to)[1]] == ["to[0].email_address.address"]
    bad_from = {**BASE, "from": {"address": "nobody"}}
    assert [d["field"] for d in refusal(zeptomail.single, bad_from)[1]] == ["from.address"]
    no_body = {key: value for key, value in BASE.items() if key != "textbody"}
    assert refusal(zeptomail.single, no_body)[1][0] == {  # ZeptoMail's names, not body_text/body_html
        "field": "htmlbody",
        "message": "Field required: give htmlbody or textbody (or both)",
    }
    assert [d["field"] for d in refusal(zeptomail.single, {**BASE, "track_opens": "yes"})[1]] == [
        "track_opens"
    ]


def test_an_attachment_needs_content_with_its_type_and_name_or_a_file_cache_key() -> None:
    for attachment in (
        {"content": "AAAA", "name": "a.pdf"},
        {"name": "a.pdf"},
        {"content": "AA", "file_cache_key": "k"},
    ):
        _, details = refusal(zeptomail.single, {**BASE, "attachments": [attachment]})
        assert details[0]["field"] == "attachments[0]"


def test_a_batch_is_one_message_per_recipient_with_its_merge_info_else_the_top_level_one() -> None:
    messages = zeptomail.batch(
        {
            **BASE,
            "to": [
                {"email_address": {"address": "ada@example.net"}, "merge_info": {"name": "Ada", "n": 2}},
                {"email_address": {"address": "bob@example.net"}},
            ],
            "merge_info": {"name": "there", "n": True},
            "subject": "Hi {{name}}",
            "textbody": "{{ name }} has {{n}}",
            "htmlbody": "<p>{{name}}</p>",
            "client_reference": "ref-{{name}}",
        }
    )
    assert [[r.email for r in m.to] for m in messages] == [["ada@example.net"], ["bob@example.net"]]
    assert [m.subject for m in messages] == ["Hi Ada", "Hi there"]
    assert [m.body_text for m in messages] == ["Ada has 2", "there has true"]
    assert [m.client_reference for m in messages] == ["ref-Ada", "ref-there"]
    escaped = zeptomail.batch(
        {
            **BASE,
            "to": [{"email_address": {"address": "a@b.io"}, "merge_info": {"name": "<b>"}}],
            "htmlbody": "{{name}}",
        }
    )
    assert escaped[0].body_html == "&lt;b&gt;"


def test_a_batch_refuses_a_placeholder_without_a_value_cc_and_bcc() -> None:
    body = {**BASE, "to": [{"email_address": {"address": "a@b.io"}, "merge_info": {}}], "subject": "{{x}}"}
    _, details = refusal(zeptomail.batch, body)
    assert details == [{"field": "to[0].merge_info", "message": "no value for {{x}} used in subject"}]
    for field in ("cc", "bcc"):
        _, details = refusal(zeptomail.batch, {**BASE, field: [{"email_address": {"address": "c@b.io"}}]})
        assert [detail["field"] for detail in details] == [field]


def test_without_merge_info_braces_stay_text() -> None:
    [message] = zeptomail.batch({**BASE, "subject": "{{not merged}}"})
    assert message.subject == "{{not merged}}"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Zoho-enczapikey ph_a.secret", "ph_a.secret"),
        ("zoho-enczapikey   ph_a.secret ", "ph_a.secret"),
        ("Bearer ph_a.secret", "ph_a.secret"),
        ("ph_a.secret", None),
        ("Basic cGg6eA==", None),
        ("", None),
    ],
)
def test_the_key_is_read_from_zohos_authorization_scheme(header: str, key: str | None) -> None:
    assert zeptomail.api_key({"authorization": header}) == key


def test_every_posthorn_error_has_zeptomails_answer() -> None:
    assert set(HTTP_STATUS) <= set(zeptomail.ERRORS)
    for kind in HTTP_STATUS:
        error: PosthornError = (
            errors.RateLimited("slow down", retry_after_seconds=2)
            if kind is errors.RateLimited
            else kind("what went wrong")
        )
        response = zeptomail.render(error)
        status, code, sub_code, _ = zeptomail.ERRORS[kind]
        body = json.loads(response.body)
        assert response.status_code == status
        assert body["error"]["code"] == code
        assert [detail["code"] for detail in body["error"]["details"]] == [sub_code]
        zeptomail.ZeptoMailError.model_validate(body)


def test_a_field_error_names_its_target_and_a_missing_field_is_ge_102() -> None:
    body = json.loads(zeptomail.render(ValidationFailed.on("to[0].email_address.address", "bad")).body)
    assert body["error"]["details"] == [
        {"code": "SM_113", "message": "bad", "target": "to[0].email_address.address"}
    ]
    _, details = refusal(zeptomail.single, {key: value for key, value in BASE.items() if key != "subject"})
    missing = json.loads(zeptomail.render(ValidationFailed("missing", details=details)).body)
    assert (missing["error"]["code"], missing["error"]["details"][0]["code"]) == ("TM_3201", "GE_102")


def test_invalid_token_and_missing_key_are_401_access_denied() -> None:
    for error in (errors.Unauthorized("wrong secret"), MissingApiKey("no key")):
        response = zeptomail.render(error)
        assert response.status_code == 401
        assert json.loads(response.body)["error"]["details"][0]["code"] == "SERR_157"


def test_a_request_without_the_key_is_answered_by_the_surface_not_the_bearer_middleware() -> None:
    from send_api.app import app

    event = build_event(
        "POST", "/zeptomail/v1.1/email", resource="/zeptomail/v1.1/email", body=json.dumps(BASE).encode()
    )
    answer = app.resolve(event, LambdaContext())
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"]["code"] == "TM_4001"
