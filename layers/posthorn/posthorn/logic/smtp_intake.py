"""Accepting a message the SMTP relay received: the client's MIME enters the send path here, with the same
checks, rate limit, file cache, record and send queue as the API's, and the send worker delivers it.

What the relay asks of the store, in order, so that a `250` costs few round trips:
- at MAIL FROM, the sender check (`check_sender`; the relay caches domain records briefly);
- at RCPT TO, the suppression check, one lookup per recipient;
- at the end of DATA, two rounds, each side by side: the duplicate check (`Idempotency-Key` semantics, a
  claim) with the rate limit; then the record with the queue message. The claim is completed after the
  reply is known to be `250`.

A resend of the same message (same credential, same `Message-ID`, same bytes) within the idempotency TTL
answers with the first message id and sends nothing: the claim's key is derived from the Message-ID and a
hash of the bytes. `X-Posthorn-Idempotency-Key` works as the API's `Idempotency-Key` does (same key,
other bytes: refused).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import NamedTuple

from posthorn.errors import UpstreamUnavailable, ValidationFailed
from posthorn.logic import idempotency
from posthorn.logic.attachments import resolve_attachments
from posthorn.logic.ids import new_message_id
from posthorn.logic.rate_limits import enforce
from posthorn.logic.relayed_message import ClientMessage, parse_client_message, read_controls, relayed
from posthorn.logic.sending import NewMessage, check_sender, check_size, new_record
from posthorn.logic.ses_stamp import SesStamp
from posthorn.models.controls import MessageControls
from posthorn.models.credentials import Credential
from posthorn.models.email import MAX_RECIPIENTS, Attachment
from posthorn.models.messages import RecipientType
from posthorn.ports import (
    CachedFiles,
    Clock,
    ConfigurationSets,
    IdempotencyStore,
    MessageRecorder,
    QueuedMessage,
    RateStore,
    SenderDomains,
    SendQueue,
    StoredResponse,
)

# The answer remembered for a claimed message: its id, as the `250` said it.
ACCEPTED = 250
IDEMPOTENCY_HEADER = "X-Posthorn-Idempotency-Key"
FILE_KEY_HEADER = "X-Posthorn-File-Key"


@dataclass(frozen=True)
class IntakeContext:
    messages: MessageRecorder
    queue: SendQueue
    domains: SenderDomains
    rate_limits: RateStore
    idempotency: IdempotencyStore
    clock: Clock
    configuration_sets: ConfigurationSets
    files: CachedFiles | None
    default_rate_per_second: int
    idempotency_ttl_seconds: int
    # Threads for the store calls made side by side (the relay's, so the event loop never waits on them).
    side_by_side: Executor


class Accepted(NamedTuple):
    message_id: str
    replayed: bool  # the same message was accepted before: nothing new was stored or queued
    # Completes the duplicate check once the `250` is certain (None for a replay).
    remember: Callable[[], None] | None = None


class _Claim(NamedTuple):
    scope: str
    fingerprint: str


def recipient_types(message: ClientMessage, rcpt_to: Sequence[str]) -> list[tuple[str, RecipientType]]:
    """The envelope's recipients, each once: `to` or `cc` where the headers name it, else `bcc`."""
    to = {address.lower() for address in message.addresses("to")}
    cc = {address.lower() for address in message.addresses("cc")}
    seen: set[str] = set()
    typed: list[tuple[str, RecipientType]] = []
    for address in rcpt_to:
        key = address.lower()
        if key in seen:
            continue
        seen.add(key)
        typed.append((address, "to" if key in to else "cc" if key in cc else "bcc"))
    if len(typed) > MAX_RECIPIENTS:
        raise ValidationFailed(f"at most {MAX_RECIPIENTS} recipients per message")
    return typed


def check_senders(credential: Credential, message: ClientMessage, domains: SenderDomains) -> str:
    """Every `From:` and `Sender:` address must be the credential's, on a verified domain: the From domain."""
    senders = message.addresses("from")
    if not senders:
        raise ValidationFailed("the message has no From: address")
    for address in [*senders, *message.addresses("sender")]:
        check_sender(credential, address, domains)
    return check_sender(credential, senders[0], domains)


def accept_client_message(
    credential: Credential, rcpt_to: Sequence[str], raw: bytes, context: IntakeContext
) -> Accepted:
    """Store and queue the client's message (its MAIL FROM and each RCPT TO already accepted). Raises the
    domain's errors for a message that cannot be accepted, having stored nothing."""
    message = parse_client_message(raw)
    domain = check_senders(credential, message, context.domains)
    controls = read_controls(message)
    recipients = recipient_types(message, rcpt_to)
    if not recipients:
        raise ValidationFailed("no recipient to send to")

    claim = _claim_for(credential, message, controls.idempotency_key, raw)
    first = _check_duplicate_and_rate(credential, claim, context)
    if first is not None:
        return Accepted(first, replayed=True)
    try:
        message_id = _store_and_queue(credential, message, controls, domain, recipients, context)
    except BaseException:
        if claim is not None:
            context.idempotency.release(claim.scope)
        raise
    if claim is None:
        return Accepted(message_id, replayed=False)

    def remember() -> None:
        expires_at = int(context.clock.now().timestamp()) + context.idempotency_ttl_seconds
        context.idempotency.complete(claim.scope, StoredResponse(ACCEPTED, message_id), expires_at=expires_at)

    return Accepted(message_id, replayed=False, remember=remember)


def _claim_for(credential: Credential, message: ClientMessage, key: str | None, raw: bytes) -> _Claim | None:
    fingerprint = hashlib.sha256(raw).hexdigest()
    if key is not None:
        try:
            return _Claim(idempotency.scope_key(credential.username, key), fingerprint)
        except ValidationFailed:
            raise ValidationFailed.on(IDEMPOTENCY_HEADER, "must be 1-256 printable characters") from None
    message_id = message.first("message-id")
    if not message_id:  # nothing says two such messages are one: no duplicate check
        return None
    digest = hashlib.sha256(f"{message_id.strip()}\n{fingerprint}".encode()).hexdigest()
    return _Claim(idempotency.scope_key(credential.username, f"smtp:{digest}"), fingerprint)


def _check_duplicate_and_rate(
    credential: Credential, claim: _Claim | None, context: IntakeContext
) -> str | None:
    """The first round: the duplicate check and the rate limit, side by side. The first message's id for a
    duplicate (whose rate was taken all the same); raises `RateLimited`, releasing the claim, when over."""
    now = context.clock.now()
    claimed: Future[StoredResponse | None] | None = None
    if claim is not None:
        claimed = context.side_by_side.submit(
            idempotency.begin,
            context.idempotency,
            claim.scope,
            claim.fingerprint,
            now=int(now.timestamp()),
            ttl_seconds=context.idempotency_ttl_seconds,
        )
    rate = credential.rate_limit_per_second or context.default_rate_per_second
    refused: Exception | None = None
    try:
        enforce(
            context.rate_limits, credential.username, rate=rate, count=1, now_us=int(now.timestamp() * 1e6)
        )
    except Exception as error:  # over the rate, or the store failing: either way nothing is accepted
        refused = error
    first = claimed.result() if claimed is not None else None  # IdempotencyConflict: the key is taken
    if first is not None:
        return first.body
    if refused is not None:
        if claim is not None:
            context.idempotency.release(claim.scope)
        raise refused
    return None


def _store_and_queue(
    credential: Credential,
    message: ClientMessage,
    controls: MessageControls,
    domain: str,
    recipients: list[tuple[str, RecipientType]],
    context: IntakeContext,
) -> str:
    """The second round: the record and the queue message, side by side. A record stored whose queue
    message was refused is marked `failed` at once (as a batch does); the client is told to retry."""
    now = context.clock.now()
    message_id = new_message_id(int(now.timestamp() * 1000))
    configuration_set = context.configuration_sets(
        track_opens=controls.track_opens, track_clicks=controls.track_clicks
    )
    stamp = SesStamp(message_id, tags=tuple(controls.tags), configuration_set=configuration_set or None)
    files = [Attachment(file_key=item.file_key, name=item.name) for item in controls.file_keys]
    try:
        parts = resolve_attachments(files, credential, context.files, now, body_bytes=len(message.body))
    except ValidationFailed as refused:
        raise ValidationFailed.on(FILE_KEY_HEADER, refused.message) from None
    raw = relayed(message, controls, stamp, now=now, attachments=parts)
    check_size(len(raw))
    record = new_record(
        NewMessage(
            message_id=message_id,
            credential=credential,
            domain=domain,
            from_email=message.addresses("from")[0],
            subject=message.subject,
            created_at=now,
            stamp=stamp,
            metadata=controls.metadata,
            client_reference=controls.client_reference,
            source="smtp",
        ),
        recipients,
        suppressed=set(),
    )
    stored = context.side_by_side.submit(context.messages.create_message, record)
    unqueued = context.queue.enqueue([QueuedMessage(message_id, raw)])
    stored.result()  # a store that failed raises here: nothing was accepted, the client retries
    if unqueued:
        reason = "the message could not be queued"
        context.messages.mark_failed(message_id, reason, [email for email, _ in recipients])
        raise UpstreamUnavailable(f"{reason}; retry it")
    return message_id
