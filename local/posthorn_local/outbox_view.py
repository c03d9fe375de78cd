"""What the console's local panels show of an outbox message: the MIME parsed into JSON, the Posthorn record.

`summary` is one row of the outbox list (envelope plus a few headers, parsed from the header block only);
`message_view` is the whole message: headers, text and HTML bodies, attachments' metadata and the links the
HTML holds; `part` returns one attachment's bytes for download; `record_view`, `statuses` and
`webhook_deliveries` read the Posthorn message (recipients, events, webhook deliveries and their attempts)
straight from the store: the local stack is development-only.
Nothing here escapes for HTML: the console builds its DOM from text, and frames the HTML body in a sandbox.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any, NamedTuple, Protocol, cast

from posthorn.logic.events.notifications import POSTHORN_MESSAGE_ID_TAG
from posthorn.models.messages import MessageRecord, MessageView
from posthorn.models.webhooks import DeliveryRecord, DeliveryView, WebhookRecord
from posthorn.ports import MessageReader
from posthorn_local.ses_events_publisher import parse_message_tags
from posthorn_local.ses_smtp_server import OutboxMessage

# Inline images (`cid:` references) become data: URLs in the preview up to this many bytes in all.
MAX_INLINE_BYTES = 5 * 1024 * 1024
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(r"\r?\n[ \t]*")
_TEXT_LINK = re.compile(r"https?://[^\s<>\"')\]]+")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def _parse(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    parser = BytesParser(policy=policy.default)
    return cast(EmailMessage, parser.parsebytes(raw, headersonly=headers_only))


def _header_block(raw: bytes) -> bytes:
    end = _HEADER_END.search(raw)
    return raw[: end.end()] if end else raw


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else _FOLD.sub(" ", str(value)).strip()


def _addresses(message: Message, name: str) -> list[str]:
    header = message.get(name)
    addresses = getattr(header, "addresses", None)
    if addresses:
        return [str(address) for address in addresses]
    return [str(header)] if header else []


def posthorn_message_id(message: Message) -> str | None:
    """The Posthorn message id the send path put in `X-SES-MESSAGE-TAGS`."""
    values = parse_message_tags(_header(message, "X-SES-MESSAGE-TAGS")).get(POSTHORN_MESSAGE_ID_TAG)
    return values[0] if values else None


def summary(message: OutboxMessage) -> dict[str, Any]:
    """`GET /_local/outbox`'s item plus what the page lists: subject, From, To and the Posthorn id."""
    headers = _parse(_header_block(message.raw), headers_only=True)
    return {
        **message.to_summary(),
        "subject": _header(headers, "Subject") or "",
        "from": _addresses(headers, "From"),
        "to": _addresses(headers, "To"),
        "posthorn_message_id": posthorn_message_id(headers),
    }


@dataclass(frozen=True)
class Part:
    """One attachment (or inline part) of a message, decoded."""

    index: int
    filename: str | None
    content_type: str
    disposition: str | None
    content_id: str | None
    data: bytes

    @property
    def safe_content_type(self) -> str:
        """The part's media type when it is a plain `type/subtype`, else application/octet-stream."""
        return self.content_type if _MEDIA_TYPE.fullmatch(self.content_type) else "application/octet-stream"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "filename": self.filename,
            "content_type": self.content_type,
            "disposition": self.disposition,
            "content_id": self.content_id,
            "size": len(self.data),
        }


def _text(part: MIMEPart) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or lying charset: show what can be shown
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _parts(message: EmailMessage, bodies: tuple[MIMEPart | None, ...]) -> list[Part]:
    """Every leaf part that is not the text or HTML body, numbered by its position among the leaves."""
    parts = []
    leaves = (part for part in message.walk() if not part.is_multipart())
    for index, leaf in enumerate(leaves):
        if any(leaf is body for body in bodies):
            continue
        payload = leaf.get_payload(decode=True)
        content_id = leaf.get("Content-ID")
        parts.append(
            Part(
                index=index,
                filename=leaf.get_filename(),
                content_type=leaf.get_content_type(),
                disposition=leaf.get_content_disposition(),
                content_id=str(content_id).strip().strip("<>") if content_id else None,
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts


def _bodies(message: EmailMessage) -> tuple[MIMEPart | None, MIMEPart | None]:
    return message.get_body(("plain",)), message.get_body(("html",))


def part(message: OutboxMessage, index: int) -> Part | None:
    """The attachment at `index` (as listed by `message_view`), or None."""
    parsed = _parse(message.raw)
    return next((p for p in _parts(parsed, _bodies(parsed)) if p.index == index), None)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area"):
            href = dict(attrs).get("href")
            if href:
                self.links.append(href.strip())


def links(html: str | None, text: str | None = None) -> list[str]:
    """The http(s) links of the HTML body (then of the text body), each once, in order."""
    found = []
    if html:
        parser = _Links()
        parser.feed(html)
        parser.close()
        found.extend(parser.links)
    if text:
        found.extend(_TEXT_LINK.findall(text))
    return list(dict.fromkeys(link for link in found if link.lower().startswith(("http://", "https://"))))


def inline_images(html: str, parts: list[Part]) -> str:
    """`html` with `cid:` references to inline image parts replaced by data: URLs (the preview has no other
    way to reach them: it is sandboxed, with an opaque origin)."""
    budget = MAX_INLINE_BYTES
    for inline in parts:
        if not (inline.content_id and inline.content_type.startswith("image/")):
            continue
        if len(inline.data) > budget:
            continue
        budget -= len(inline.data)
        url = f"data:{inline.content_type};base64,{base64.b64encode(inline.data).decode()}"
        html = re.sub(re.escape(f"cid:{inline.content_id}"), url, html, flags=re.IGNORECASE)
    return html


class TrackingSets(NamedTuple):
    """The SES configuration sets that track opens, and those that track clicks (the stack's four sets)."""

    opens: frozenset[str]
    clicks: frozenset[str]


def tracking(configuration_set: str | None, html: str | None, sets: TrackingSets | None) -> dict[str, Any]:
    """Whether SES would report an Open and a Click for this message: its configuration set tracks them,
    and it has an HTML body (SES adds the open pixel and rewrites the links of the HTML part only)."""
    chosen = configuration_set or ""
    has_html = html is not None
    opens = bool(sets and chosen in sets.opens and has_html)
    clicks = bool(sets and chosen in sets.clicks and has_html)
    if not has_html:
        reason = "SES tracks opens and clicks in the HTML body only, and this message has none"
    elif not (opens and clicks):
        missing = " and ".join(
            name for name, on in (("track_opens", opens), ("track_clicks", clicks)) if not on
        )
        reason = f"sent without {missing} (configuration set {chosen or 'none'})"
    else:
        reason = ""
    return {"configuration_set": configuration_set, "opens": opens, "clicks": clicks, "reason": reason}


def message_view(message: OutboxMessage, sets: TrackingSets | None = None) -> dict[str, Any]:
    """The message as the page shows it. `html_preview` is `html` with inline images resolved; `tracking`
    says whether SES would report opens and clicks for it (`sets`: the stack's configuration sets)."""
    parsed = _parse(message.raw)
    text_part, html_part = _bodies(parsed)
    text = _text(text_part) if text_part is not None else None
    html = _text(html_part) if html_part is not None else None
    parts = _parts(parsed, (text_part, html_part))
    return {
        "tracking": tracking(_header(parsed, "X-SES-CONFIGURATION-SET"), html, sets),
        **message.to_summary(),
        "subject": _header(parsed, "Subject") or "",
        "from": _addresses(parsed, "From"),
        "to": _addresses(parsed, "To"),
        "cc": _addresses(parsed, "Cc"),
        "reply_to": _addresses(parsed, "Reply-To"),
        "date": _header(parsed, "Date"),
        "posthorn_message_id": posthorn_message_id(parsed),
        "headers": [{"name": name, "value": _FOLD.sub(" ", str(value))} for name, value in parsed.items()],
        "text": text,
        "html": html,
        "html_preview": inline_images(html, parts) if html is not None else None,
        "links": links(html, text),
        "attachments": [p.to_json() for p in parts],
    }


class PosthornMessages(Protocol):
    """Posthorn's records of many messages at once, as the outbox reads them (`wiring.message_index()`)."""

    def message_records(self, message_ids: list[str]) -> dict[str, MessageRecord]: ...


class MessageDeliveries(Protocol):
    """A message's webhook deliveries (`wiring.webhook_deliveries()`: a scan, for this page only)."""

    def deliveries_of_message(self, message_id: str) -> list[DeliveryRecord]: ...


class Webhooks(Protocol):
    def get_webhook(self, webhook_id: str) -> WebhookRecord | None: ...


def record_view(store: MessageReader, message_id: str) -> dict[str, Any] | None:
    """The Posthorn message as `GET /v1/messages/{id}` answers it, or None. Events are oldest first, and in
    lifecycle order within one millisecond (a Send before its Delivery)."""
    found = store.get_message(message_id)
    if found is None:
        return None
    record, events = found
    view = MessageView.of(record, events)
    return view.model_dump(mode="json")


def webhook_deliveries(
    deliveries: MessageDeliveries, webhooks: Webhooks, message_id: str
) -> list[dict[str, Any]]:
    """The message's webhook deliveries with their attempts, oldest first (a scan: the page is local-only and
    the deployed API lists deliveries per webhook), each with the URL it goes to."""
    found = deliveries.deliveries_of_message(message_id)
    urls: dict[str, str] = {}
    views = []
    for record in sorted(found, key=lambda r: r.created_at):
        if record.webhook_id not in urls:
            webhook = webhooks.get_webhook(record.webhook_id)
            urls[record.webhook_id] = webhook.url if webhook else "(deleted webhook)"
        view = DeliveryView.of(record).model_dump(mode="json")
        views.append({**view, "url": urls[record.webhook_id]})
    return views


# The page's search box and filters: `q` (any words of the subject, addresses, ids, tags or client
# reference), `status`, `tag` and `recipient`.
FILTERS = ("q", "status", "tag", "recipient")


def with_records(items: list[dict[str, Any]], records: dict[str, MessageRecord]) -> list[dict[str, Any]]:
    """Each outbox item with what Posthorn recorded of it: status, tags, metadata, client reference and
    domain."""
    for item in items:
        record = records.get(item["posthorn_message_id"] or "")
        item["status"] = record.status if record else None
        item["tags"] = list(record.tags) if record else []
        item["metadata"] = dict(record.metadata) if record else {}
        item["client_reference"] = record.client_reference if record else None
        item["domain"] = record.domain if record else None
    return items


def filtered(items: list[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]]:
    """The items every given filter keeps (the outbox is development-sized: read in memory)."""
    words = filters.get("q", "").lower().split()
    status, tag = filters.get("status") or None, filters.get("tag") or None
    recipient = (filters.get("recipient") or "").lower() or None

    def keep(item: dict[str, Any]) -> bool:
        addresses = [address.lower() for address in [*item["rcpt_to"], *item["to"]]]
        text = " ".join(
            [
                item["subject"],
                *item["from"],
                *addresses,
                item["id"],
                item["posthorn_message_id"] or "",
                *item["tags"],
                item["client_reference"] or "",
            ]
        ).lower()
        return (
            all(word in text for word in words)
            and (status is None or item["status"] == status)
            and (tag is None or tag in item["tags"])
            and (recipient is None or any(recipient in address for address in addresses))
        )

    return [item for item in items if keep(item)]
