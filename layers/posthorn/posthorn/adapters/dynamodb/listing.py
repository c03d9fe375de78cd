"""The listing index of messages: small items in the base table, under partitions of their own, so every
listing of `GET /v1/messages` is a Query of one partition per domain, newest first, and never a Scan. The
items' layout and their reads (`MessageIndexRepository`) live here, as the suppression list's live in
`suppressions.py`; `messages.py` and `message_events.py` write them.

| partition (pk) | one item per | sort key (sk) |
| --- | --- | --- |
| `LIST#<domain>` | message | `<created_at ms>Z#<message_id>` |
| `LIST#<domain>#R#<address>` | recipient of a message | same |
| `LIST#<domain>#T#<tag>` | tag of a message | same |
| `LIST#<domain>#C#<client_reference>` | message with a client reference | same |
| `LIST#<domain>#S#<status>` | message, under its current status (not for `PATH_STATUSES`) | same |

Write shards: the domain's, a tag's and a status's partitions are written for every message of the domain
(a status's twice: put when a message reaches it, deleted when it leaves), which at a busy domain's rate is
past the about 1,000 write units a second DynamoDB takes per partition key. Each is split over
`LISTING_SHARDS` keys (`models/listing.py`): shard 0 is the key above, shard n > 0 puts the number after
the domain (`LIST#<domain>#<n>`, `LIST#<domain>#<n>#T#<tag>`, `LIST#<domain>#<n>#S#<status>`; a domain
holds no `#`, and kinds are letters, so no value can make one key look like another). A message's items go
to the shard its id hashes to (`listing_shard`), so moving its status deletes the item where it was put. A
listing reads every shard of a domain as a partition of its own and merges them newest first (`pages.py`).
Items written before the shards are on shard 0's key and are still read; the status item of such a message
is put in the message's shard when its status moves, and the old one, which the move no longer deletes, is
skipped by readers as any item left behind is (below) until it expires with its message.

Why items and not global secondary indexes: CloudFormation and DynamoDB create or delete only one GSI per
table update, so five new GSIs could not be added to a deployed stack in one deploy; items under their own
partition keys need no schema change at all and each query gets the key it needs. A page reads `limit`
index items (keys and the message id only) per domain and the messages themselves by BatchGetItem: its cost
depends on the page, not on how many messages the table holds.

Status partitions exist only for the statuses few messages reach (`models/listing.py`, `PATH_STATUSES`):
queued, sent, delivered and opened are listed from the domain's partition, each message's status checked.
Items an older Posthorn wrote under those four statuses are no longer read (nor deleted when their message
moves on): they expire with their message.

The status item moves as events arrive: the write that raises a recipient's status reads the message as it
was (ReturnValues ALL_OLD), so the message status before and after is known, and the move (put the new
status's item, delete the old one's, one BatchWriteItem) follows the event's conditional put. A reader
checks each message's status against the filter, so an item left behind by a race is skipped, never shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from posthorn.adapters.dynamodb.message_items import message_key, message_record
from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, write_shard
from posthorn.models.listing import (
    LISTING_SHARDS,
    SHARDED_KINDS,
    IndexPage,
    Partition,
    has_status_partition,
)
from posthorn.models.messages import MessageChange, MessageRecord

# Sorts after every `#<message_id>` suffix: the upper bound of a time range.
_AFTER_ANY_ID = "#~"


def time_key(moment: datetime) -> str:
    at = moment.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def position(created_at: datetime, message_id: str) -> str:
    return f"{time_key(created_at)}#{message_id}"


def time_bounds(since: datetime | None, until: datetime | None) -> tuple[str, str]:
    """The sort-key range of messages created from `since` to `until` (both included)."""
    lower = time_key(since) if since is not None else "0"
    upper = time_key(until) + _AFTER_ANY_ID if until is not None else "9"
    return lower, upper


_KINDS = {"recipient": "R", "tag": "T", "client_reference": "C", "status": "S"}


def listing_shard(message_id: str) -> int:
    """The write shard of a message's items in the sharded partitions: a stable hash of its id."""
    return write_shard(message_id, LISTING_SHARDS)


def partition(domain: str, kind: str | None = None, value: str | None = None, shard: int = 0) -> str:
    """`kind`: None (every message of the domain), or `recipient`, `tag`, `client_reference`, `status`;
    `shard` only for the kinds that are sharded (`SHARDED_KINDS`)."""
    if shard and kind not in SHARDED_KINDS:
        raise ValueError(f"the {kind} partitions are not sharded")
    base = f"LIST#{domain}" if shard == 0 else f"LIST#{domain}#{shard}"
    if kind is None:
        return base
    if kind == "recipient":
        value = (value or "").lower()
    return f"{base}#{_KINDS[kind]}#{value}"


def partition_key(chosen: Partition) -> str:
    return partition(chosen.domain, chosen.kind, chosen.value, chosen.shard)


def index_items(record: MessageRecord, status: str, ttl: int | None) -> list[dict[str, Any]]:
    """The index items a new message is written with (plain values), each expiring with it (`ttl`)."""
    sk = position(record.created_at, record.message_id)
    shard = listing_shard(record.message_id)
    partitions = [partition(record.domain, shard=shard)]
    if has_status_partition(status):
        partitions.append(partition(record.domain, "status", status, shard))
    partitions += [partition(record.domain, "recipient", state.email) for state in record.recipients]
    partitions += [partition(record.domain, "tag", tag, shard) for tag in dict.fromkeys(record.tags)]
    if record.client_reference:
        partitions.append(partition(record.domain, "client_reference", record.client_reference))
    return [
        {"pk": pk, "sk": sk, "message_id": record.message_id, "ttl": ttl} for pk in dict.fromkeys(partitions)
    ]


def status_item(
    domain: str, status: str, created_at: datetime, message_id: str, ttl: int | None = None
) -> dict[str, Any]:
    return {
        "pk": partition(domain, "status", status, listing_shard(message_id)),
        "sk": position(created_at, message_id),
        "message_id": message_id,
        "ttl": ttl,
    }


def move_status(repository: Repository, message_id: str, change: MessageChange, ttl: int | None) -> None:
    """Put the message's status item for `after` (expiring with the message: `ttl`) and delete `before`'s
    (one BatchWriteItem), each only for a status that has a partition (`has_status_partition`): the move
    along the usual path (queued, sent, delivered, opened) writes nothing."""
    puts = []
    if has_status_partition(change.after):
        puts.append(status_item(change.domain, change.after, change.created_at, message_id, ttl))
    deletes = []
    if change.before != change.after and has_status_partition(change.before):
        before = status_item(change.domain, change.before, change.created_at, message_id)
        deletes.append({"pk": before["pk"], "sk": before["sk"]})
    if puts or deletes:
        repository.write_items(puts, deletes)


class MessageIndexRepository(Repository):
    """The listing's reads (`GET /v1/messages`, the local page): a page of one index partition, and the
    messages its entries name. Written by `messages.py` (a new message's items) and `message_events.py`
    (the status item, as events move it).

    An expired message (`retention.py`) is left out of `message_records`, as an unknown one is: the listing
    skips its entry and reads on, so its pages keep their size and cursors their positions. (A filter on the
    index Query instead would drop entries before the cursor is taken from them: a partition whose next
    entries had all expired would answer the same position again.)"""

    def __init__(self, table: Table, retention: Retention) -> None:
        super().__init__(table)
        self.retention = retention

    def index_page(
        self,
        partition: Partition,
        *,
        after: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> IndexPage:
        lower, upper = time_bounds(since, until)
        return self.newest_first(partition_key(partition), after=after, lower=lower, upper=upper, limit=limit)

    def message_records(self, message_ids: list[str]) -> dict[str, MessageRecord]:
        """The messages (without their events), read 100 at a time; unknown and expired ids are left out."""
        unique = list(dict.fromkeys(message_ids))
        found: dict[str, MessageRecord] = {}
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": [message_key(message_id) for message_id in unique[start : start + 100]]}
            }
            while request:
                answer = self.db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    values = from_item(item)
                    if not self.retention.expired(values):
                        record = message_record(values)
                        found[record.message_id] = record
                request = answer.get("UnprocessedKeys") or {}
        return found
