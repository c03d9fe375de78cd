"""Accepting a message the SMTP relay received: the client's MIME enters the send path here, with the same
checks, rate limit, file cache, record and send queue as the API's, and the send worker delivers it.

The store's round trips a `250` waits for: none at MAIL FROM and RCPT TO when the relay's caches answer
(domain records, small suppression lists; `smtp_relay/lookups.py`), and two at the end of DATA: the
duplicate check (a claim with `Idempotency-Key` semantics), the rate limit and the record side by side, then
the queue message (`logic/sending/acceptance.py`: nothing the send worker could pick up exists before every
check
has passed, so a message its client is refused is never sent). A relay that dies between the queue write
and its reply leaves at worst a message sent that was not acknowledged, the at-least-once window the API
has too; never one acknowledged and lost.

A resend of the same message (same credential, same `Message-ID`, same envelope recipients and bytes but for
`Date`) within the idempotency TTL answers with the first message id and sends nothing: the claim's key is
derived from the Message-ID and `fingerprint`. `X-Posthorn-Idempotency-Key` works as the API's
`Idempotency-Key` does (same key, another message: refused).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from time import monotonic
from typing import NamedTuple, TypeVar

from posthorn.errors import IdempotencyConflict, IdempotencyInFlight, UpstreamUnavailable, ValidationFailed
from posthorn.logic.files.attachments import resolve_attachments
from posthorn.logic.ids import new_message_id
from posthorn.logic.sending import idempotency
from posthorn.logic.sending.acceptance import queue_stored
from posthorn.logic.sending.rate_limits import enforce
from posthorn.logic.sending.ses_stamp import SesStamp
from posthorn.logic.sending.steps import NewMessage, check_sender, check_size, check_suppressions, new_record
from posthorn.logic.submission.relayed_message import (
    ClientMessage,
    parse_client_message,
    read_controls,
    relayed,
)
from posthorn.models.addresses import normalize_address
from posthorn.models.controls import MessageControls
from posthorn.models.credentials import Credential
from posthorn.models.email import MAX_RECIPIENTS, Attachment
from posthorn.models.idempotency import StoredResponse
from posthorn.models.messages import MessageRecord, RecipientType
from posthorn.models.send_queue import QueuedMessage
from posthorn.ports import (
    CachedFiles,
    Clock,
    ConfigurationSets,
    IdempotencyStore,
    MessageRecorder,
    RateStore,
    SenderDomains,
    SendQueue,
    SuppressionLookup,
)

# The answer remembered for a claimed message: its id, as the `250` said it.
ACCEPTED = 250
IDEMPOTENCY_HEADER = "X-Posthorn-Idempotency-Key"
# The longest the relay waits for its round of writes before it answers 4xx instead. The send worker waits
# longer than this before it drops a queue message whose record is missing (`queue_drain`).
WRITE_DEADLINE_SECONDS = 20.0
FILE_KEY_HEADER = "X-Posthorn-File-Key"


@dataclass(frozen=True)
class IntakeContext:
    messages: MessageRecorder
    queue: SendQueue
    domains: SenderDomains
    # Read at the end of DATA for the From: domain (RCPT TO was checked against MAIL FROM's).
    suppressions: SuppressionLookup
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
    """The client's message is stored and queued (the relay answers `250 ... queued as <message_id>`)."""

    message_id: str
    replayed: bool  # the same message was accepted before: nothing new was stored or queued


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
        check_recipient(address)
        key = address.lower()
        if key in seen:
            continue
        seen.add(key)
        typed.append((address, "to" if key in to else "cc" if key in cc else "bcc"))
    if len(typed) > MAX_RECIPIENTS:
        raise ValidationFailed(f"at most {MAX_RECIPIENTS} recipients per message")
    return typed


def check_recipient(address: str) -> str:
    """An envelope recipient is an address as the API's `to` takes it (ValidationFailed otherwise)."""
    try:
        return normalize_address(address)
    except ValueError as invalid:
        raise ValidationFailed.on("RCPT TO", str(invalid)) from None


def check_senders(credential: Credential, message: ClientMessage, domains: SenderDomains) -> str:
    """Every `From:` and `Sender:` address must be the credential's, on a verified domain: the From domain."""
    senders = message.addresses("from")
    if not senders:
        raise ValidationFailed("the message has no From: address")
    checked = []
    for field, address in [
        *(("From", a) for a in senders),
        *(("Sender", a) for a in message.addresses("sender")),
    ]:
        try:  # the API's rules for `from_email`: the From address is the envelope sender SES gets
            normalize_address(address)
        except ValueError as invalid:
            raise ValidationFailed.on(field, str(invalid)) from None
        checked.append(check_sender(credential, address, domains))
    return checked[0]


def accept_client_message(
    credential: Credential, rcpt_to: Sequence[str], raw: bytes | bytearray, context: IntakeContext
) -> Accepted:
    """Store and queue the client's message (its MAIL FROM and each RCPT TO already accepted). Raises the
    domain's errors for a message that cannot be accepted, leaving nothing stored."""
    message = parse_client_message(raw)
    domain = check_senders(credential, message, context.domains)
    controls = read_controls(message)
    recipients = recipient_types(message, rcpt_to)
    if not recipients:
        raise ValidationFailed("no recipient to send to")
    claim = _claim_for(credential, message, controls.idempotency_key, fingerprint(message, recipients))
    # The From: domain's suppression list (RCPT TO was answered from MAIL FROM's, which may be another).
    suppressed = check_suppressions(domain, [address for address, _ in recipients], context.suppressions)
    prepared = _prepare(credential, message, controls, domain, recipients, suppressed, context)

    # First round, side by side (on threads of the intake's own: those that run the intake must never wait
    # for a thread of their pool): the duplicate claim, the rate and the record. Nothing a send worker could
    # see is written yet, so a refusal here sends nothing (`logic/sending/acceptance.py`).
    now = context.clock.now()
    pool = context.side_by_side
    claimed = pool.submit(_begin, claim, context, int(now.timestamp())) if claim is not None else None
    rated = pool.submit(_take_rate, credential, context, int(now.timestamp() * 1_000_000))
    stored = pool.submit(context.messages.create_message, prepared.record)
    deadline = monotonic() + WRITE_DEADLINE_SECONDS
    first, claim_error = _outcome(claimed, deadline)
    _, rate_error = _outcome(rated, deadline)
    _, store_error = _outcome(stored, deadline)
    refusal = claim_error or rate_error or store_error
    if first is None and refusal is None:
        # Second round: the queue message (or the message withdrawn where that write failed) and, side by
        # side, the duplicate claim completed with this message's id, so a resend finds it whenever it comes.
        remembered = (
            pool.submit(_remember, claim, prepared.message_id, context) if claim is not None else None
        )
        refused = queue_stored([prepared.queued], context.messages, context.queue)
        _outcome(remembered, monotonic() + WRITE_DEADLINE_SECONDS)  # not remembered: its lease runs out
        if not refused:
            return Accepted(prepared.message_id, replayed=False)
        refusal = UpstreamUnavailable("the message could not be queued; retry it")
    elif stored.done():  # never queued: its record goes (even when its write raised: it may have landed)
        _discard(prepared, context)
    else:  # still under way: it goes when it lands
        stored.add_done_callback(lambda _: _discard(prepared, context))

    if claim is not None and claim_error is None and first is None:
        _quietly(lambda: context.idempotency.release(claim.scope))
    if first is not None:
        return Accepted(first.body, replayed=True)
    assert refusal is not None
    raise refusal


def _quietly(undo: Callable[[], None]) -> None:
    """An undo that fails leaves its lease or its `failed` record behind; the refusal stands."""
    with contextlib.suppress(Exception):  # the client is answered with the refusal either way
        undo()


class _Prepared(NamedTuple):
    message_id: str
    record: MessageRecord
    queued: QueuedMessage


def _prepare(
    credential: Credential,
    message: ClientMessage,
    controls: MessageControls,
    domain: str,
    recipients: list[tuple[str, RecipientType]],
    suppressed: set[str],
    context: IntakeContext,
) -> _Prepared:
    """The record and the queue message, nothing written yet."""
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
        header = message.control_header("file_keys") or FILE_KEY_HEADER
        raise ValidationFailed.on(header, refused.message) from None
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
        suppressed=suppressed,
    )
    return _Prepared(message_id, record, QueuedMessage(message_id, raw))


def _begin(claim: _Claim, context: IntakeContext, now: int) -> StoredResponse | None:
    try:
        return idempotency.begin(
            context.idempotency,
            claim.scope,
            claim.fingerprint,
            now=now,
            ttl_seconds=context.idempotency_ttl_seconds,
        )
    except IdempotencyInFlight:  # said in the relay's words: the client may have sent no key at all
        raise IdempotencyInFlight(
            "the same message is still being accepted on another connection; retry shortly"
        ) from None
    except IdempotencyConflict:
        raise IdempotencyConflict(
            f"this {IDEMPOTENCY_HEADER} was used with another message (other recipients or content)"
        ) from None


def _take_rate(credential: Credential, context: IntakeContext, now_us: int) -> None:
    rate = credential.rate_limit_per_second or context.default_rate_per_second
    enforce(context.rate_limits, credential.username, rate=rate, count=1, now_us=now_us)


Result = TypeVar("Result")


def _outcome(future: Future[Result] | None, deadline: float) -> tuple[Result | None, Exception | None]:
    """What a write answered, or the error it raised; a write still unanswered at `deadline` counts as
    failed (it may land later: the message is then sent although its client was told 4xx, never lost)."""
    if future is None:
        return None, None
    try:
        return future.result(timeout=max(0.0, deadline - monotonic())), None
    except TimeoutError:
        return None, UpstreamUnavailable("the store did not answer in time; retry")
    except Exception as error:
        return None, error


def _discard(prepared: _Prepared, context: IntakeContext) -> None:
    """The record of a message never queued goes; where even that fails, it says it failed (best effort:
    no queue message points at it, so it is never sent either way)."""
    try:
        context.messages.discard_message(prepared.message_id)
    except Exception:
        reason = "not accepted: the relay answered its client with a refusal or a temporary failure"
        emails = [recipient.email for recipient in prepared.record.recipients]
        _quietly(lambda: context.messages.mark_failed(prepared.message_id, reason, emails))


def _remember(claim: _Claim, message_id: str, context: IntakeContext) -> None:
    expires_at = int(context.clock.now().timestamp()) + context.idempotency_ttl_seconds
    context.idempotency.complete(claim.scope, StoredResponse(ACCEPTED, message_id), expires_at=expires_at)


# Header fields a client's library writes anew on every try (Python's email, Nodemailer, PHPMailer): a resend
# of the same message differs in them, so the duplicate check does not read them (the Message-ID is the
# duplicate key itself when no X-Posthorn-Idempotency-Key is given).
REWRITTEN_ON_RETRY = frozenset({"date", "message-id"})


def fingerprint(message: ClientMessage, recipients: Sequence[tuple[str, RecipientType]]) -> str:
    """What makes two messages the same one: the envelope's recipients (a resend to other recipients, like
    the rest of a 51-recipient message sent after `452 4.5.3`, is another message) and the bytes, but for
    the fields a client writes anew on every try."""
    digest = hashlib.sha256()
    digest.update("\n".join(sorted(address.lower() for address, _ in recipients)).encode() + b"\0")
    for field in message.fields:
        if field.key not in REWRITTEN_ON_RETRY:
            digest.update(field.raw)
    digest.update(b"\0")
    digest.update(message.body)
    return digest.hexdigest()


def _claim_for(
    credential: Credential, message: ClientMessage, key: str | None, body_fingerprint: str
) -> _Claim | None:
    if key is not None:
        try:
            return _Claim(idempotency.scope_key(credential.username, key), body_fingerprint)
        except ValidationFailed:
            header = message.control_header("idempotency_key") or IDEMPOTENCY_HEADER
            raise ValidationFailed.on(header, "must be 1-256 printable characters") from None
    message_id = message.first("message-id")
    if not message_id:  # nothing says two such messages are one: no duplicate check
        return None
    digest = hashlib.sha256(f"{message_id.strip()}\n{body_fingerprint}".encode()).hexdigest()
    return _Claim(idempotency.scope_key(credential.username, f"smtp:{digest}"), body_fingerprint)
