"""Accepting a batch: every item prepared on its own (the same checks and errors as a single send), then
every accepted message stored and queued in bulk before the answer.

Five hundred messages cost a handful of calls, not thousands: one domain lookup per sending domain, one
suppression lookup per 100 recipients, records written with BatchWriteItem (25 per call) and queue messages
sent with SendMessageBatch (10 per call), several calls at a time. The queue messages are written after the
records, and one that could not be queued is withdrawn (`logic/sending/acceptance.py`): rejected, never sent,
its
record `failed`, so no record waits for a queue message that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from posthorn.errors import PosthornError, UpstreamUnavailable
from posthorn.logic.sending.acceptance import queue_stored
from posthorn.logic.sending.delivery import PreparedMessage
from posthorn.logic.sending.sender_defaults import from_address, with_sender_defaults
from posthorn.logic.sending.steps import SendContext, prepare_message, recipients_of
from posthorn.models.addresses import domain_of
from posthorn.models.batches import BatchItemResult, SendBatchResult
from posthorn.models.credentials import Credential
from posthorn.models.domains import DomainRecord
from posthorn.models.email import SendEmailRequest
from posthorn.models.errors import ApiError, ErrorDetail
from posthorn.models.send_queue import QueuedMessage
from posthorn.ports import SenderDomains, SuppressionLookup


def error_object(error: PosthornError) -> ApiError:
    details = [ErrorDetail.model_validate(detail) for detail in error.details]
    return ApiError(code=error.code, message=error.message, details=details or None)


class BatchRefused(Exception):
    """An all-or-nothing batch (Resend's strict mode) with an item that would be refused: nothing was stored
    or queued. `index` is the first such item, `error` why."""

    def __init__(self, index: int, error: PosthornError) -> None:
        super().__init__(index, error.code)
        self.index = index
        self.error = error


def accept_batch(
    items: Sequence[SendEmailRequest | PosthornError],
    credential: Credential,
    context: SendContext,
    *,
    all_or_nothing: bool = False,
) -> SendBatchResult:
    """`items` are the batch's messages, already validated: a request, or the error that refused it.
    Every accepted message goes to `context.queue`; none is sent here. With `all_or_nothing`, an item
    refused before storage (its sender, every recipient suppressed, its size, ...) raises BatchRefused and
    nothing is stored; a store or queue failure afterwards is still per item (the others are queued by
    then)."""
    if context.queue is None:
        raise ValueError("a batch needs the send queue")
    queue = context.queue
    results: dict[int, BatchItemResult] = {}
    items = [_completed(item, credential) for item in items]
    requests = [item for item in items if isinstance(item, SendEmailRequest)]
    domains = _DomainsOnce(context.domains)
    suppressions = _KnownSuppressions(context.suppressions, _owned_domains(requests, credential, domains))
    suppressions.prefetch(requests)
    item_context = replace(context, suppressions=suppressions, domains=domains)
    prepared: dict[int, PreparedMessage] = {}
    refusals: dict[int, PosthornError] = {}
    for index, item in enumerate(items):
        if isinstance(item, PosthornError):
            results[index] = _rejected(index, item)
            refusals[index] = item
            continue
        try:
            prepared[index] = prepare_message(item, credential, item_context)
        except PosthornError as error:
            results[index] = _rejected(index, error)
            refusals[index] = error
    if all_or_nothing and refusals:
        first = min(refusals)
        raise BatchRefused(first, refusals[first])

    unstored = context.messages.create_messages([message.record for message in prepared.values()])
    refused = queue_stored(
        [QueuedMessage(m.message_id, m.raw) for m in prepared.values() if m.message_id not in unstored],
        context.messages,
        queue,
    )
    for index, message in prepared.items():
        if message.message_id in unstored:
            results[index] = _rejected(
                index, UpstreamUnavailable("the message could not be stored; retry it")
            )
        elif message.message_id in refused:
            results[index] = _rejected(
                index, UpstreamUnavailable("the message could not be queued; retry it")
            )
        else:
            results[index] = BatchItemResult(index=index, status="queued", message_id=message.message_id)
    ordered = [results[index] for index in range(len(items))]
    return SendBatchResult(count=sum(1 for r in ordered if r.status == "queued"), results=ordered)


def _completed(
    item: SendEmailRequest | PosthornError, credential: Credential
) -> SendEmailRequest | PosthornError:
    """The item with the credential's sender defaults (as `prepare_message` gives them), so the batch's
    lookups below see every message's From; a message left without one is refused at its index."""
    if isinstance(item, PosthornError):
        return item
    completed = with_sender_defaults(item, credential)
    try:
        from_address(completed)
    except PosthornError as error:
        return error
    return completed


def _rejected(index: int, error: PosthornError) -> BatchItemResult:
    return BatchItemResult(index=index, status="rejected", error=error_object(error))


def _owned_domains(
    requests: Iterable[SendEmailRequest], credential: Credential, domains: SenderDomains
) -> set[str]:
    owned = set()
    for request in requests:
        domain = domain_of(from_address(request))
        if credential.owns_domain(domain) and domains.get_domain(domain) is not None:
            owned.add(domain)
    return owned


class _DomainsOnce:
    """`SenderDomains` that reads each domain once per batch."""

    def __init__(self, store: SenderDomains) -> None:
        self._store = store
        self._seen: dict[str, DomainRecord | None] = {}

    def get_domain(self, domain: str) -> DomainRecord | None:
        if domain not in self._seen:
            self._seen[domain] = self._store.get_domain(domain)
        return self._seen[domain]


class _KnownSuppressions:
    """A `SuppressionLookup` whose lookups were made for the whole batch at once, per domain."""

    def __init__(self, store: SuppressionLookup, domains: set[str]) -> None:
        self._store = store
        self._domains = domains
        self._suppressed: dict[str, set[str]] = {}

    def prefetch(self, requests: Iterable[SendEmailRequest]) -> None:
        wanted: dict[str, set[str]] = {domain: set() for domain in self._domains}
        for request in requests:
            domain = domain_of(from_address(request))
            if domain in wanted:
                wanted[domain].update(recipient.email.lower() for recipient, _ in recipients_of(request))
        for domain, emails in wanted.items():
            found = self._store.suppressed_addresses(domain, sorted(emails))
            self._suppressed[domain] = {email.lower() for email in found}

    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        if domain not in self._suppressed:
            return self._store.suppressed_addresses(domain, emails)
        return {email for email in emails if email.lower() in self._suppressed[domain]}
