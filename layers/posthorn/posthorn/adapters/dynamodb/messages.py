"""Messages on the send path (`MSG#<message_id>` / `MSG`, the item of `message_items.py`): stored when
accepted, claimed by a send worker, marked sent, failed or suppressed, withdrawn, and read back one at a
time with their events. SES's events on them are `message_events.py`'s; the listing's pages `listing.py`'s.

Each message also has listing index items (`listing.py`), written right after it, and its status item
moved as its status changes; the recipients it fails or suppresses raise the hourly counters (`stats.py`).
(Not transactions: see `stats.py`. A crash between the writes leaves a status item behind until the
message's status changes again; the listing's readers check every message's status, so a stale item is
skipped, and the backfill script rewrites them.)

A queued message also carries `sending_until_ms` while a send worker holds it (`claim_for_sending`), so two
deliveries of the same queue message never run two SMTP transactions at once, and one whose SES id is
recorded is never sent again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from posthorn.adapters.aws import side_by_side
from posthorn.adapters.dynamodb import listing
from posthorn.adapters.dynamodb.message_items import (
    advance,
    inline_events,
    message_item,
    message_key,
    message_record,
    read_record,
    ses_pointer,
)
from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.stats import add_counts, add_to_shard, counter_shard
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, to_item
from posthorn.logic.events.recipient_status import message_status
from posthorn.logic.guard.pausing import hour_of
from posthorn.models.messages import MessageRecord
from posthorn.models.send_queue import SendClaim


def send_events(message: dict[str, Any], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `send` events of the recipients the send path recorded as sent (`sent_to`, at `sent_at`), as an
    event item holds them, but for those whose SES Send event is stored anyway (it came first, or the
    message was sent by an older Posthorn). `sent_at` is when SES's answer was written, a little after SES
    took the message: a send is never shown after an event of its recipient that SES reported earlier."""
    if not message.get("sent_at"):
        return []
    seen = {str(event.get("recipient", "")).lower() for event in stored if event.get("type") == "send"}
    sent_at = datetime.fromisoformat(str(message["sent_at"]))
    events = []
    for email in message.get("sent_to") or []:
        if str(email).lower() in seen:
            continue
        later = [
            datetime.fromisoformat(str(event["timestamp"]))
            for event in stored
            if str(event.get("recipient", "")).lower() == str(email).lower() and event.get("timestamp")
        ]
        at = min([sent_at, *later])
        events.append(
            {
                "type": "send",
                "timestamp": at.isoformat(),
                "recipient": email,
                "details": {},
                "ses_message_id": message.get("ses_message_id"),
                "origin": "send",
            }
        )
    return events


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _suppressed_count(record: MessageRecord) -> dict[str, int]:
    suppressed = sum(1 for state in record.recipients if state.status == "suppressed")
    return {"suppressed": suppressed} if suppressed else {}


class MessageRepository(Repository):
    """`MessageRecorder`, `DeliveryRecorder`, `SendClaims`, `MessageRecords` and `MessageReader`. Every item
    it writes for a message expires with the message (`retention`)."""

    def __init__(self, table: Table, retention: Retention) -> None:
        super().__init__(table)
        self.retention = retention

    def create_message(self, record: MessageRecord) -> None:
        """The message (conditional: ids are new), then its listing index items and the count of the
        recipients it leaves out. An index item that could not be written leaves a listing gap only."""
        ttl = self.retention.ttl(record.created_at)
        self.db.put_item(
            TableName=self.table,
            Item=message_item(record, ttl),
            ConditionExpression="attribute_not_exists(pk)",
        )
        status = message_status(state.status for state in record.recipients).value
        self.write_items(listing.index_items(record, status, ttl))
        add_counts(
            self,
            record.domain,
            record.tags,
            hour_of(record.created_at),
            _suppressed_count(record),
            message_id=record.message_id,
        )

    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        """BatchWriteItem in chunks of 25, several chunks at once; unprocessed items are retried with backoff.
        (No condition: BatchWriteItem takes none, and message ids are new random ids.) Returns the ids of
        the messages that could not be stored. Each message's listing index items go in the same chunks; one
        that could not be written after the retries leaves only a listing gap (an index item of a message
        that was not stored is skipped by readers)."""
        items: list[dict[str, Any]] = []
        for record in records:
            status = message_status(state.status for state in record.recipients).value
            ttl = self.retention.ttl(record.created_at)
            items.append(message_item(record, ttl))
            items += [to_item(item) for item in listing.index_items(record, status, ttl)]
        chunks = [items[start : start + 25] for start in range(0, len(items), 25)]
        if not chunks:
            return set()
        failed: set[str] = set()
        for unstored in side_by_side().map(self._write_chunk, chunks):
            failed |= unstored
        counts: dict[tuple[str, str, tuple[str, ...], int], int] = {}
        for record in records:
            if record.message_id not in failed and (suppressed := _suppressed_count(record)):
                key = (
                    record.domain,
                    hour_of(record.created_at),
                    tuple(record.tags),
                    counter_shard(record.message_id),
                )
                counts[key] = counts.get(key, 0) + suppressed["suppressed"]
        for (domain, hour, tags, shard), amount in counts.items():
            add_to_shard(self, domain, list(tags), hour, {"suppressed": amount}, shard=shard)
        return failed

    def discard_message(self, message_id: str) -> None:
        """Delete a record written for a message that was then not accepted; never one SES has."""
        try:
            self.db.delete_item(
                TableName=self.table,
                Key=message_key(message_id),
                ConditionExpression="attribute_not_exists(ses_message_id)",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return

    def withdraw(self, message_id: str, reason: str) -> bool:
        """Take back a stored message whose queue message may or may not exist (its write failed, or timed
        out): one conditional write that wins only while no send worker has ever claimed it. True: it will
        never be sent (a worker that gets its queue message later finds it withdrawn), and its recipients say
        `failed` with `reason`; False: a worker has it (or SES has it), so it is accepted after all."""
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=message_key(message_id),
                UpdateExpression="SET withdrawn_at = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(first_claimed_ms)"
                    " AND attribute_not_exists(ses_message_id)"
                ),
                ExpressionAttributeValues=to_item({":now": int(time.time() * 1000)}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.db.exceptions.ConditionalCheckFailedException as failed:
            # No record at all: nothing a worker could send either.
            return failed.response.get("Item") is None
        record = message_record(from_item(response["Attributes"]))
        queued = [state.email for state in record.recipients if state.status == "queued"]
        self.mark_failed(message_id, reason, queued)
        return True

    def _write_chunk(self, items: list[dict[str, Any]], attempts: int = 6) -> set[str]:
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(attempts):
            try:
                response = self.db.batch_write_item(RequestItems={self.table: pending})
            except (BotoCoreError, ClientError):
                response = {"UnprocessedItems": {self.table: pending}}
            pending = response.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return set()
            time.sleep(min(1.0, 0.05 * 2**attempt))
        return {
            request["PutRequest"]["Item"]["message_id"]["S"]
            for request in pending
            if request["PutRequest"]["Item"]["sk"]["S"] == "MSG"
        }

    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        now_ms = int(now * 1000)
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=message_key(message_id),
                UpdateExpression=(
                    "SET sending_until_ms = :until, first_claimed_ms = if_not_exists(first_claimed_ms, :now)"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(ses_message_id)"
                    " AND attribute_not_exists(withdrawn_at)"
                    " AND (attribute_not_exists(sending_until_ms) OR sending_until_ms < :now)"
                ),
                ExpressionAttributeValues=to_item(
                    {":until": now_ms + int(lease_seconds * 1000), ":now": now_ms}
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.db.exceptions.ConditionalCheckFailedException as failed:
            item = failed.response.get("Item")
            if item is None:
                return SendClaim("missing")
            values = from_item(item)
            if values.get("ses_message_id") or values.get("withdrawn_at"):
                return SendClaim("done", message_record(values))
            return SendClaim("busy", busy_for=max(0.0, (values["sending_until_ms"] - now_ms) / 1000))
        return SendClaim("claimed", message_record(from_item(response["Attributes"])))

    def release_claim(self, message_id: str) -> None:
        self.db.update_item(
            TableName=self.table,
            Key=message_key(message_id),
            UpdateExpression="REMOVE sending_until_ms",
            ConditionExpression="attribute_exists(pk)",
        )

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        """Record SES's id (which ends every claim) and the recipients' statuses, with the recipients SES
        took (`sent_to`) and when (`sent_at`): their `sent` counts are added here, once (the update raises
        each recipient once), and their SES Send events need no item and no count of their own
        (`logic/events/recording.py`; the timeline shows a `send` event made from these two fields). Then,
        for a message sent without a configuration set, the pointer from SES's id to the message
        (`message_items.py`), for SES's notifications that carry no tags. (Not one transaction: a crash
        between the writes leaves such a notification unmatched, kept for operators, or the sends
        uncounted.)"""
        sent_to = [email for email, status in statuses.items() if status == "sent"]
        fields = {"ses_message_id": ses_message_id, "sent_to": sent_to, "sent_at": _now_iso()}
        self._advance(message_id, statuses, fields, ses_message_id=ses_message_id)

    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None:
        self.advance_recipients(message_id, dict.fromkeys(emails, "failed"), fields={"error": reason})

    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        self.advance_recipients(message_id, dict.fromkeys(emails, "suppressed"))

    def advance_recipients(
        self, message_id: str, statuses: dict[str, str], fields: dict[str, Any] | None = None
    ) -> bool:
        """Raise recipients' statuses (never lower them) and set `fields`; move the message's status item
        and count the recipients Posthorn failed or suppressed. False for an unknown message."""
        return self._advance(message_id, statuses, fields or {})

    def _advance(
        self,
        message_id: str,
        statuses: dict[str, str],
        fields: dict[str, Any],
        *,
        ses_message_id: str | None = None,
    ) -> bool:
        change = advance(self, message_id, statuses, fields)
        if change is None:
            return False
        if ses_message_id is not None and change.configuration_set is None:
            pointer = ses_pointer(ses_message_id, message_id, self.retention.ttl(change.created_at))
            self.db.put_item(TableName=self.table, Item=pointer)
        if change.before != change.after:
            listing.move_status(self, message_id, change, self.retention.ttl(change.created_at))
        # Counted here: what Posthorn decided (failed, suppressed) and, from `mark_sent`, what SES took.
        counted = ("failed", "suppressed", "sent") if ses_message_id is not None else ("failed", "suppressed")
        counts = {
            status: sum(1 for email in change.moved if statuses.get(email) == status) for status in counted
        }
        add_counts(
            self,
            change.domain,
            change.tags,
            hour_of(datetime.now(UTC)),
            {k: v for k, v in counts.items() if v},
            message_id=message_id,
        )
        return True

    def get_message_record(self, message_id: str) -> MessageRecord | None:
        return read_record(self, message_id)

    def get_message(self, message_id: str) -> tuple[MessageRecord, list[dict[str, Any]]] | None:
        """The message with its recipients (in request order) and its events: those stored, and a `send`
        event for each recipient `mark_sent` recorded whose SES Send event is not stored (`send_events`);
        None for an unknown message and for an expired one (`retention.py`: DynamoDB may not have deleted it
        yet)."""
        items = self.query_all(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues=to_item({":p": f"MSG#{message_id}"})
        )
        message = next((item for item in items if item["sk"] == "MSG"), None)
        if message is None or self.retention.expired(message):
            return None
        events = [item for item in items if item["sk"].startswith("EVT#")] + inline_events(message)
        return message_record(message), events + send_events(message, events)
