"""`SendEmailRequest`: every rule docs/api.md states for `POST /v1/email`, checked on the model itself."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from posthorn.models.addresses import has_line_break, normalize_address, normalize_domain
from posthorn.models.email import MAX_RECIPIENTS, SendEmailRequest
from tests.support.bodies import email_body as request


def errors_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        SendEmailRequest.model_validate(body)
    return caught.value.errors()


def locations(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in errors_of(body)]


def test_minimal_request_is_valid() -> None:
    parsed = SendEmailRequest.model_validate(request())
    assert parsed.to[0].email == "user@example.net"
    assert parsed.to[0].name is None
    assert (parsed.cc, parsed.bcc, parsed.tags, parsed.metadata) == ([], [], [], {})


def test_plain_string_recipient_with_display_name_is_split() -> None:
    parsed = SendEmailRequest.model_validate(request(to=["Jane Doe <jane@example.net>"]))
    assert (parsed.to[0].name, parsed.to[0].email) == ("Jane Doe", "jane@example.net")


@pytest.mark.parametrize(
    ("value", "name", "email"),
    [
        ("<only@example.net>", None, "only@example.net"),
        ('"Doe, Jane" <jane@example.net>', "Doe, Jane", "jane@example.net"),
        ('"A \\"B\\" C" <j@example.net>', 'A "B" C', "j@example.net"),
        ("a@example.net <b@example.net>", "a@example.net", "b@example.net"),
        ("  Jane   < jane@example.net > ", "Jane", "jane@example.net"),
    ],
)
def test_plain_string_recipient_forms(value: str, name: str | None, email: str) -> None:
    [recipient] = SendEmailRequest.model_validate(request(to=[value])).to
    assert (recipient.name, recipient.email) == (name, email)


@pytest.mark.parametrize(
    "value",
    [
        "Jane <jane@example.net>, Bob <bob@example.net>",
        "bob@example.net, Jane <jane@example.net>",
        "Doe; Jane <jane@example.net>",
        "Jane <jane@example.net> trailing",
        "Jane <jane@example.net",
        "Jane <>",
        "a@example.net, b@example.net",
    ],
)
def test_plain_string_that_is_not_exactly_one_mailbox_is_refused(value: str) -> None:
    assert locations(request(to=["ok@example.net", value])) == [("to", 1, "email")]


def test_recipient_domain_is_lower_cased_and_local_part_kept() -> None:
    parsed = SendEmailRequest.model_validate(request(to=[{"email": "John.Smith@Example.NET"}]))
    assert parsed.to[0].email == "John.Smith@example.net"


def test_internationalized_domain_becomes_punycode() -> None:
    assert normalize_address("user@bücher.example") == "user@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "address",
    [
        "nope",
        "@example.net",
        "user@",
        "user@localhost",
        "user@example..net",
        "user@-example.net",
        "user@example.123",
        "us er@example.net",
        "a..b@example.net",
        "user@exa_mple.net",
        "user@[127.0.0.1]",
        "a" * 65 + "@example.net",
        "user@" + "a" * 64 + ".net",
        "üser@example.net",
        "user@example.net\r\nBcc: x@evil.test",
    ],
)
def test_bad_address_is_refused_at_its_index(address: str) -> None:
    body = request(to=["a@example.net", "b@example.net", "c@example.net", {"email": address}])
    assert ("to", 3, "email") in locations(body)


def test_bad_plain_string_recipient_is_refused() -> None:
    assert locations(request(cc=["ok@example.net", "not an address"])) == [("cc", 1, "email")]


def test_more_than_50_recipients_across_to_cc_bcc_is_refused() -> None:
    body = request(
        to=[f"to{i}@example.net" for i in range(20)],
        cc=[f"cc{i}@example.net" for i in range(20)],
        bcc=[f"bcc{i}@example.net" for i in range(MAX_RECIPIENTS - 40 + 1)],
    )
    [error] = errors_of(body)
    assert "at most 50" in error["msg"]


def test_exactly_50_recipients_is_allowed() -> None:
    body = request(to=[f"u{i}@example.net" for i in range(25)], bcc=[f"b{i}@example.net" for i in range(25)])
    assert len(SendEmailRequest.model_validate(body).bcc) == 25


def test_missing_to_is_refused() -> None:
    assert ("to",) in locations(request(to=...))


def test_empty_to_is_refused() -> None:
    assert ("to",) in locations(request(to=[]))


def test_neither_body_is_refused() -> None:
    [error] = errors_of(request(body_text=None))
    assert "body_text" in error["msg"]


def test_html_only_is_enough() -> None:
    assert SendEmailRequest.model_validate(request(body_text=None, body_html="<p>x</p>")).body_html


@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_line_break_in_subject_is_refused(breaker: str) -> None:
    assert locations(request(subject=f"Hi{breaker}Bcc: x@evil.test")) == [("subject",)]


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("from_name", "Evil\r\nBcc: x@evil.test", ("from_name",)),
        ("reply_to_name", "Evil\nX", ("reply_to_name",)),
        ("to", [{"email": "a@example.net", "name": "A\u2028B"}], ("to", 0, "name")),
        ("cc", [{"email": "a@example.net", "name": "A\rB"}], ("cc", 0, "name")),
    ],
)
def test_line_break_in_display_name_is_refused(field: str, value: Any, location: tuple[Any, ...]) -> None:
    body = request(**{field: value})
    if field == "reply_to_name":
        body["reply_to_email"] = "support@example.com"
    assert location in locations(body)


@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\u2028", "\x0c"])
def test_line_break_in_header_value_is_refused(breaker: str) -> None:
    [error] = errors_of(request(headers={"X-Entity-Ref-ID": f"abc{breaker}Bcc: x@evil.test"}))
    assert error["loc"] == ("headers", "X-Entity-Ref-ID")
    assert "line breaks" in error["msg"]


@pytest.mark.parametrize(
    "name",
    [
        "From",
        "to",
        "CC",
        "Bcc",
        "Subject",
        "Content-Type",
        "content-transfer-encoding",
        "MIME-Version",
        "X-SES-CONFIGURATION-SET",
        "x-ses-message-tags",
        "X-SES-Anything",
        "Reply-To",
        "Message-ID",
        "Date",
        "List-Unsubscribe",
    ],
)
def test_reserved_header_is_refused(name: str) -> None:
    [error] = errors_of(request(headers={name: "x"}))
    assert "reserved" in error["msg"]


@pytest.mark.parametrize(
    "name",
    [
        "X-Posthorn-Idempotency-Key",
        "x-posthorn-metadata-order",
        "X-TM-FILE-KEY",
        "X-PM-Tag",
        "X-MailPace-Tags",
        "X-OMS-Tags",
        "X-OhMySMTP-Tags",
        "X-List-Unsubscribe",
    ],
)
def test_an_smtp_control_header_is_refused_over_http(name: str) -> None:
    """The relay reads and removes these; over HTTP they would reach the recipient as they stand (a file
    key or an idempotency key mailed out), so every HTTP entry point refuses them, naming the header."""
    [error] = errors_of(request(headers={name: "x"}))
    assert tuple(error["loc"]) == ("headers",)
    assert name in error["msg"]
    assert "control header" in error["msg"]


def test_a_header_merely_like_a_control_header_is_kept() -> None:
    headers = {"X-Posthorn": "1", "X-Tmp": "2", "X-Pmx-Ref": "3"}
    assert SendEmailRequest.model_validate(request(headers=headers)).headers == headers


@pytest.mark.parametrize("name", ["X Space", "X:Colon", "", "Ünicode", "X-" + "a" * 80])
def test_bad_header_name_is_refused(name: str) -> None:
    assert locations(request(headers={name: "x"})) == [("headers",)]


def test_header_given_twice_in_different_case_is_refused() -> None:
    [error] = errors_of(request(headers={"X-Ref": "1", "x-ref": "2"}))
    assert "twice" in error["msg"]


def test_custom_header_is_kept() -> None:
    parsed = SendEmailRequest.model_validate(request(headers={"X-Entity-Ref-ID": "abc-123"}))
    assert parsed.headers == {"X-Entity-Ref-ID": "abc-123"}


def test_non_string_header_value_is_refused() -> None:
    assert locations(request(headers={"X-Count": 3})) == [("headers", "X-Count")]


def test_eleven_tags_are_refused() -> None:
    assert locations(request(tags=[f"t{i}" for i in range(11)])) == [("tags",)]


@pytest.mark.parametrize("tag", ["", "has space", "dot.ted", "ümlaut", "a" * 65, "posthorn_message_id"])
def test_bad_tag_is_refused(tag: str) -> None:
    assert locations(request(tags=["ok", tag])) == [("tags",)]


def test_tag_of_64_allowed_characters_is_accepted() -> None:
    tag = ("Ab0_-" * 13)[:64]
    assert SendEmailRequest.model_validate(request(tags=[tag])).tags == [tag]


def test_duplicate_tags_are_refused() -> None:
    assert locations(request(tags=["a", "a"])) == [("tags",)]


def test_more_than_20_metadata_pairs_are_refused() -> None:
    assert locations(request(metadata={f"k{i}": "v" for i in range(21)})) == [("metadata",)]


def test_non_string_metadata_value_is_refused() -> None:
    assert locations(request(metadata={"order_id": 12345})) == [("metadata", "order_id")]


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/unsub",
        "<ftp://example.com/unsub>",
        "<https://example.com/a b>",
        "<mailto:unsub@example.com>,",
        "<mailto:unsub@example.com> <https://example.com/u>",
        "<mailto:unsub@example.com>, junk",
        "",
        "<https://example.com/unsub>\r\nBcc: x@evil.test",
    ],
)
def test_bad_list_unsubscribe_is_refused(value: str) -> None:
    assert locations(request(list_unsubscribe=value)) == [("list_unsubscribe",)]


def test_list_unsubscribe_with_https_allows_one_click() -> None:
    parsed = SendEmailRequest.model_validate(
        request(list_unsubscribe="<mailto:unsub@example.com>,<https://example.com/unsub?u=1>")
    )
    assert parsed.list_unsubscribe == "<mailto:unsub@example.com>, <https://example.com/unsub?u=1>"
    assert parsed.has_one_click_unsubscribe


def test_list_unsubscribe_uri_may_contain_commas() -> None:
    value = "<https://example.com/unsub?ids=1,2,3>,<mailto:unsub@example.com?subject=a,b>"
    parsed = SendEmailRequest.model_validate(request(list_unsubscribe=value))
    assert (
        parsed.list_unsubscribe
        == "<https://example.com/unsub?ids=1,2,3>, <mailto:unsub@example.com?subject=a,b>"
    )


@pytest.mark.parametrize("value", ["<mailto:unsub@example.com>", "<http://example.com/unsub>"])
def test_list_unsubscribe_without_https_is_not_one_click(value: str) -> None:
    assert not SendEmailRequest.model_validate(request(list_unsubscribe=value)).has_one_click_unsubscribe


def test_unknown_field_is_refused() -> None:
    assert locations(request(sender="x@example.com")) == [("sender",)]


def test_unknown_field_in_recipient_is_refused() -> None:
    assert ("to", 0, "phone") in locations(request(to=[{"email": "a@example.net", "phone": "1"}]))


def test_reply_to_name_without_reply_to_email_is_refused() -> None:
    [error] = errors_of(request(reply_to_name="Support"))
    assert "reply_to_email" in error["msg"]


def test_attachment_needs_content_or_file_key() -> None:
    assert locations(request(attachments=[{"name": "a.pdf"}])) == [("attachments", 0)]


def test_attachment_with_both_content_and_file_key_is_refused() -> None:
    body = request(attachments=[{"name": "a.pdf", "content": "eA==", "file_key": "k"}])
    assert locations(body) == [("attachments", 0)]


@pytest.mark.parametrize("name", ["setup.exe", "RUN.BAT", "script.js", "evil.exe.", "x.vbs "])
def test_attachment_of_a_type_ses_blocks_is_refused(name: str) -> None:
    body = request(attachments=[{"name": name, "content": "eA==", "content_type": "application/pdf"}])
    assert locations(body) == [("attachments", 0, "name")]


@pytest.mark.parametrize("name", ["invoice.pdf", "exe", "notes.exe.txt", "archive.tar.gz"])
def test_attachment_of_an_allowed_type_is_accepted(name: str) -> None:
    body = request(attachments=[{"name": name, "content": "eA==", "content_type": "application/pdf"}])
    assert SendEmailRequest.model_validate(body).attachments[0].name == name


@pytest.mark.parametrize(
    "content_type",
    ["pdf", "application/", "application/pdf; name=x.exe", "multipart/mixed", "message/rfc822", "a/b c"],
)
def test_attachment_with_malformed_content_type_is_refused(content_type: str) -> None:
    body = request(attachments=[{"name": "a.bin", "content": "eA==", "content_type": content_type}])
    assert locations(body) == [("attachments", 0, "content_type")]


@pytest.mark.parametrize("content_id", ["a>b", "<logo>", "lo go"])
def test_attachment_with_malformed_content_id_is_refused(content_id: str) -> None:
    body = request(
        attachments=[
            {"name": "a.png", "content": "eA==", "content_type": "image/png", "content_id": content_id}
        ]
    )
    assert locations(body) == [("attachments", 0, "content_id")]


def test_subject_over_998_characters_is_refused() -> None:
    assert locations(request(subject="x" * 999)) == [("subject",)]


def test_has_line_break_ignores_tabs_and_ordinary_text() -> None:
    assert not has_line_break("tab\tseparated, ünïcode ✉")
    assert has_line_break("a\u2028b")


@pytest.mark.parametrize("domain", ["", ".", "a", "example.123", "-a.com", "a" * 64 + ".com"])
def test_bad_domain_is_refused(domain: str) -> None:
    with pytest.raises(ValueError, match=r"domain|valid"):
        normalize_domain(domain)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body_text", "\udfff"),
        ("body_html", "<p>\ud800</p>"),
        ("template_data", {"name": "\ud800"}),
        ("headers", {"X-Ref": "\udc00"}),
        ("list_unsubscribe", "<https://example.com/\ud800>"),
    ],
)
def test_lone_surrogate_escape_is_refused(field: str, value: Any) -> None:
    # JSON "\ud800" decodes to a lone surrogate: it cannot be encoded into any email.
    assert locations(request(**{field: value}))[0][0] == field


def test_template_data_keeps_numbers_and_booleans() -> None:
    data = {"n": 3, "f": 1.5, "b": True, "s": "text"}
    assert SendEmailRequest.model_validate(request(template_data=data)).template_data == data


def test_a_header_value_over_8192_characters_or_over_50_headers_is_refused_naming_it() -> None:
    """The MIME builder's folding costs seconds for a value of a few hundred KB: bounded here."""
    from pydantic import ValidationError

    from posthorn.models.email import SendEmailRequest

    base = {"from_email": "a@example.com", "to": ["b@example.net"], "subject": "s", "body_text": "t"}
    with pytest.raises(ValidationError) as long_value:
        SendEmailRequest.model_validate({**base, "headers": {"X-Big": "v" * 8193}})
    assert long_value.value.errors()[0]["loc"] == ("headers", "X-Big")
    with pytest.raises(ValidationError):
        SendEmailRequest.model_validate({**base, "headers": {f"X-H{i}": "v" for i in range(51)}})
    assert SendEmailRequest.model_validate({**base, "headers": {"X-Ok": "v" * 8192}}).headers["X-Ok"]
