"""Sending one message, as steps any entry point can take: the sender check, the suppression check, the
record and SES's stamp (`logic/sending/ses_stamp.py`) serve every message however it came in; building the
MIME
(`prepare_message`) is the JSON API's own step, as a client of the SMTP relay brings its own MIME.
`deliver` (`logic/sending/delivery.py`) is the SMTP transaction and its outcome on the record.

The message and its recipients are stored before the SMTP transaction, so a message SES accepted always
has a record; the record is then updated with SES's message id or the reason it failed. When SES stays
unavailable for the request's budget, `send_email` hands the stored message to the send queue instead
(202 `queued`); the send worker delivers it later with the same `deliver`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from typing import NamedTuple

from posthorn.errors import (
    AllRecipientsSuppressed,
    DeliveryUnavailable,
    DomainNotVerified,
    DomainPaused,
    PayloadTooLarge,
    SenderNotAllowed,
    UpstreamUnavailable,
)
from posthorn.logic.files.attachments import resolve_attachments
from posthorn.logic.ids import new_message_id
from posthorn.logic.sending.acceptance import queue_stored
from posthorn.logic.sending.delivery import PreparedMessage, deliver
from posthorn.logic.sending.mime import Mailbox, MessageContent, build_message
from posthorn.logic.sending.sender_defaults import from_address, with_sender_defaults
from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.logic.sending.templating import render_fields
from posthorn.models.addresses import domain_of
from posthorn.models.credentials import Credential
from posthorn.models.email import Recipient, SendEmailRequest
from posthorn.models.messages import (
    MessageRecord,
    MessageSource,
    RecipientState,
    RecipientType,
    SendResult,
)
from posthorn.models.raw_message import MAX_MESSAGE_BYTES
from posthorn.models.send_queue import QueuedMessage
from posthorn.ports import (
    CachedFiles,
    Clock,
    ConfigurationSets,
    MailTransport,
    MessageRecorder,
    SenderDomains,
    SendQueue,
    SuppressionLookup,
)


@dataclass(frozen=True)
class SendContext:
    """The adapters and settings sending needs: one per warm process (`posthorn.wiring.send_context`)."""

    messages: MessageRecorder
    suppressions: SuppressionLookup
    domains: SenderDomains
    transport: MailTransport
    # Where a stored message waits when SES is briefly unavailable (None: answer 503 instead).
    queue: SendQueue | None
    clock: Clock
    configuration_sets: ConfigurationSets
    budget_seconds: float
    # The file cache, for attachments given by file_key (without it, a file_key is unknown).
    files: CachedFiles | None = None


# --- the steps every message takes ---------------------------------------------------------------------
def check_sender(credential: Credential, from_email: str, domains: SenderDomains) -> str:
    """The sending domain, if this credential may send from it, it is verified and the deliverability guard
    has not paused it."""
    domain = domain_of(from_email)
    if not credential.owns_domain(domain):
        raise SenderNotAllowed(f"this credential may not send from {domain}")
    record = domains.get_domain(domain)
    if record is None or not record.verified:
        raise DomainNotVerified(
            f"{domain} is not verified yet: publish its DNS records (GET /v1/domains/{domain})"
        )
    if record.paused:
        raise DomainPaused(
            f"sending from {domain} is paused by the deliverability guard ({record.paused_reason});"
            f" an admin resumes it with POST /v1/domains/{domain}/resume"
        )
    return domain


def check_suppressions(domain: str, emails: Sequence[str], suppressions: SuppressionLookup) -> set[str]:
    """The recipients suppressed for `domain` (as given); raises when that is every one of them."""
    suppressed = suppressions.suppressed_addresses(domain, emails)
    if len(suppressed) == len(emails):
        raise AllRecipientsSuppressed("every recipient is on the suppression list for " + domain)
    return suppressed


class NewMessage(NamedTuple):
    """What a message's record says beyond its recipients, whichever entry point accepted it."""

    message_id: str
    credential: Credential
    domain: str
    from_email: str
    subject: str
    created_at: datetime
    stamp: SesStamp
    metadata: dict[str, str]
    client_reference: str | None = None
    source: MessageSource = "api"


def new_record(
    message: NewMessage, recipients: Iterable[tuple[str, RecipientType]], suppressed: set[str]
) -> MessageRecord:
    """The record stored before SES sees the message: each recipient `queued`, or `suppressed`."""
    states = [
        RecipientState(email=email, type=kind, status="suppressed" if email in suppressed else "queued")
        for email, kind in recipients
    ]
    return MessageRecord(
        message_id=message.message_id,
        username=message.credential.username,
        domain=message.domain,
        from_email=message.from_email,
        subject=message.subject,
        status="queued",
        created_at=message.created_at,
        recipients=states,
        tags=list(message.stamp.tags),
        metadata=message.metadata,
        client_reference=message.client_reference,
        configuration_set=message.stamp.configuration_set,
        source=message.source,
    )


def check_size(size: int) -> None:
    if size > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"the encoded message is {size} bytes; SES accepts at most {MAX_MESSAGE_BYTES}")


# --- the JSON API's message ------------------------------------------------------------------------------
def recipients_of(request: SendEmailRequest) -> list[tuple[Recipient, RecipientType]]:
    """Every distinct address once, in request order; the first of to/cc/bcc that names it wins."""
    seen: set[str] = set()
    result: list[tuple[Recipient, RecipientType]] = []
    groups: list[tuple[list[Recipient], RecipientType]] = [
        (request.to, "to"),
        (request.cc, "cc"),
        (request.bcc, "bcc"),
    ]
    for group, kind in groups:
        for recipient in group:
            key = recipient.email.lower()
            if key not in seen:
                seen.add(key)
                result.append((recipient, kind))
    return result


def prepare_message(
    request: SendEmailRequest, credential: Credential, context: SendContext
) -> PreparedMessage:
    """Everything before SES: raises the API's errors for a message that cannot be sent; stores nothing.
    A message without From or Reply-To gets the credential's sender defaults here, whichever route built
    it."""
    request = with_sender_defaults(request, credential)
    from_email = from_address(request)
    domain = check_sender(credential, from_email, context.domains)
    fields = {"subject": request.subject, "body_text": request.body_text, "body_html": request.body_html}
    if request.template_data is not None:
        fields = render_fields(fields, request.template_data, html_fields={"body_html"})

    recipients = [(recipient.email, kind) for recipient, kind in recipients_of(request)]
    suppressed = check_suppressions(domain, [email for email, _ in recipients], context.suppressions)

    now = context.clock.now()
    message_id = new_message_id(int(now.timestamp() * 1000))
    body_bytes = sum(len(body.encode()) for body in (fields["body_text"], fields["body_html"]) if body)
    attachments = resolve_attachments(
        request.attachments, credential, context.files, now, body_bytes=body_bytes
    )
    configuration_set = context.configuration_sets(
        track_opens=request.track_opens, track_clicks=request.track_clicks
    )
    stamp = SesStamp(message_id, tags=tuple(request.tags), configuration_set=configuration_set or None)
    content = MessageContent(
        message_id=message_id,
        sender=Mailbox(from_email, request.from_name),
        to=[Mailbox(r.email, r.name) for r in request.to],
        cc=[Mailbox(r.email, r.name) for r in request.cc],
        reply_to=Mailbox(request.reply_to_email, request.reply_to_name) if request.reply_to_email else None,
        subject=fields["subject"] or "",
        date=now,
        text=fields["body_text"],
        html=fields["body_html"],
        headers=request.headers,
        attachments=attachments,
        list_unsubscribe=request.list_unsubscribe,
        one_click_unsubscribe=request.has_one_click_unsubscribe,
        stamp=stamp,
    )
    raw = build_message(content)
    check_size(len(raw))
    message = NewMessage(
        message_id=message_id,
        credential=credential,
        domain=domain,
        from_email=from_email,
        subject=content.subject,
        created_at=now,
        stamp=stamp,
        metadata=request.metadata,
        client_reference=request.client_reference,
    )
    return PreparedMessage(record=new_record(message, recipients, suppressed), raw=raw)


def send_email(request: SendEmailRequest, credential: Credential, context: SendContext) -> SendResult:
    deadline = monotonic() + context.budget_seconds
    # Send now; if SES stays unavailable for the budget, queue the stored message (status `queued`).
    prepared = prepare_message(request, credential, context)
    context.messages.create_message(prepared.record)
    try:
        return deliver(prepared, context.transport, context.messages, deadline=deadline)
    except DeliveryUnavailable as unavailable:
        queue = context.queue
        queued = QueuedMessage(prepared.message_id, prepared.raw)
        reason = f"SES unavailable: {unavailable}"
        if queue is not None and not queue_stored([queued], context.messages, queue, reason=reason):
            return prepared.result("queued")
        if queue is None:
            context.messages.mark_failed(prepared.message_id, reason, prepared.deliverable)
        raise UpstreamUnavailable(f"SES is unavailable; the message was not sent: {unavailable}") from None
