"""ZeptoMail's send API (docs/api.md, "Compatible endpoints"): `POST /zeptomail/v1.1/email` and
`/zeptomail/v1.1/email/batch`, as ZeptoMail's docs and its npm SDK (`zeptomail`, `SendMailClient`) send them,
with the key in `Authorization: Zoho-enczapikey <api_key>`, answered as ZeptoMail answers.

What maps: from, to/cc/bcc (`{"email_address": {address, name}}`), one reply_to, subject, htmlbody,
textbody, attachments (base64 `content` + `mime_type` + `name`, or a `file_cache_key`: a Posthorn file_key
from `POST /v1/files`), inline_images (the same, with a `cid`), mime_headers, client_reference, track_opens,
track_clicks; a batch's `to` (one message per recipient, as ZeptoMail sends it) with `merge_info` (per
recipient, else the top-level one) filled into `{{name}}` in subject, bodies and client_reference. What
Posthorn cannot honour is refused naming the field (`REFUSED`), never dropped."""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic import ValidationError as PydanticError

from posthorn import errors
from posthorn.errors import PosthornError, ValidationFailed, reply_for
from posthorn.models.credentials import Credential
from posthorn.models.email import SendEmailRequest
from send_api.compat import surface as compat
from send_api.compat.surface import Surface, accept_many, json_body, send_one, vendor_json
from send_api.contract import INTERNAL_ERROR, request_body, security_scheme

router = APIGatewayRouter()
TAG = "compatible: ZeptoMail"
SCHEME = security_scheme(
    "zeptomail",
    {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Zoho-enczapikey <api_key>`: ZeptoMail's Send Mail token is Posthorn's api_key",
    },
)
MAX_BATCH_RECIPIENTS = 500

# --- what ZeptoMail says for each of Posthorn's errors ----------------------------------------------------
# (HTTP status, ZeptoMail error code, sub code in `details[].code`, the error's `message`), from ZeptoMail's
# "API Error Codes" page: TM_3301/SM_101 invalid JSON, TM_4001/SERR_157 an invalid Send Mail token (401,
# "Access Denied"), TM_4001/SM_111 a sender domain not verified in the agent, TM_4001/SM_113 a field with an
# invalid value, TM_3201/GE_102 a mandatory field missing, TM_3501/UE_106 an invalid file cache key,
# TM_3601/AE_101 the account blocked, TM_3601/SMI_115 the sending limit reached, TM_8001/SM_129 over a size
# limit. ZeptoMail documents no Idempotency-Key and no upstream failure: those keep Posthorn's status, a
# ZeptoMail code of the nearest family and Posthorn's own code as the sub code (no ZeptoMail sub code is
# borrowed for a meaning it does not have). The SDK rejects with the parsed body of any non-2xx answer.
ERRORS: dict[type[PosthornError], tuple[int, str, str, str]] = {
    errors.InvalidJson: (400, "TM_3301", "SM_101", "Invalid JSON"),
    errors.Unauthorized: (401, "TM_4001", "SERR_157", "Access Denied"),
    errors.CredentialSuspended: (403, "TM_3601", "AE_101", "Account blocked"),
    errors.Forbidden: (401, "TM_4001", "SERR_157", "Access Denied"),
    errors.SenderNotAllowed: (401, "TM_4001", "SM_111", "Access Denied"),
    errors.DomainNotVerified: (401, "TM_4001", "SM_111", "Access Denied"),
    errors.DomainPaused: (403, "TM_3601", "AE_101", "Sending paused"),
    errors.NotFound: (400, "TM_3501", "UE_106", "Invalid File Cache Key"),
    errors.Conflict: (409, "TM_3301", "conflict", "Conflict"),
    errors.IdempotencyConflict: (409, "TM_3301", "idempotency_conflict", "Idempotency-Key conflict"),
    errors.PayloadTooLarge: (413, "TM_8001", "SM_129", "Fields exceeding limits"),
    errors.ValidationFailed: (400, "TM_4001", "SM_113", "Invalid Value"),
    errors.MissingTemplateData: (400, "TM_3201", "GE_102", "Mandatory field missing"),
    errors.AllRecipientsSuppressed: (400, "TM_4001", "SM_113", "No valid recipients"),
    errors.RateLimited: (429, "TM_3601", "SMI_115", "Sending limit exhausted, try after some time"),
    errors.UpstreamRejected: (502, "TM_3601", "upstream_rejected", "Email rejected"),
    errors.UpstreamUnavailable: (503, "TM_3601", "upstream_unavailable", "Service unavailable, try again"),
}
MISSING_FIELD = ("TM_3201", "GE_102", "Mandatory field missing")

# Fields ZeptoMail takes that Posthorn cannot honour: refused with these reasons, never dropped.
REFUSED: dict[str, str] = {
    "template_key": "Posthorn has no stored templates: send the subject and the bodies themselves",
    "template_alias": "Posthorn has no stored templates: send the subject and the bodies themselves",
    "mail_template_key": "Posthorn has no stored templates: send the subject and the bodies themselves",
    "bounce_address": "Posthorn sets the bounce address itself; bounces come back as events and webhooks",
}
# A batch sends each `to` recipient a message of their own; a Cc or Bcc on each of them is not what
# ZeptoMail documents, so Posthorn does not guess.
REFUSED_IN_BATCH: dict[str, str] = {
    "cc": "a batch sends each `to` recipient a message of their own: send Cc with POST /v1.1/email",
    "bcc": "a batch sends each `to` recipient a message of their own: send Bcc with POST /v1.1/email",
}


def api_key(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Zoho-enczapikey <api_key>` (the scheme in any case); Posthorn's own `Bearer <api_key>`
    works too."""
    scheme, _, key = (headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() in ("zoho-enczapikey", "bearer"):
        return key.strip() or None
    return None


def render(error: PosthornError) -> Response:
    status, code, sub_code, message = reply_for(ERRORS, error) or (
        500,
        "TM_3601",
        error.code,
        "Internal error",
    )
    if isinstance(error, ValidationFailed) and any(
        detail.get("message", "").startswith("Field required") for detail in error.details
    ):
        code, sub_code, message = MISSING_FIELD
    details = [
        {"code": sub_code, "message": detail.get("message", error.message), "target": detail["field"]}
        if detail.get("field")
        else {"code": sub_code, "message": detail.get("message", error.message)}
        for detail in error.details
    ] or [{"code": sub_code, "message": error.message}]
    return vendor_json(status, {"error": {"code": code, "details": details, "message": message}})


SURFACE = Surface("ZeptoMail", api_key, render)


# --- ZeptoMail's request -----------------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ZeptoMailMailbox(Strict):
    address: StrictStr = Field(description="The address")
    name: StrictStr | None = Field(default=None, description="The display name")


class ZeptoMailRecipient(Strict):
    email_address: ZeptoMailMailbox


MergeValue = StrictStr | StrictInt | StrictFloat | StrictBool


class ZeptoMailBatchRecipient(ZeptoMailRecipient):
    merge_info: dict[str, MergeValue] | None = Field(
        default=None, description="Values for this recipient's `{{name}}` placeholders"
    )


class ZeptoMailAttachment(Strict):
    """Inline bytes (`content` base64, `mime_type`, `name`) or a `file_cache_key` (a Posthorn file_key from
    `POST /v1/files`), with an optional `name`."""

    content: StrictStr | None = None
    mime_type: StrictStr | None = None
    name: StrictStr | None = None
    file_cache_key: StrictStr | None = None

    @model_validator(mode="after")
    def _content_or_key(self) -> ZeptoMailAttachment:
        if (self.file_cache_key is None) == (self.content is None):
            raise ValueError("give either content (with mime_type and name) or file_cache_key")
        if self.content is not None and (self.mime_type is None or self.name is None):
            raise ValueError("content needs mime_type and name")
        return self


class ZeptoMailInlineImage(Strict):
    """An image the HTML shows as `cid:<cid>`: inline bytes (`content`, `mime_type`) or a
    `file_cache_key`."""

    cid: StrictStr
    content: StrictStr | None = None
    mime_type: StrictStr | None = None
    file_cache_key: StrictStr | None = None

    @model_validator(mode="after")
    def _content_or_key(self) -> ZeptoMailInlineImage:
        if (self.file_cache_key is None) == (self.content is None):
            raise ValueError("give either content (with mime_type) or file_cache_key")
        if self.content is not None and self.mime_type is None:
            raise ValueError("content needs mime_type")
        return self


class ZeptoMailContent(Strict):
    """What a single send and a batch both take: the sender, the content and its options."""

    model_config = ConfigDict(populate_by_name=True)

    sender: ZeptoMailMailbox | None = Field(
        default=None,
        alias="from",
        description="Optional here (required by ZeptoMail): without it the credential's "
        "sender_defaults.from_email is used, and with no default it is refused as a missing field",
    )
    reply_to: list[ZeptoMailMailbox] = Field(
        default_factory=list, description="At most one: Posthorn sends one Reply-To"
    )
    subject: StrictStr
    htmlbody: StrictStr | None = None
    textbody: StrictStr | None = None
    attachments: list[ZeptoMailAttachment] = Field(default_factory=list)
    inline_images: list[ZeptoMailInlineImage] = Field(default_factory=list)
    track_clicks: StrictBool = False
    track_opens: StrictBool = False
    client_reference: StrictStr | None = None
    mime_headers: dict[str, StrictStr] = Field(default_factory=dict)


class ZeptoMailEmail(ZeptoMailContent):
    """`POST /zeptomail/v1.1/email`: ZeptoMail's Email Sending API body."""

    to: list[ZeptoMailRecipient] = Field(default_factory=list)
    cc: list[ZeptoMailRecipient] = Field(default_factory=list)
    bcc: list[ZeptoMailRecipient] = Field(default_factory=list)


class ZeptoMailBatch(ZeptoMailContent):
    """`POST /zeptomail/v1.1/email/batch`: one message per `to` recipient, `{{name}}` filled from its
    `merge_info`, else from the top-level `merge_info`."""

    to: list[ZeptoMailBatchRecipient] = Field(min_length=1, max_length=MAX_BATCH_RECIPIENTS)
    merge_info: dict[str, MergeValue] | None = Field(
        default=None, description="Values for recipients without a merge_info of their own"
    )


# --- ZeptoMail's answers --------------------------------------------------------------------------------
class ZeptoMailReceived(BaseModel):
    code: str = Field(
        description="`EM_104` for a request received; a batch recipient refused has its sub code"
    )
    additional_info: list[dict[str, str]] = Field(
        description="Empty for a single send; in a batch, the recipient and its message_id"
    )
    message: str


class ZeptoMailAnswer(BaseModel):
    """ZeptoMail's success answer; `request_id` is Posthorn's message_id (`GET /v1/messages/{id}`)."""

    data: list[ZeptoMailReceived]
    message: Literal["OK"]
    request_id: str = Field(description="Posthorn's message_id (in a batch, the first recipient's)")
    object: Literal["email"]


class ZeptoMailErrorDetail(BaseModel):
    code: str
    message: str
    target: str | None = None


class ZeptoMailErrorBody(BaseModel):
    code: str
    details: list[ZeptoMailErrorDetail]
    message: str


class ZeptoMailError(BaseModel):
    """ZeptoMail's error answer: `code` (TM_...), `details[].code` (the sub code), `details[].target`."""

    error: ZeptoMailErrorBody


RECEIVED = {"code": "EM_104", "additional_info": [], "message": "Email request received"}
EXAMPLE_ID = "msg_01M8RNF16RVT63JAZRT5PK8PM5"
SEND_EXAMPLE: dict[str, Any] = {
    "from": {"address": "hello@example.com", "name": "Example App"},
    "to": [{"email_address": {"address": "success@simulator.amazonses.com", "name": "Ada Lovelace"}}],
    "subject": "Your receipt",
    "htmlbody": "<p>Thanks for your order.</p>",
    "textbody": "Thanks for your order.",
    "client_reference": "order-1042",
    "track_opens": True,
}
BATCH_EXAMPLE: dict[str, Any] = {
    "from": {"address": "hello@example.com", "name": "Example App"},
    "to": [
        {
            "email_address": {"address": "success@simulator.amazonses.com", "name": "Ada"},
            "merge_info": {"name": "Ada"},
        }
    ],
    "merge_info": {"name": "there"},
    "subject": "Hi {{name}}",
    "textbody": "Hello {{name}}, thanks for your order.",
}


def _answers(success: str, example: dict[str, Any]) -> dict[int, Any]:
    """The route's documented answers: ZeptoMail's success, and each status of `ERRORS` with its example."""
    declared: dict[int, Any] = {
        201: {
            "description": success,
            "content": {
                "application/json": {"model": ZeptoMailAnswer, "examples": {"received": {"value": example}}}
            },
        }
    }
    for kind, (status, code, sub_code, message) in ERRORS.items():
        response = declared.setdefault(
            status,
            {"description": "", "content": {"application/json": {"model": ZeptoMailError, "examples": {}}}},
        )
        value = {
            "error": {"code": code, "details": [{"code": sub_code, "message": message}], "message": message}
        }
        response["content"]["application/json"]["examples"][kind.code] = {"value": value}
        response["description"] = "; ".join(filter(None, [response["description"], f"{code}/{sub_code}"]))
    declared[500] = INTERNAL_ERROR
    return declared


def _route(
    path: str,
    summary: str,
    operation_id: str,
    model: type[BaseModel],
    example: dict[str, Any],
    answer: dict[str, Any],
) -> Any:
    return router.post(
        path,
        summary=summary,
        tags=[TAG],
        operation_id=operation_id,
        security=[{SCHEME: []}],
        responses=_answers("Email request received", answer),
        openapi_extensions={"requestBody": request_body(summary, model, example)},
    )


# --- the mapping -----------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
# Posthorn's field names → ZeptoMail's, for the `target` of an error about the mapped message.
_FIELDS = {
    "from_email": "from.address",
    "from_name": "from.name",
    "reply_to_email": "reply_to[0].address",
    "reply_to_name": "reply_to[0].name",
    "body_text": "textbody",
    "body_html": "htmlbody",
    "headers": "mime_headers",
}


def zepto_field(location: tuple[str | int, ...]) -> str:
    if not location:
        return ""
    head, rest = location[0], location[1:]
    if head in ("to", "cc", "bcc") and rest:
        tail = {"email": ".email_address.address", "name": ".email_address.name"}
        index = f"[{rest[0]}]"
        return f"{head}{index}{tail.get(str(rest[1]), '') if len(rest) > 1 else ''}"
    name = _FIELDS.get(str(head))
    if name is not None:
        path = compat.path_of(rest)
        return f"{name}.{path}" if path and not path.startswith("[") else name + path
    return compat.path_of(location)


# Posthorn's attachment fields → ZeptoMail's (`name` and `content` are the same on both).
_ATTACHMENT_FIELDS = {"file_key": "file_cache_key", "content_type": "mime_type", "content_id": "cid"}
_POSTHORN_ATTACHMENT = re.compile(r"attachments\[(\d+)\](?:\.(\w+))?")


def in_zeptomail_terms(error: PosthornError, request: SendEmailRequest) -> PosthornError:
    """A refusal of the mapped message's attachments met while it is sent (an unknown `file_cache_key`, a
    blocked type) named as ZeptoMail names the field: the message's attachments are the email's
    `attachments`, then its `inline_images` (those have a content id)."""
    if not isinstance(error, ValidationFailed):
        return error
    plain = sum(1 for attachment in request.attachments if attachment.content_id is None)

    def renamed(field: str) -> str:
        found = _POSTHORN_ATTACHMENT.match(field)
        if found is None:
            return field
        index, name = int(found.group(1)), found.group(2)
        where = f"attachments[{index}]" if index < plain else f"inline_images[{index - plain}]"
        if name:
            where += "." + _ATTACHMENT_FIELDS.get(name, name)
        return where + field[found.end() :]

    for detail in error.details:
        field = detail.get("field")
        if field:
            detail["field"] = renamed(field)
            if error.message.startswith(f"{field}:"):
                error.message = detail["field"] + error.message[len(field) :]
    return error


def refused(body: Mapping[str, Any], extra: Mapping[str, str] = {}) -> None:
    found = [(field, reason) for field, reason in {**REFUSED, **extra}.items() if field in body]
    if found:
        details = [{"field": field, "message": f"not supported: {reason}"} for field, reason in found]
        raise ValidationFailed("; ".join(f"{d['field']}: {d['message']}" for d in details), details=details)


def parsed(model: type[Strict], body: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except PydanticError as error:
        raise compat.invalid(error, compat.path_of) from None


def _mailbox(box: ZeptoMailMailbox) -> dict[str, Any]:
    return {"email": box.address, "name": box.name or None}


def _image_name(image: ZeptoMailInlineImage) -> str:
    extension = mimetypes.guess_extension(image.mime_type or "") or ""
    return image.cid if "." in image.cid or not extension else image.cid + extension


def _attachments(email: ZeptoMailContent) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    for attachment in email.attachments:
        if attachment.file_cache_key is not None:
            files.append({"file_key": attachment.file_cache_key, "name": attachment.name})
        else:
            files.append(
                {"name": attachment.name, "content": attachment.content, "content_type": attachment.mime_type}
            )
    for image in email.inline_images:
        if image.file_cache_key is not None:
            files.append({"file_key": image.file_cache_key, "content_id": image.cid})
        else:
            files.append(
                {
                    "name": _image_name(image),
                    "content": image.content,
                    "content_type": image.mime_type,
                    "content_id": image.cid,
                }
            )
    return [{key: value for key, value in item.items() if value is not None} for item in files]


def _merged(
    text: str | None, values: Mapping[str, Any], field: str, where: str, *, escape: bool
) -> str | None:
    if text is None:
        return None

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValidationFailed.on(where, f"no value for {{{{{name}}}}} used in {field}")
        found = values[name]
        shown = ("true" if found else "false") if isinstance(found, bool) else str(found)
        return html.escape(shown, quote=True) if escape else shown

    return _PLACEHOLDER.sub(value, text)


def message(
    email: ZeptoMailContent,
    to: list[ZeptoMailMailbox],
    *,
    cc: list[ZeptoMailMailbox] = (),  # type: ignore[assignment]
    bcc: list[ZeptoMailMailbox] = (),  # type: ignore[assignment]
    merge: Mapping[str, Any] | None = None,
    merge_field: str = "merge_info",
) -> SendEmailRequest:
    """The Posthorn message for `to` (every recipient of a send; one recipient of a batch)."""
    if len(email.reply_to) > 1:
        raise ValidationFailed.on("reply_to", "Posthorn sends one Reply-To address; give at most one")
    if not to:
        raise ValidationFailed.on("to", "Field required: give at least one recipient in to")
    if email.htmlbody is None and email.textbody is None:  # said with ZeptoMail's names, not Posthorn's
        raise ValidationFailed.on("htmlbody", "Field required: give htmlbody or textbody (or both)")
    subject, textbody, htmlbody, reference = (
        email.subject,
        email.textbody,
        email.htmlbody,
        email.client_reference,
    )
    if merge is not None:
        subject = _merged(subject, merge, "subject", merge_field, escape=False) or ""
        textbody = _merged(textbody, merge, "textbody", merge_field, escape=False)
        htmlbody = _merged(htmlbody, merge, "htmlbody", merge_field, escape=True)
        reference = _merged(reference, merge, "client_reference", merge_field, escape=False)
    body: dict[str, Any] = {
        "to": [_mailbox(box) for box in to],
        "cc": [_mailbox(box) for box in cc],
        "bcc": [_mailbox(box) for box in bcc],
        "subject": subject,
        "body_text": textbody,
        "body_html": htmlbody,
        "attachments": _attachments(email),
        "headers": dict(email.mime_headers),
        "client_reference": reference,
        "track_opens": email.track_opens,
        "track_clicks": email.track_clicks,
    }
    if email.sender is not None:  # absent: the credential's sender_defaults fill it (or refuse it) later
        body["from_email"], body["from_name"] = email.sender.address, email.sender.name or None
    if email.reply_to:
        body["reply_to_email"] = email.reply_to[0].address
        body["reply_to_name"] = email.reply_to[0].name or None
    try:
        return SendEmailRequest.model_validate(body)
    except PydanticError as error:
        raise compat.invalid(error, zepto_field) from None


def single(body: Mapping[str, Any]) -> SendEmailRequest:
    """A send's body as the Posthorn message, or the ValidationFailed naming ZeptoMail's fields."""
    refused(body)
    email = parsed(ZeptoMailEmail, body)
    return message(
        email,
        [r.email_address for r in email.to],
        cc=[r.email_address for r in email.cc],
        bcc=[r.email_address for r in email.bcc],
    )


def batch(body: Mapping[str, Any]) -> list[SendEmailRequest]:
    """A batch's body as one Posthorn message per `to` recipient; the first problem refuses the batch."""
    refused(body, REFUSED_IN_BATCH)
    email = parsed(ZeptoMailBatch, body)
    messages = []
    for index, recipient in enumerate(email.to):
        own = recipient.merge_info is not None
        merge = recipient.merge_info if own else email.merge_info
        messages.append(
            message(
                email,
                [recipient.email_address],
                merge=merge,
                merge_field=f"to[{index}].merge_info" if own else "merge_info",
            )
        )
    return messages


def sendable(*messages: SendEmailRequest, credential: Credential) -> list[SendEmailRequest]:
    """Messages without `from` need the credential's default From: else ZeptoMail's missing field."""
    if not all(compat.has_sender(message, credential) for message in messages):
        raise ValidationFailed.on(
            "from", "Field required: give it, or set the credential's sender_defaults.from_email"
        )
    return list(messages)


# --- the routes --------------------------------------------------------------------------------------------
@_route(
    "/zeptomail/v1.1/email",
    "Send one email (ZeptoMail's Email Sending API)",
    "zeptomail_send_email",
    ZeptoMailEmail,
    SEND_EXAMPLE,
    {"data": [RECEIVED], "message": "OK", "request_id": EXAMPLE_ID, "object": "email"},
)
def send_email() -> Response[Any]:
    def handle(credential: Credential) -> Response:
        request = sendable(single(json_body(router)), credential=credential)[0]
        try:
            result, limits = send_one(router, request, credential)
        except PosthornError as error:
            raise in_zeptomail_terms(error, request) from None
        answer = {"data": [RECEIVED], "message": "OK", "request_id": result.message_id, "object": "email"}
        return vendor_json(201, answer, limits.headers())

    return SURFACE.answer(router, handle, idempotency=True)


@_route(
    "/zeptomail/v1.1/email/batch",
    "Send one email to each recipient, merge fields filled in (ZeptoMail's Batch Email Sending API)",
    "zeptomail_send_batch",
    ZeptoMailBatch,
    BATCH_EXAMPLE,
    {
        "data": [
            {
                **RECEIVED,
                "additional_info": [
                    {"email_address": "success@simulator.amazonses.com", "message_id": EXAMPLE_ID}
                ],
            }
        ],
        "message": "OK",
        "request_id": EXAMPLE_ID,
        "object": "email",
    },
)
def send_batch() -> Response[Any]:
    def handle(credential: Credential) -> Response:
        messages = sendable(*batch(json_body(router)), credential=credential)
        result, limits = accept_many(router, messages, credential)
        accepted = [item for item in result.results if item.message_id is not None]
        if not accepted:
            rejected = result.results[0].error
            raise (
                in_zeptomail_terms(compat.rebuilt(rejected), messages[0])
                if rejected is not None
                else errors.UpstreamUnavailable("nothing accepted")
            )
        data = []
        for item, sent in zip(result.results, messages, strict=True):
            who = sent.to[0].email
            if item.message_id is not None:
                data.append(
                    {**RECEIVED, "additional_info": [{"email_address": who, "message_id": item.message_id}]}
                )
            elif item.error is not None:
                refusal = in_zeptomail_terms(compat.rebuilt(item.error), sent)
                code = reply_for(ERRORS, refusal)
                data.append(
                    {
                        "code": code[2] if code else "SM_113",
                        "additional_info": [{"email_address": who}],
                        "message": refusal.message,
                    }
                )
        answer = {"data": data, "message": "OK", "request_id": accepted[0].message_id, "object": "email"}
        return vendor_json(201, answer, limits.headers())

    return SURFACE.answer(router, handle, idempotency=True)
