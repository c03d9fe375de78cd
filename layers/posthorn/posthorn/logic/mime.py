"""Where the MIME is built: one RFC 5322 message, byte for byte what goes to SES.

Structure: text and html → multipart/alternative; inline parts (content_id) → multipart/related around
the html; regular attachments → multipart/mixed around everything. Non-ASCII names and subjects are
encoded by the stdlib's SMTP policy (RFC 2047 words, RFC 2231 filenames), lines end in CRLF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import cast

from posthorn.models.addresses import domain_of

# 7-bit clean output: non-ASCII bodies become quoted-printable or base64, so no relay needs 8BITMIME.
POLICY = SMTP.clone(cte_type="7bit")

# SES's limit is 40 MB for the whole message after encoding.
MAX_MESSAGE_BYTES = 40 * 1024 * 1024


@dataclass(frozen=True)
class Mailbox:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class MimePart:
    """A decoded attachment. `content_id` makes it an inline part of the HTML body."""

    name: str
    content_type: str
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class Envelope:
    """Everything needed to write the message. Bcc recipients never appear in it."""

    message_id: str
    sender: Mailbox
    to: list[Mailbox]
    cc: list[Mailbox]
    subject: str
    date: datetime
    text: str | None
    html: str | None
    reply_to: Mailbox | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[MimePart] = field(default_factory=list)
    list_unsubscribe: str | None = None
    one_click_unsubscribe: bool = False
    ses_tags: dict[str, str] = field(default_factory=dict)
    configuration_set: str | None = None


def _address(mailbox: Mailbox) -> Address:
    local, _, domain = mailbox.email.rpartition("@")
    return Address(display_name=mailbox.name or "", username=local, domain=domain)


def _message_id_header(envelope: Envelope) -> str:
    return f"<{envelope.message_id}@{domain_of(envelope.sender.email)}>"


def build_message(envelope: Envelope) -> bytes:
    message = EmailMessage(policy=POLICY)
    message["From"] = _address(envelope.sender)
    message["To"] = [_address(mailbox) for mailbox in envelope.to]
    if envelope.cc:
        message["Cc"] = [_address(mailbox) for mailbox in envelope.cc]
    if envelope.reply_to is not None:
        message["Reply-To"] = _address(envelope.reply_to)
    message["Subject"] = envelope.subject
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = _message_id_header(envelope)
    message["MIME-Version"] = "1.0"
    if envelope.list_unsubscribe:
        message["List-Unsubscribe"] = envelope.list_unsubscribe
        if envelope.one_click_unsubscribe:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in envelope.headers.items():
        message[name] = value
    if envelope.ses_tags:
        message["X-SES-MESSAGE-TAGS"] = ", ".join(
            f"{key}={value}" for key, value in envelope.ses_tags.items()
        )
    if envelope.configuration_set:
        message["X-SES-CONFIGURATION-SET"] = envelope.configuration_set

    _set_bodies(message, envelope)
    for part in envelope.attachments:
        # Inline parts belong to an HTML body; without one they are ordinary attachments.
        if part.content_id is None or envelope.html is None:
            maintype, _, subtype = part.content_type.partition("/")
            message.add_attachment(part.data, maintype=maintype, subtype=subtype, filename=part.name)
    return message.as_bytes()


def _set_bodies(message: EmailMessage, envelope: Envelope) -> None:
    inline = [
        part for part in envelope.attachments if part.content_id is not None and envelope.html is not None
    ]
    if envelope.text is not None:
        message.set_content(envelope.text, subtype="plain", charset="utf-8")
        if envelope.html is not None:
            message.add_alternative(envelope.html, subtype="html", charset="utf-8")
    else:
        assert envelope.html is not None
        message.set_content(envelope.html, subtype="html", charset="utf-8")
    if not inline:
        return
    html_part = message if envelope.text is None else cast(list[EmailMessage], message.get_payload())[1]
    for part in inline:
        maintype, _, subtype = part.content_type.partition("/")
        html_part.add_related(
            part.data,
            maintype=maintype,
            subtype=subtype,
            cid=f"<{part.content_id}>",
            filename=part.name,
            disposition="inline",
        )
