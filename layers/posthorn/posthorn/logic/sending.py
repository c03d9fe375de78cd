"""Sending one message: `prepare_message` (sender checks, templating, suppression, MIME, the record) and
`deliver` (the SMTP transaction and its outcome on the record, in `logic/delivery.py`).

The message and its recipients are stored before the SMTP transaction, so a message SES accepted always
has a record; the record is then updated with SES's message id or the reason it failed. When SES stays
unavailable for the request's budget, `send_email` hands the stored message to the send queue instead
(202 `queued`); the send worker delivers it later with the same `deliver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic

from posthorn.errors import (
    AllRecipientsSuppressed,
    DomainNotVerified,
    PayloadTooLarge,
    SenderNotAllowed,
    UpstreamUnavailable,
)
from posthorn.logic.attachments import resolve_attachments
from posthorn.logic.delivery import PreparedMessage, deliver
from posthorn.logic.ids import new_message_id
from posthorn.logic.mime import MAX_MESSAGE_BYTES, Envelope, Mailbox, build_message
from posthorn.logic.ports import (
    CachedFiles,
    Clock,
    DeliveryUnavailable,
    DomainStore,
    MailTransport,
    MessageStore,
    QueuedMessage,
    SendQueue,
)
from posthorn.logic.templating import render_fields
from posthorn.models.addresses import domain_of
from posthorn.models.credentials import Credential
from posthorn.models.email import RESERVED_TAG, Recipient, SendEmailRequest
from posthorn.models.messages import MessageRecord, RecipientState, RecipientType, SendResult


@dataclass(frozen=True)
class SendContext:
    """The adapters and settings one send needs."""

    messages: MessageStore
    domains: DomainStore
    transport: MailTransport
    # Where a stored message waits when SES is briefly unavailable (None: answer 503 instead).
    queue: SendQueue | None
    clock: Clock
    configuration_set: str
    budget_seconds: float
    # The file cache, for attachments given by file_key (without it, a file_key is unknown).
    files: CachedFiles | None = None


def check_sender(credential: Credential, from_email: str, domains: DomainStore) -> str:
    domain = domain_of(from_email)
    if not credential.owns_domain(domain):
        raise SenderNotAllowed(f"this credential may not send from {domain}")
    record = domains.get_domain(domain)
    if record is None or not record.verified:
        raise DomainNotVerified(
            f"{domain} is not verified yet: publish its DNS records (GET /v1/domains/{domain})"
        )
    return domain


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


def send_email(request: SendEmailRequest, credential: Credential, context: SendContext) -> SendResult:
    deadline = monotonic() + context.budget_seconds
    # Send now; if SES stays unavailable for the budget, queue the stored message (status `queued`).
    prepared = prepare_message(request, credential, context)
    context.messages.create_message(prepared.record)
    try:
        return deliver(prepared, context.transport, context.messages, deadline=deadline)
    except DeliveryUnavailable as unavailable:
        queue = context.queue
        if queue is not None and not queue.enqueue([QueuedMessage(prepared.message_id, prepared.raw)]):
            return prepared.result("queued")
        reason = f"SES unavailable: {unavailable}"
        context.messages.mark_failed(prepared.message_id, reason, prepared.deliverable)
        raise UpstreamUnavailable(f"SES is unavailable; the message was not sent: {unavailable}") from None


def prepare_message(
    request: SendEmailRequest, credential: Credential, context: SendContext
) -> PreparedMessage:
    """Everything before SES: raises the API's errors for a message that cannot be sent; stores nothing."""
    domain = check_sender(credential, request.from_email, context.domains)
    fields = {"subject": request.subject, "body_text": request.body_text, "body_html": request.body_html}
    if request.template_data is not None:
        fields = render_fields(fields, request.template_data, html_fields={"body_html"})

    recipients = recipients_of(request)
    suppressed = context.messages.suppressed_addresses(domain, [r.email for r, _ in recipients])
    if len(suppressed) == len(recipients):
        raise AllRecipientsSuppressed("every recipient is on the suppression list for " + domain)

    now = context.clock.now()
    message_id = new_message_id(int(now.timestamp() * 1000))
    body_bytes = sum(len(body.encode()) for body in (fields["body_text"], fields["body_html"]) if body)
    attachments = resolve_attachments(
        request.attachments, credential, context.files, now, body_bytes=body_bytes
    )
    envelope = Envelope(
        message_id=message_id,
        sender=Mailbox(request.from_email, request.from_name),
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
        ses_tags={RESERVED_TAG: message_id, **{tag: "true" for tag in request.tags}},
        configuration_set=context.configuration_set or None,
    )
    raw = build_message(envelope)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"the encoded message is {len(raw)} bytes; SES accepts at most {MAX_MESSAGE_BYTES}"
        )

    states = [
        RecipientState(email=r.email, type=kind, status="suppressed" if r.email in suppressed else "queued")
        for r, kind in recipients
    ]
    record = MessageRecord(
        message_id=message_id,
        username=credential.username,
        domain=domain,
        from_email=request.from_email,
        subject=envelope.subject,
        status="queued",
        created_at=now,
        recipients=states,
        tags=request.tags,
        metadata=request.metadata,
        client_reference=request.client_reference,
        configuration_set=envelope.configuration_set,
    )
    return PreparedMessage(record=record, raw=raw)
