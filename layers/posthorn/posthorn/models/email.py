"""The `POST /v1/email` request: every rule of docs/api.md, "Sending", enforced at the edge by pydantic."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from posthorn.models.addresses import Address, header_text, split_display_address
from posthorn.models.defaults import empty_dict, empty_list
from posthorn.models.files import FileName, MediaType

MAX_RECIPIENTS = 50
MAX_TAGS = 10
MAX_METADATA = 20
RESERVED_TAG = "posthorn_message_id"

# Headers the API refuses: those the contract reserves (docs/api.md, "Sending"), and those Posthorn writes
# itself from other fields.
RESERVED_HEADERS = frozenset(
    {
        "from", "to", "cc", "bcc", "subject", "mime-version", "reply-to", "sender", "return-path",
        "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
    }
)  # fmt: skip
# The SMTP relay's control headers (API.md, "SMTP relay"): there Posthorn reads and removes them; the HTTP
# API has a field for each, so a custom header of these families is refused rather than mailed to the
# recipient as it stands (a file key or idempotency key would leak, a tag would silently not be a tag).
CONTROL_HEADER_PREFIXES = ("x-posthorn-", "x-tm-", "x-pm-", "x-mailpace-", "x-oms-", "x-ohmysmtp-")
CONTROL_HEADER_NAMES = frozenset({"x-list-unsubscribe"})
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # printable ASCII except ':' (RFC 5322 ftext)
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UNSUBSCRIBE_URI = re.compile(r"^<(mailto:[^<>\s]+|https?://[^<>\s]+)>$")
_ANGLE_URI = re.compile(r"<[^<>]*>")
_ANGLE_URI_LIST = re.compile(r"^\s*<[^<>]*>(\s*,\s*<[^<>]*>)*\s*$")

_CONTENT_ID = re.compile(r"^[!-;=?-~]+$")  # printable ASCII without '<', '>' or spaces

# Header text: every field written into a header of the MIME (`addresses.header_text_problem`'s rule).
HeaderText = Annotated[str, AfterValidator(header_text)]
DisplayName = Annotated[HeaderText, StringConstraints(max_length=256)]


def _utf8(value: str) -> str:
    """JSON's `\\ud800` escapes decode to lone surrogates, which no email can carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogate escapes)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8)]


def _tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not _TAG.match(tag):
            raise ValueError(f"tag {tag!r} must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
        if tag == RESERVED_TAG:
            raise ValueError(f"tag {tag!r} is reserved")
    if len(set(tags)) != len(tags):
        raise ValueError("tags must be unique")
    return tags


def _list_unsubscribe(value: str) -> str:
    # Split between the angle brackets, not on every comma: a URI may itself contain commas.
    uris = _ANGLE_URI.findall(value) if _ANGLE_URI_LIST.match(value) else []
    if not uris or not all(_UNSUBSCRIBE_URI.match(uri) for uri in uris):
        raise ValueError("must be one or more <mailto:...> or <https://...> URIs separated by commas")
    return ", ".join(uris)


# The fields a message carries beyond its content, the same whether they come as JSON (the API) or as
# control headers (the SMTP relay, `models/controls.py`).
Tags = Annotated[list[str], AfterValidator(_tags)]
Metadata = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=64)],
    Annotated[str, StringConstraints(max_length=1024)],
]
ClientReference = Annotated[str, StringConstraints(max_length=256)]
ListUnsubscribe = Annotated[HeaderText, StringConstraints(max_length=2048), AfterValidator(_list_unsubscribe)]
# A custom header's value, and how many: the MIME builder's folding grows faster than the value (a value of
# a few hundred KB costs seconds of CPU), so a request cannot buy seconds of a function with one field.
MAX_HEADER_VALUE = 8192
MAX_HEADERS = 50
HeaderValue = Annotated[HeaderText, StringConstraints(max_length=MAX_HEADER_VALUE)]


def has_one_click(list_unsubscribe: str | None) -> bool:
    """`List-Unsubscribe-Post: List-Unsubscribe=One-Click` goes with an https URI (RFC 8058)."""
    return list_unsubscribe is not None and "<https://" in list_unsubscribe


def _address_object(value: Any) -> Any:
    """Recipients may be plain strings (`"a@b.c"` or `"Name <a@b.c>"`); turn them into objects."""
    if isinstance(value, str):
        name, address = split_display_address(value)
        return {"email": address, "name": name or None}
    return value


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Address
    name: DisplayName | None = None


# What the document says a recipient is: what the API takes (a string is read by `_address_object`), not
# only the object it becomes, so a generated client can send `"to": ["a@example.net"]` as the README does.
RecipientField = Annotated[
    Recipient,
    BeforeValidator(
        _address_object,
        json_schema_input_type=Annotated[
            str,
            Field(description='An address, or a name and an address: "Jane <jane@example.com>"'),
        ]
        | Recipient,
    ),
]


class Attachment(BaseModel):
    """Either inline content (`name`, `content`, `content_type`) or a `file_key` from the file cache."""

    model_config = ConfigDict(extra="forbid")

    name: FileName | None = None
    content: str | None = None
    content_type: MediaType | None = None
    content_id: Annotated[HeaderText, StringConstraints(min_length=1, max_length=255)] | None = None
    file_key: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None

    @field_validator("content_id")
    @classmethod
    def _content_id(cls, value: str | None) -> str | None:
        if value is not None and not _CONTENT_ID.match(value):
            raise ValueError("must be printable ASCII without '<', '>' or spaces")
        return value

    @model_validator(mode="after")
    def _content_or_file_key(self) -> Attachment:
        if self.file_key is not None:
            if self.content is not None:
                raise ValueError("give either content or file_key, not both")
            return self
        if self.content is None:
            raise ValueError("content (base64) or file_key is required")
        if not self.name:
            raise ValueError("name is required with content")
        return self


class SendEmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    # Optional in the schema: a credential's sender_defaults may supply it (logic/sending/sender_defaults.py);
    # without one, a message that leaves it out is refused 422 naming from_email.
    from_email: Address | None = Field(
        default=None,
        description="Required unless the credential's sender_defaults has a from_email, which a message "
        "without one is sent from",
    )
    from_name: DisplayName | None = None
    to: list[RecipientField] = Field(min_length=1)
    cc: list[RecipientField] = Field(default_factory=empty_list)
    bcc: list[RecipientField] = Field(default_factory=empty_list)
    reply_to_email: Address | None = None
    reply_to_name: DisplayName | None = None
    subject: Annotated[HeaderText, StringConstraints(min_length=1, max_length=998)]
    body_text: Text | None = None
    body_html: Text | None = None
    template_data: dict[str, str | int | float | bool] | None = None
    attachments: list[Attachment] = Field(default_factory=empty_list)
    headers: dict[str, HeaderValue] = Field(default_factory=empty_dict, max_length=MAX_HEADERS)
    tags: Tags = Field(default_factory=empty_list, max_length=MAX_TAGS)
    metadata: Metadata = Field(default_factory=empty_dict, max_length=MAX_METADATA)
    client_reference: ClientReference | None = None
    track_opens: bool = False
    track_clicks: bool = False
    list_unsubscribe: ListUnsubscribe | None = None

    @field_validator("template_data")
    @classmethod
    def _template_values(
        cls, data: dict[str, str | int | float | bool] | None
    ) -> dict[str, str | int | float | bool] | None:
        for name, value in (data or {}).items():
            if isinstance(value, str):
                try:
                    _utf8(value)
                except ValueError as error:
                    raise ValueError(f"{name}: {error}") from None
        return data

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        seen: set[str] = set()
        for name in headers:
            lowered = name.lower()
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} must be printable ASCII without ':' or spaces")
            if lowered in RESERVED_HEADERS or lowered.startswith(("content-", "x-ses-")):
                raise ValueError(f"header {name!r} is reserved; use the matching field instead")
            if lowered in CONTROL_HEADER_NAMES or lowered.startswith(CONTROL_HEADER_PREFIXES):
                raise ValueError(
                    f"header {name!r} is an SMTP control header, which the HTTP API does not read or send; "
                    "use the matching field instead (tags, metadata, client_reference, track_opens, "
                    "track_clicks, attachments, list_unsubscribe, the Idempotency-Key request header)"
                )
            if lowered in seen:
                raise ValueError(f"header {name!r} is given twice")
            seen.add(lowered)
        return headers

    @model_validator(mode="after")
    def _message_rules(self) -> SendEmailRequest:
        if self.body_text is None and self.body_html is None:
            raise ValueError("at least one of body_text and body_html is required")
        if len(self.to) + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            # A model-level error has no location of its own: `field` in its context names the first
            # recipient over the limit (send_api/errors.py reads it into `details[].field`).
            raise PydanticCustomError(
                "too_many_recipients",
                "to, cc and bcc together may hold at most {limit} recipients",
                {"limit": MAX_RECIPIENTS, "field": self._recipient_path(MAX_RECIPIENTS)},
            )
        if self.reply_to_name is not None and self.reply_to_email is None:
            raise ValueError("reply_to_name needs reply_to_email")
        return self

    def _recipient_path(self, index: int) -> str:
        """`to[i]`, `cc[i]` or `bcc[i]`: where the recipient at `index` of To+Cc+Bcc is."""
        for name, recipients in (("to", self.to), ("cc", self.cc), ("bcc", self.bcc)):
            if index < len(recipients):
                return f"{name}[{index}]"
            index -= len(recipients)
        return "to"

    @property
    def has_one_click_unsubscribe(self) -> bool:
        return has_one_click(self.list_unsubscribe)


RecipientType = Literal["to", "cc", "bcc"]
