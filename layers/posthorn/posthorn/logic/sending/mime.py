"""Where the MIME is built: one RFC 5322 message, byte for byte what goes to SES.

Structure: text and html → multipart/alternative; inline parts (content_id) → multipart/related around
the html; regular attachments → multipart/mixed around everything. Non-ASCII names and subjects are
encoded by the stdlib's SMTP policy (RFC 2047 words, RFC 2231 filenames), lines end in CRLF.

Attachment bodies do not go through the stdlib: it would base64-encode each one into a str, then copy it
line by line into every enclosing multipart (several copies of a large file). The stdlib writes the headers
and the structure around a one-line placeholder per attachment; the base64 body (`encode_base64_body`,
which the file cache does once per file) takes the placeholder's place as a piece of the `RawMessage`
(`models/raw_message.py`), so no attachment is copied into the message at all.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime
from typing import NamedTuple, cast

from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.models.addresses import domain_of
from posthorn.models.raw_message import Base64Body, FileBody, MimePart, RawMessage


class _HeaderClasses(HeaderRegistry):
    """The stdlib's header registry, with each header's class made once. The stdlib makes a new class
    (`type(...)`) every time a header is set or read, about 17 times per message: a large share of
    building a small one. The classes hold no state, so one per name serves all."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# 7-bit clean output: non-ASCII bodies become quoted-printable or base64, so no relay needs 8BITMIME.
POLICY = SMTP.clone(cte_type="7bit", header_factory=_HeaderClasses())


class Mailbox(NamedTuple):
    email: str
    name: str | None = None


@dataclass(frozen=True)
class MessageContent:
    """Everything needed to write the message (what the SMTP envelope's MAIL FROM and RCPT TO carry is
    not in it: Bcc recipients never appear)."""

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
    stamp: SesStamp | None = None


def _address(mailbox: Mailbox) -> Address:
    local, _, domain = mailbox.email.rpartition("@")
    return Address(display_name=mailbox.name or "", username=local, domain=domain)


def _message_id_header(content: MessageContent) -> str:
    return f"<{content.message_id}@{domain_of(content.sender.email)}>"


def build_message(content: MessageContent) -> RawMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = _address(content.sender)
    message["To"] = [_address(mailbox) for mailbox in content.to]
    if content.cc:
        message["Cc"] = [_address(mailbox) for mailbox in content.cc]
    if content.reply_to is not None:
        message["Reply-To"] = _address(content.reply_to)
    message["Subject"] = content.subject
    message["Date"] = format_datetime(content.date)
    message["Message-ID"] = _message_id_header(content)
    message["MIME-Version"] = "1.0"
    if content.list_unsubscribe:
        message["List-Unsubscribe"] = content.list_unsubscribe
        if content.one_click_unsubscribe:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in content.headers.items():
        message[name] = value
    for name, value in content.stamp.headers() if content.stamp else ():
        message[name] = value

    placeholders: dict[bytes, MimePart] = {}
    _set_bodies(message, content, placeholders)
    for part in content.attachments:
        # Inline parts belong to an HTML body; without one they are ordinary attachments.
        if part.content_id is None or content.html is None:
            maintype, _, subtype = part.content_type.partition("/")
            message.add_attachment(b"", maintype=maintype, subtype=subtype, filename=part.name)
            _hold_place(cast(list[EmailMessage], message.get_payload())[-1], part, placeholders)
    _only_top_level_mime_version(message)
    return _splice(message.as_bytes(), placeholders)


def _only_top_level_mime_version(message: EmailMessage) -> None:
    """The stdlib gives every part it makes (`add_alternative`, `add_attachment`, ...) a `MIME-Version` of
    its own; RFC 2045 puts it on the message only."""
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]


def _hold_place(mime_part: EmailMessage, part: MimePart, placeholders: dict[bytes, MimePart]) -> None:
    """Give an (empty, base64) attachment part a unique one-line payload to be replaced by its body."""
    token = f"posthorn-attachment-{secrets.token_hex(16)}"
    mime_part.set_payload(token)
    placeholders[token.encode("ascii")] = part


def _splice(skeleton: bytes, placeholders: dict[bytes, MimePart]) -> RawMessage:
    """The message with each placeholder line replaced by its attachment's base64 body, as pieces: a
    cached file's body stays the one shared buffer."""
    located = sorted((skeleton.index(token), token) for token in placeholders)
    pieces: list[Base64Body] = []
    files: dict[int, FileBody] = {}
    bodies: set[int] = set()
    start = 0
    for position, token in located:
        part = placeholders[token]
        pieces.append(skeleton[start:position])
        if part.source is not None:
            files[len(pieces)] = part.source
        bodies.add(len(pieces))
        pieces.append(part.body())
        start = position + len(token)
    pieces.append(skeleton[start:])
    return RawMessage(tuple(pieces), files, frozenset(bodies))


def _set_bodies(message: EmailMessage, content: MessageContent, placeholders: dict[bytes, MimePart]) -> None:
    inline = [
        part for part in content.attachments if part.content_id is not None and content.html is not None
    ]
    if content.text is not None:
        message.set_content(content.text, subtype="plain", charset="utf-8")
        if content.html is not None:
            message.add_alternative(content.html, subtype="html", charset="utf-8")
    else:
        assert content.html is not None
        message.set_content(content.html, subtype="html", charset="utf-8")
    if not inline:
        return
    html_part = message if content.text is None else cast(list[EmailMessage], message.get_payload())[1]
    for part in inline:
        maintype, _, subtype = part.content_type.partition("/")
        html_part.add_related(
            b"",
            maintype=maintype,
            subtype=subtype,
            cid=f"<{part.content_id}>",
            filename=part.name,
            disposition="inline",
        )
        _hold_place(cast(list[EmailMessage], html_part.get_payload())[-1], part, placeholders)


def part_headers(part: MimePart, newline: bytes = b"\r\n") -> bytes:
    """The header fields of an attachment part whose body is base64 (RFC 2231 names where they are not
    ASCII), each ended by `newline`: what the SMTP relay writes around a cached file it adds."""
    maintype, _, subtype = part.content_type.partition("/")
    holder = MIMEPart(policy=POLICY)
    holder.set_content(b"", maintype=maintype, subtype=subtype, filename=part.name)
    head = holder.as_bytes().partition(b"\r\n\r\n")[0] + b"\r\n"
    return head if newline == b"\r\n" else head.replace(b"\r\n", newline)
