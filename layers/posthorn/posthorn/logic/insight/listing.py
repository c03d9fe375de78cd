"""`GET /v1/messages` and `GET /v1/suppressions`: which index partitions a listing reads, and its pages.

A listing reads the index that narrows it most (client reference, then recipient, then tag, then status,
else every message of the domain), each write shard of it of each domain of the credential
(`models/listing.py`) as a partition of its own merged newest first, and checks every other
filter on the messages it fetched. Such a page reads at most `READ_ROUNDS` x `limit` index entries, so a
page may hold fewer than `limit` messages while `next_cursor` says there are more: its cost stays bounded
(docs/api.md, "Messages and events": `next_cursor` is null only on the last page).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import NamedTuple

from posthorn.logic.events.suppressions import scope
from posthorn.logic.insight.cursors import Positions, decode_cursor, encode_cursor
from posthorn.logic.insight.pages import merged_page
from posthorn.models.credentials import Credential
from posthorn.models.listing import (
    LISTING_SHARDS,
    SHARDED_KINDS,
    IndexPage,
    Partition,
    has_status_partition,
)
from posthorn.models.messages import MessageRecord
from posthorn.models.suppressions import Suppression
from posthorn.ports import MessageIndex, SuppressionIndex

READ_ROUNDS = 3


class MessageFilters(NamedTuple):
    status: str | None = None
    recipient: str | None = None
    tag: str | None = None
    client_reference: str | None = None
    from_email: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None


def _scope_text(route: str, filters: tuple[object, ...]) -> str:
    """What a cursor is bound to besides the caller: the route and its filters."""
    text = json.dumps([route, *[str(value) if value is not None else None for value in filters]])
    return hashlib.sha256(text.encode()).hexdigest()


def _positions(key: bytes, credential: Credential, scope_text: str, cursor: str | None) -> Positions:
    return {} if cursor is None else decode_cursor(key, credential.username, scope_text, cursor)


def message_partitions(domains: list[str], filters: MessageFilters) -> list[Partition]:
    """The index partitions a listing reads: the index that narrows it most, every write shard of it of
    every domain. A status without a partition of its own (`PATH_STATUSES`) is checked on the messages."""
    chosen: tuple[str | None, str | None] = (None, None)
    status = filters.status if filters.status is not None and has_status_partition(filters.status) else None
    for kind, value in (
        ("client_reference", filters.client_reference),
        ("recipient", filters.recipient),
        ("tag", filters.tag),
        ("status", status),
    ):
        if value is not None:
            chosen = (kind, value)
            break
    shards = range(LISTING_SHARDS) if chosen[0] in SHARDED_KINDS else range(1)
    return [Partition(domain, *chosen, shard) for domain in domains for shard in shards]


def matches(record: MessageRecord, filters: MessageFilters, domains: list[str]) -> bool:
    """The filters every listed message meets, whichever index found it (and never another tenant's)."""
    checks = [
        record.domain in domains,
        filters.status is None or record.status == filters.status,
        filters.recipient is None
        or filters.recipient.lower() in {state.email.lower() for state in record.recipients},
        filters.tag is None or filters.tag in record.tags,
        filters.client_reference is None or record.client_reference == filters.client_reference,
        filters.from_email is None or record.from_email.lower() == filters.from_email.lower(),
        filters.source is None or record.source == filters.source,
        filters.since is None or record.created_at >= filters.since,
        filters.until is None or record.created_at <= filters.until,
    ]
    return all(checks)


def list_messages(
    credential: Credential,
    filters: MessageFilters,
    *,
    limit: int,
    cursor: str | None,
    index: MessageIndex,
    key: bytes,
) -> tuple[list[MessageRecord], str | None]:
    """A page of the credential's messages, newest first, and the cursor of the next (None: the last)."""
    domains = scope(credential, None)
    # The shard count is part of what a cursor is bound to: its positions are by partition, so a cursor
    # from before a change of the count is refused (422) rather than misread.
    scope_text = _scope_text(f"messages/{LISTING_SHARDS}", tuple(filters))
    positions = _positions(key, credential, scope_text, cursor)
    partitions = message_partitions(domains, filters)

    def fetch(partition: Partition, after: str | None, count: int) -> IndexPage:
        return index.index_page(partition, after=after, since=filters.since, until=filters.until, limit=count)

    found: list[MessageRecord] = []
    done = False
    for _ in range(READ_ROUNDS):
        entries, positions, done = merged_page(fetch, partitions, positions, limit - len(found))
        records = index.message_records([str(values["message_id"]) for _, values in entries])
        for _, values in entries:
            record = records.get(str(values["message_id"]))
            if record is not None and matches(record, filters, domains):
                found.append(record)
        if done or len(found) >= limit:
            break
    next_cursor = None if done else encode_cursor(key, credential.username, scope_text, positions)
    return found, next_cursor


class SuppressionFilters(NamedTuple):
    domain: str | None = None
    reason: str | None = None
    since: datetime | None = None


def list_suppressions(
    credential: Credential,
    filters: SuppressionFilters,
    *,
    limit: int,
    cursor: str | None,
    index: SuppressionIndex,
    key: bytes,
) -> tuple[list[Suppression], str | None]:
    """A page of the suppression list of the credential's domains (or one of them), newest first."""
    domains = scope(credential, filters.domain)
    scope_text = _scope_text("suppressions", tuple(filters))
    positions = _positions(key, credential, scope_text, cursor)
    partitions = [
        Partition(domain, "reason" if filters.reason else None, filters.reason) for domain in domains
    ]

    def fetch(partition: Partition, after: str | None, count: int) -> IndexPage:
        return index.suppression_page(partition, after=after, since=filters.since, limit=count)

    entries, positions, done = merged_page(fetch, partitions, positions, limit)
    found = [Suppression.model_validate(values) for _, values in entries]
    next_cursor = None if done else encode_cursor(key, credential.username, scope_text, positions)
    return found, next_cursor
