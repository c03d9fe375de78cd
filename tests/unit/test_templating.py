"""`{placeholder}` substitution in subject and bodies."""

from __future__ import annotations

import pytest

from posthorn.errors import MissingTemplateData, ValidationFailed
from posthorn.logic.sending.templating import placeholders, render_fields
from send_api.errors import http_status

HTML = {"body_html"}


def fields(subject: str = "Hi", text: str | None = None, html: str | None = None) -> dict[str, str | None]:
    return {"subject": subject, "body_text": text, "body_html": html}


def test_placeholders_fill_subject_and_bodies() -> None:
    rendered = render_fields(
        fields("Welcome, {first_name}!", "Hello {first_name}", "<p>Hello {first_name}</p>"),
        {"first_name": "John"},
        html_fields=HTML,
    )
    assert rendered == {
        "subject": "Welcome, John!",
        "body_text": "Hello John",
        "body_html": "<p>Hello John</p>",
    }


def test_values_are_html_escaped_in_html_body_only() -> None:
    value = "<b>Tom & \"Jerry\"</b> 'x'"
    rendered = render_fields(
        fields("Re: {v}", "{v}", "<p title='{v}'>{v}</p>"), {"v": value}, html_fields=HTML
    )
    assert rendered["subject"] == f"Re: {value}"
    assert rendered["body_text"] == value
    assert rendered["body_html"] == (
        "<p title='&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; &#x27;x&#x27;'>"
        "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; &#x27;x&#x27;</p>"
    )


def test_missing_value_names_the_placeholder_and_where_it_is_used() -> None:
    with pytest.raises(MissingTemplateData) as caught:
        render_fields(fields("Hi {first_name}", "Order {order_id}"), {"first_name": "J"}, html_fields=HTML)
    assert caught.value.code == "missing_template_data"
    assert http_status(caught.value) == 422
    assert "order_id" in caught.value.message
    assert caught.value.details == [
        {"field": "template_data.order_id", "message": "no value for {order_id} used in body_text"}
    ]


def test_every_missing_placeholder_is_listed_once_in_the_message() -> None:
    with pytest.raises(MissingTemplateData) as caught:
        render_fields(fields("{a} {b}", "{a}", "{b}"), {}, html_fields=HTML)
    assert caught.value.message == "template_data has no value for: a, b"
    assert len(caught.value.details) == 4


def test_numbers_and_booleans_are_written_as_text() -> None:
    rendered = render_fields(
        fields("{n} {f} {yes} {no}"), {"n": 3, "f": 1.5, "yes": True, "no": False}, html_fields=HTML
    )
    assert rendered["subject"] == "3 1.5 true false"


def test_a_value_holding_braces_is_not_rendered_again() -> None:
    rendered = render_fields(fields("{a}"), {"a": "{b}", "b": "boom"}, html_fields=HTML)
    assert rendered["subject"] == "{b}"


def test_text_that_is_not_a_placeholder_is_left_alone() -> None:
    html = "<style>p {color: red} {1x}</style>{ spaced }"
    assert render_fields(fields(html=html), {}, html_fields=HTML)["body_html"] == html
    assert placeholders(html) == []


def test_unused_template_data_is_fine() -> None:
    assert render_fields(fields("Hi"), {"unused": "x"}, html_fields=HTML)["subject"] == "Hi"


@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\u2028"])
def test_line_break_in_a_value_used_in_the_subject_is_refused(breaker: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_fields(fields("Hi {name}"), {"name": f"x{breaker}Bcc: evil@x.test"}, html_fields=HTML)
    assert caught.value.details[0]["field"] == "template_data.name"


def test_line_break_in_a_value_used_only_in_bodies_is_fine() -> None:
    rendered = render_fields(fields("Hi", "{lines}", "{lines}"), {"lines": "a\nb"}, html_fields=HTML)
    assert rendered["body_text"] == "a\nb"
