"""A client's own MIME, as the SMTP relay passes it on: the header policy and the control headers.

The client's bytes travel as it wrote them, except the header block:
- the control headers (`CONTROL_HEADERS`, the names ZeptoMail, MailPace, OhMySMTP and Postmark document, so
  a migration changes no code) are read into `MessageControls` and removed;
- every `X-SES-*` header and any `Bcc:` are removed: a client must not choose the configuration set or the
  tags SES obeys, and the envelope says who is Bcc;
- SES's stamp (`logic/sending/ses_stamp.py`) is added, and `Message-ID` and `Date` where the client gave none;
- `X-List-Unsubscribe` becomes `List-Unsubscribe` (with one-click `List-Unsubscribe-Post` for https).
File-cache attachments (`X-Posthorn-File-Key`, `X-TM-FILE-KEY`) are added as parts of the client's
`multipart/mixed`, or the client's message is wrapped in one; the client's parts are never re-encoded, and
a cached file's body stays the shared buffer it is in the file cache (a `RawMessage` piece).

The header block is read strictly, because Posthorn's stamp must land in it and the sender check must read
what a receiving mail program shows (each refusal a `ValidationFailed`, `550 5.6.0`, or for a size a
`PayloadTooLarge`, `552 5.3.4`):
- every line ends with the message's line end (CRLF, or LF throughout), with no other CR in it (a CR
  before CRLF ends a line, or the whole header block, for Python's parser and others), no NUL, and is
  UTF-8;
- no value holds an RFC 2047 encoded word that decodes to a CR, LF or NUL (a header a decoder would split);
  a value that nests comments or groups too deep for Python's address parser is refused too;
- `From:` and `Sender:` appear at most once each and read as the same addresses to Python's standards parser
  (which decodes encoded words) and to the classic one (which reads them as written), each with a local part
  and a domain and no encoded word in it: `From: =?utf-8?q?ceo=40b.test?=\\<hi@a.test` is refused, not read
  as `hi@a.test` while a mail program shows `ceo@b.test`;
- the header block is at most 1 MiB, a field at most 64 KiB, `From:`/`Sender:` at most 4 KiB: a field's
  folded lines were joined one by one (quadratic in its length) and Python's parsers are slow on long
  values, so nothing longer is read (and encoded words only up to the last `?=`: quadratic after it).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from email.header import decode_header, make_header
from email.policy import default
from email.utils import format_datetime, getaddresses
from typing import Any, NamedTuple

from pydantic import ValidationError

from posthorn.errors import PayloadTooLarge, ValidationFailed
from posthorn.logic.sending.mime import part_headers
from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.models.addresses import domain_of
from posthorn.models.controls import MessageControls
from posthorn.models.raw_message import Base64Body, FileBody, MimePart, RawMessage

# Control header (lower case) -> the field it sets. Metadata headers are a family: see METADATA_PREFIXES.
CONTROL_HEADERS: dict[str, str] = {
    "x-posthorn-tags": "tags",
    "x-mailpace-tags": "tags",
    "x-oms-tags": "tags",
    "x-ohmysmtp-tags": "tags",
    "x-pm-tag": "tags",
    "x-posthorn-client-ref": "client_reference",
    "x-tm-client-ref": "client_reference",
    "x-posthorn-track-opens": "track_opens",
    "x-tm-open-track": "track_opens",
    "x-pm-trackopens": "track_opens",
    "x-posthorn-track-clicks": "track_clicks",
    "x-tm-click-track": "track_clicks",
    "x-pm-tracklinks": "track_clicks",
    "x-posthorn-file-key": "file_keys",
    "x-tm-file-key": "file_keys",
    "x-list-unsubscribe": "list_unsubscribe",
    "x-posthorn-idempotency-key": "idempotency_key",
}
METADATA_PREFIXES = ("x-posthorn-metadata-", "x-pm-metadata-")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# Postmark's X-PM-TrackLinks names where links are tracked; `None` turns tracking off.
_POSTMARK_LINK_TRACKING = frozenset({"htmlandtext", "htmlonly", "textonly"})

MAX_HEADER_BLOCK_BYTES = 1024 * 1024
MAX_HEADER_FIELD_BYTES = 64 * 1024
MAX_SENDER_FIELD_BYTES = 4 * 1024
# The fields whose addresses the sender check reads (RFC 5322: one From:, at most one Sender:).
SENDER_FIELDS = ("from", "sender")
# An RFC 2047 encoded word, wherever it is in a value, as `email.header.decode_header` finds one.
_ENCODED_WORD = re.compile(r"=\?([^?]*)\?([qQbB])\?(.*?)\?=")
_QUOTED_OCTET = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


class HeaderField(NamedTuple):
    """One header field as the client wrote it: its name, all its bytes (folded lines, line end), and its
    name in lower case (names are case-insensitive)."""

    name: str
    raw: bytes
    key: str

    def unfolded(self) -> str:
        """The value as written, unfolded: RFC 2047 words still encoded."""
        text = self.raw.split(b":", 1)[1].decode("utf-8", "replace")
        return " ".join(line.strip(" \t\r") for line in text.split("\n")).strip(" \t")

    def value(self) -> str:
        """The value unfolded, RFC 2047 words decoded (for reading it, never for writing it again)."""
        unfolded = self.unfolded()
        encoded, rest = _split_after_encoded_words(unfolded)
        try:
            return str(make_header(decode_header(encoded))) + rest
        except (ValueError, LookupError):  # a malformed or unknown encoded word: read it as written
            return unfolded


class ClientMessage:
    """The client's header fields, its body (everything after the blank line that ends the header block)
    and its line end, which Posthorn's added lines use too. Each field's value is decoded once."""

    def __init__(self, fields: list[HeaderField], body: bytes | bytearray, newline: bytes) -> None:
        self.fields = fields
        self.body = body
        self.newline = newline
        self._values: dict[str, list[str]] = {}
        self._addresses: dict[str, list[str]] = {}

    def values(self, name: str) -> list[str]:
        if name not in self._values:
            self._values[name] = [field.value() for field in self.fields if field.key == name]
        return self._values[name]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    def addresses(self, *names: str) -> list[str]:
        """The addresses of these header fields (display names dropped), in order. `From:` and `Sender:`
        are read strictly (`_sender_addresses`: ValidationFailed when mail programs could read them
        differently); the others as written: an encoded word is a display name's text, never a quote or a
        comment that could hide a mailbox (RFC 2047 section 5)."""
        found: list[str] = []
        for name in names:
            if name not in self._addresses:
                fields = [field for field in self.fields if field.key == name]
                if name in SENDER_FIELDS:
                    if len(fields) > 1:  # mail programs show one of them: which one is theirs to choose
                        raise ValidationFailed.on(fields[1].name, "a message has one, not several")
                    self._addresses[name] = [a for field in fields for a in _sender_addresses(field)]
                else:
                    read = _read_addresses(fields[0].name if fields else name, [f.unfolded() for f in fields])
                    self._addresses[name] = [address for address in read if address]
            found.extend(self._addresses[name])
        return found

    def control_header(self, target: str) -> str | None:
        """The name, as the client wrote it, of the first control header that sets `target` (a
        `MessageControls` field, e.g. `file_keys`): what a refusal of that setting names (docs/api.md, "SMTP
        relay": `X-TM-FILE-KEY: ...`, not `X-Posthorn-File-Key`)."""
        return next((field.name for field in self.fields if _control_target(field.key) == target), None)

    @property
    def subject(self) -> str:
        return self.first("subject") or ""


def parse_client_message(raw: bytes | bytearray) -> ClientMessage:
    """Split the header block into its fields and check it (the module's docstring says how).
    ValidationFailed when it is not a header block Posthorn can pass on; PayloadTooLarge when it is too long.

    A bytearray (the relay's DATA buffer) becomes the body itself, the header block cut off its front in
    place (CPython moves the buffer's start: no copy), so a large message is held once; read anything else
    you need of `raw` before."""
    first_end = raw.find(b"\n")
    newline = b"\n" if first_end > 0 and raw[first_end - 1 : first_end] != b"\r" else b"\r\n"
    fields: list[HeaderField] = []
    lines: list[bytes] = []  # the field being read: its first line, then its folded ones
    name = ""
    size = 0  # of the field being read
    position = 0
    body_start = len(raw)
    while position < len(raw):
        end = raw.find(b"\n", position)
        line_end = len(raw) if end < 0 else end + 1
        if line_end > MAX_HEADER_BLOCK_BYTES:
            raise PayloadTooLarge(f"the message's header block is over {MAX_HEADER_BLOCK_BYTES} bytes")
        line = bytes(raw[position:line_end])
        position = line_end
        if line == newline:  # the blank line: the body follows
            body_start = line_end
            break
        _check_line(line, newline, last=line_end == len(raw))
        if line[:1] in (b" ", b"\t"):
            if not lines:
                raise ValidationFailed("the message starts with a folded line, not a header field")
            size += len(line)
            if size > MAX_HEADER_FIELD_BYTES:
                raise PayloadTooLarge(f"{name}: the header field is over {MAX_HEADER_FIELD_BYTES} bytes")
            lines.append(line)
            continue
        if lines:
            fields.append(HeaderField(name, b"".join(lines), name.lower()))
        written, colon, _ = line.partition(b":")
        if not colon or not written or any(byte <= 32 or byte >= 127 for byte in written):
            raise ValidationFailed("the message's header block is malformed (a line that is no header)")
        name, lines, size = written.decode("ascii"), [line], len(line)
    if lines:
        fields.append(HeaderField(name, b"".join(lines), name.lower()))
    for field in fields:
        _check_encoded_words(field)
    message = ClientMessage(fields, b"", newline)
    message.addresses(*SENDER_FIELDS)  # refused here, before anything else reads them
    if isinstance(raw, bytearray):
        del raw[:body_start]
        message.body = raw
    else:
        message.body = raw[body_start:]
    return message


def _check_line(line: bytes, newline: bytes, *, last: bool) -> None:
    """One line of the header block, its line end included: the message's line end, no other CR (a CR
    before CRLF ends the header block for Python's parser and others), no NUL, UTF-8 (RFC 6532)."""
    if line.endswith(newline):
        content = line[: -len(newline)]
    elif last:  # a header block with no body and no final line end
        content = line
    else:
        raise ValidationFailed("the message's header block mixes line ends: end every line with CRLF")
    if b"\r" in content:
        raise ValidationFailed("the message's header block has a CR that is not part of a line end")
    if b"\0" in content:
        raise ValidationFailed("the message's header block has a NUL character")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "the message's header block is not UTF-8: write other text as RFC 2047 encoded words"
        ) from None


def _check_encoded_words(field: HeaderField) -> None:
    """ValidationFailed when an RFC 2047 encoded word in the value decodes to a CR, LF or NUL: a mail
    program that decodes it would read another header field, or none, there. Checked as octets and, where
    the charset is known, as text (UTF-7 writes a line end without the octets)."""
    text, _ = _split_after_encoded_words(field.unfolded())
    for charset, encoding, encoded in _ENCODED_WORD.findall(text):
        octets = _decoded_word(encoding, encoded.encode())
        try:  # bytes.decode, not codecs.decode: a "charset" such as zlib must not be run
            decoded = octets.decode(charset.partition("*")[0], "replace")
        except LookupError:  # an unknown charset, or not a text one: its octets are all a decoder has
            decoded = ""
        if any(c in octets for c in (b"\r", b"\n", b"\0")) or any(c in decoded for c in "\r\n\0"):
            raise ValidationFailed.on(
                field.name, "an encoded word (RFC 2047) in it decodes to a CR, LF or NUL"
            )


def _split_after_encoded_words(text: str) -> tuple[str, str]:
    """`text` up to the end of its last possible encoded word, and the rest, which holds none. An encoded
    word is looked for from every `=?` to the next `?=` (as Python's decoder does): where many `=?` follow
    the last `?=`, each search would run to the end of the value, quadratic in its length."""
    end = text.rfind("?=") + 2 if "?=" in text else 0
    return (text, "") if "=?" not in text[end:] else (text[:end], text[end:])


def _read_addresses(name: str, values: list[str]) -> list[str]:
    """`getaddresses`, which recurses into nested comments and groups: a value that nests too deep for it
    is refused, not answered as a failure of Posthorn's (a 4xx the client would retry for ever)."""
    try:
        return [address for _, address in getaddresses(values)]
    except RecursionError:
        raise ValidationFailed.on(name, "nests comments or groups too deep to be read") from None


def _decoded_word(encoding: str, encoded: bytes) -> bytes:
    """An encoded word's octets, decoded as leniently as mail programs decode them."""
    if encoding in "qQ":
        return _QUOTED_OCTET.sub(lambda hexa: bytes([int(hexa[1], 16)]), encoded.replace(b"_", b" "))
    letters = _NOT_BASE64.sub(b"", encoded)
    letters = letters[: len(letters) - 1] if len(letters) % 4 == 1 else letters  # a stray letter: dropped
    try:
        return base64.b64decode(letters + b"=" * (-len(letters) % 4))
    except binascii.Error:
        return b""


def _sender_addresses(field: HeaderField) -> list[str]:
    """A `From:` or `Sender:` field's addresses, refused (ValidationFailed) unless every reasonable reader
    finds the same ones: Python's standards parser (`email.policy.default`, which decodes encoded words,
    also where an address is) and the classic `getaddresses` (which reads them as written) must agree, each
    address with a local part and a domain and no encoded word in it. A display name may say anything."""
    if len(field.raw) > MAX_SENDER_FIELD_BYTES:
        raise ValidationFailed.on(field.name, f"is over {MAX_SENDER_FIELD_BYTES} bytes")
    written = field.unfolded()
    classic = _read_addresses(field.name, [written])
    try:
        standard = default.header_factory(field.key, written).addresses
    except Exception:  # it cannot read it (RecursionError too): nor can mail programs, reliably
        standard = ()
    if not standard and not any(classic):  # no address at all (`undisclosed-recipients:;`): no sender
        return []
    for address in classic:
        local, at, domain = address.rpartition("@")
        if not (local and at and domain):
            problem = f"{address!r} is not local@domain" if address else "an address in it is empty"
            raise ValidationFailed.on(field.name, problem)
    if "=?" in "".join(classic):
        raise ValidationFailed.on(field.name, "an address in it holds an encoded word (RFC 2047)")
    agreed = len(classic) == len(standard) and all(
        read.username and read.domain and read.addr_spec.lower() == address.lower()
        for read, address in zip(standard, classic, strict=True)
    )
    if not agreed:
        raise ValidationFailed.on(
            field.name,
            "mail programs would read different addresses in it (an encoded word, a quote or a backslash "
            "where an address is); write it as Name <local@domain>",
        )
    return classic


def read_controls(message: ClientMessage) -> MessageControls:
    """The control headers' settings, checked as the API checks the same fields. ValidationFailed names the
    header that is wrong."""
    values: dict[str, Any] = {}
    metadata_headers: dict[str, str] = {}  # metadata key -> the header that set it, as written
    for field in message.fields:
        target = CONTROL_HEADERS.get(field.key)
        if target is None:
            prefix = next((p for p in METADATA_PREFIXES if field.key.startswith(p)), None)
            if prefix is None:
                continue
            key = field.key[len(prefix) :]  # header names are case-insensitive, and clients recase them
            values.setdefault("metadata", {})[key] = field.value()
            metadata_headers[key] = field.name
            continue
        value = field.value()
        if target == "tags":
            tags = values.setdefault("tags", [])
            tags.extend(tag for tag in (part.strip() for part in value.split(",")) if tag and tag not in tags)
        elif target in ("track_opens", "track_clicks"):
            values[target] = _flag(field, value)
        elif target == "file_keys":
            values.setdefault("file_keys", []).extend(_file_keys(value))
        else:
            values[target] = value
    try:
        return MessageControls.model_validate(values)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        target = str(first["loc"][0]) if first["loc"] else ""
        header = message.control_header(target) or "a control header"
        if target == "metadata" and len(first["loc"]) > 1:  # the key's own header, not the first one
            header = metadata_headers.get(str(first["loc"][1]), header)
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise ValidationFailed.on(header, reason) from None


def _control_target(key: str) -> str | None:
    """The `MessageControls` field a header (its name in lower case) sets, if it is a control header."""
    if key in CONTROL_HEADERS:
        return CONTROL_HEADERS[key]
    return "metadata" if key.startswith(METADATA_PREFIXES) else None


def _flag(field: HeaderField, value: str) -> bool:
    lowered = value.strip().lower()
    if field.key == "x-pm-tracklinks":
        if lowered == "none":
            return False
        if lowered in _POSTMARK_LINK_TRACKING:
            return True
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationFailed.on(field.name, "must be true, false, 1, 0, yes or no")


def _file_keys(value: str) -> list[dict[str, str]]:
    """`key[:name],key[:name]`."""
    found = []
    for item in (part.strip() for part in value.split(",")):
        if item:
            key, _, name = item.partition(":")
            found.append({"file_key": key.strip(), **({"name": name.strip()} if name.strip() else {})})
    return found


def _removed(field: HeaderField) -> bool:
    key = field.key
    return (
        key in CONTROL_HEADERS
        or key.startswith(METADATA_PREFIXES)
        or key.startswith("x-ses-")
        or key == "bcc"
    )


def relayed(
    message: ClientMessage,
    controls: MessageControls,
    stamp: SesStamp,
    *,
    now: datetime,
    attachments: Iterable[MimePart] = (),
) -> RawMessage:
    """The message to hand SES: the client's, with the header policy above applied."""
    nl = message.newline
    kept = [field for field in message.fields if not _removed(field)]
    added: list[tuple[str, str]] = []
    if controls.list_unsubscribe is not None:
        kept = [field for field in kept if field.key not in ("list-unsubscribe", "list-unsubscribe-post")]
        added.append(("List-Unsubscribe", controls.list_unsubscribe))
        if controls.has_one_click_unsubscribe:
            added.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    if not any(field.key == "message-id" for field in kept):
        senders = message.addresses("from")
        added.append(
            ("Message-ID", f"<{stamp.message_id}@{domain_of(senders[0]) if senders else 'posthorn'}>")
        )
    if not any(field.key == "date" for field in kept):
        added.append(("Date", format_datetime(now)))
    added.extend(stamp.headers())

    body: list[Base64Body] = [message.body]
    files: dict[int, FileBody] = {}
    parts = list(attachments)
    if parts:
        kept, added, body, files = _with_attachments(kept, added, message, parts)
    head = b"".join(field.raw for field in kept) + b"".join(
        f"{name}: {value}".encode() + nl for name, value in added
    )
    pieces: list[Base64Body] = [head + nl, *body]
    offset = 1
    return RawMessage(
        tuple(pieces),
        {index + offset: ref for index, ref in files.items()},
        frozenset(index + offset for index in files),
    )


def _with_attachments(
    kept: list[HeaderField], added: list[tuple[str, str]], message: ClientMessage, parts: list[MimePart]
) -> tuple[list[HeaderField], list[tuple[str, str]], list[Base64Body], dict[int, FileBody]]:
    """The cached files as parts of the client's `multipart/mixed`, or of one wrapped around its message.
    Returns the header fields, added fields, body pieces and, by piece index, the cached files' bodies."""
    nl = message.newline
    content_type = next((field for field in kept if field.key == "content-type"), None)
    boundary = _mixed_boundary(content_type)
    closing = message.body.rfind(b"--" + boundary + b"--") if boundary is not None else -1
    if boundary is not None and closing >= 0:
        # Before the client's closing delimiter (the line end before it is part of that delimiter).
        before, after = message.body[:closing], message.body[closing:]
    else:
        # Wrap: the client's own Content-* fields go with its message into the first part.
        boundary = f"posthorn-{secrets.token_hex(12)}".encode()
        moved = [field for field in kept if field.key.startswith("content-")]
        kept = [field for field in kept if not field.key.startswith("content-")]
        if not any(field.key == "mime-version" for field in kept):
            added.insert(0, ("MIME-Version", "1.0"))
        added.insert(0, ("Content-Type", f'multipart/mixed; boundary="{boundary.decode()}"'))
        before = b"--" + boundary + nl + b"".join(field.raw for field in moved) + nl + message.body
        if not before.endswith(nl):
            before += nl
        after = b"--" + boundary + b"--" + nl
    body: list[Base64Body] = [before]
    files: dict[int, FileBody] = {}
    for part in parts:
        body.append(b"--" + boundary + nl + part_headers(part, nl) + nl)
        if part.source is not None:
            files[len(body)] = part.source
        body.append(part.body())
        body.append(nl)
    body.append(after)
    return kept, added, body, files


def _mixed_boundary(content_type: HeaderField | None) -> bytes | None:
    if content_type is None:
        return None
    from email.message import Message

    holder = Message()
    holder["Content-Type"] = content_type.value()
    if holder.get_content_type() != "multipart/mixed":
        return None
    boundary = holder.get_boundary()
    return boundary.encode() if boundary else None
