"""Messages (`MSG#<message_id>` / `MSG`), their recipients, and their events (`EVT#<event_key>` under the
same key; `UNMATCHED#<ses id>` for events of a message Posthorn does not know).

A message item holds its recipients as a map keyed by lower-cased address, so one query returns a
message with its recipients and events, and one conditional update changes a recipient's status.
Each recipient carries its status's rank; an update only applies when it raises the rank, so a late or
repeated event never lowers a status. The message status is not stored: it is a function of the
recipients' statuses (`message_status`), computed on every read, so it can never disagree with them.

Each message also has listing index items (`listing.py`), written right after it, and its status item
moved as its status changes; a new event raises the hourly counters (`stats.py`) right after the
conditional put that stores it once. (Not transactions: see `stats.py`. A crash between the writes leaves
an event uncounted or a status item behind until the message's status changes again; the listing's
readers check every message's status, so a stale item is skipped, and the backfill script rewrites them.)

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
from posthorn.adapters.dynamodb.stats import add_counts
from posthorn.adapters.dynamodb.table import Repository, from_item, storable, to_item
from posthorn.logic.events.recipient_status import message_status, rank
from posthorn.logic.guard.pausing import hour_of
from posthorn.models.events import RecipientEvent
from posthorn.models.listing import IndexPage, Partition
from posthorn.models.messages import MessageChange, MessageRecord, RecipientState
from posthorn.models.send_queue import SendClaim

UNMATCHED_TTL_SECONDS = 30 * 24 * 3600


def message_key(message_id: str) -> dict[str, Any]:
    return to_item({"pk": f"MSG#{message_id}", "sk": "MSG"})


def _message_item(record: MessageRecord) -> dict[str, Any]:
    values = record.model_dump(mode="json", exclude={"recipients", "status"})
    recipients = {
        state.email.lower(): {**state.model_dump(), "rank": rank(state.status), "position": position}
        for position, state in enumerate(record.recipients)
    }
    return to_item({"pk": f"MSG#{record.message_id}", "sk": "MSG", **values, "recipients": recipients})


def _suppressed_count(record: MessageRecord) -> dict[str, int]:
    suppressed = sum(1 for state in record.recipients if state.status == "suppressed")
    return {"suppressed": suppressed} if suppressed else {}


class MessageRepository(Repository):
    # --- messages ----------------------------------------------------------------------------------
    def create_message(self, record: MessageRecord) -> None:
        """The message (conditional: ids are new), then its listing index items and the count of the
        recipients it leaves out. An index item that could not be written leaves a listing gap only."""
        self.db.put_item(
            TableName=self.table, Item=_message_item(record), ConditionExpression="attribute_not_exists(pk)"
        )
        status = message_status(state.status for state in record.recipients).value
        self.write_items(listing.index_items(record, status))
        add_counts(self, record.domain, record.tags, hour_of(record.created_at), _suppressed_count(record))

    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        """BatchWriteItem in chunks of 25, several chunks at once; unprocessed items are retried with backoff.
        (No condition: BatchWriteItem takes none, and message ids are new random ids.) Returns the ids of
        the messages that could not be stored. Each message's listing index items go in the same chunks; one
        that could not be written after the retries leaves only a listing gap (an index item of a message
        that was not stored is skipped by readers)."""
        items: list[dict[str, Any]] = []
        for record in records:
            status = message_status(state.status for state in record.recipients).value
            items.append(_message_item(record))
            items += [to_item(item) for item in listing.index_items(record, status)]
        chunks = [items[start : start + 25] for start in range(0, len(items), 25)]
        if not chunks:
            return set()
        failed: set[str] = set()
        for unstored in side_by_side().map(self._write_chunk, chunks):
            failed |= unstored
        counts: dict[tuple[str, str, tuple[str, ...]], int] = {}
        for record in records:
            if record.message_id not in failed and (suppressed := _suppressed_count(record)):
                key = (record.domain, hour_of(record.created_at), tuple(record.tags))
                counts[key] = counts.get(key, 0) + suppressed["suppressed"]
        for (domain, hour, tags), amount in counts.items():
            self._count(domain, list(tags), hour, {"suppressed": amount})
        return failed

    def _count(self, domain: str, tags: list[str], hour: str, counts: dict[str, int]) -> None:
        add_counts(self, domain, tags, hour, counts)

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
        record = _message_record(from_item(response["Attributes"]))
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
                return SendClaim("done", _message_record(values))
            return SendClaim("busy", busy_for=max(0.0, (values["sending_until_ms"] - now_ms) / 1000))
        return SendClaim("claimed", _message_record(from_item(response["Attributes"])))

    def release_claim(self, message_id: str) -> None:
        self.db.update_item(
            TableName=self.table,
            Key=message_key(message_id),
            UpdateExpression="REMOVE sending_until_ms",
            ConditionExpression="attribute_exists(pk)",
        )

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        self.advance_recipients(
            message_id,
            statuses,
            fields={"ses_message_id": ses_message_id, "gsi1pk": f"SES#{ses_message_id}", "gsi1sk": "MSG"},
        )

    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None:
        self.advance_recipients(message_id, dict.fromkeys(emails, "failed"), fields={"error": reason})

    def mark_suppressed(self, message_id: str, emails: Iterable[str]) -> None:
        self.advance_recipients(message_id, dict.fromkeys(emails, "suppressed"))

    def advance_recipients(
        self, message_id: str, statuses: dict[str, str], fields: dict[str, Any] | None = None
    ) -> bool:
        """Raise recipients' statuses (never lower them) and set `fields`; move the message's status item
        and count the recipients Posthorn failed or suppressed. False for an unknown message."""
        change = self._advance(message_id, statuses, fields or {})
        if change is None:
            return False
        if change.before != change.after:
            self._move_status(message_id, change)
        terminal = {
            status: sum(1 for email in change.moved if statuses.get(email) == status)
            for status in ("failed", "suppressed")
        }
        self._count(
            change.domain, change.tags, hour_of(datetime.now(UTC)), {k: v for k, v in terminal.items() if v}
        )
        return True

    def advance_for_event(self, message_id: str, recipient: str, status: str) -> MessageChange | None:
        """Raise one recipient's status for an event; what the event's transaction (`put_event`) needs to
        know of the message: its domain, tags, status before and after. None for an unknown message."""
        return self._advance(message_id, {recipient: status}, {})

    def _advance(
        self, message_id: str, statuses: dict[str, str], fields: dict[str, Any]
    ) -> MessageChange | None:
        """One conditional update covers every recipient when all of them move up, the usual case. When the
        condition fails, DynamoDB hands back the item as it is (ReturnValuesOnConditionCheckFailure), so a
        single late event costs one call; with several recipients or fields, each part is then applied on
        its own condition. The update returns the item as it was (ALL_OLD), from which the message status
        before and after follows."""
        applied, old = self._update_recipients(message_id, statuses, fields)
        if old is None:
            return None
        if applied:
            return _change(old, statuses, moved=set(statuses))
        if not (fields or len(statuses) > 1):
            return _change(old, {}, moved=set())
        if fields:
            self._update_recipients(message_id, {}, fields)
        moved = set()
        for email, status in statuses.items():
            one_applied, _ = self._update_recipients(message_id, {email: status}, {})
            if one_applied:
                moved.add(email)
        return _change(old, {email: statuses[email] for email in moved}, moved=moved)

    def _move_status(self, message_id: str, change: MessageChange) -> None:
        """Put the message's status item for `after` and delete `before`'s (one BatchWriteItem)."""
        after = listing.status_item(change.domain, change.after, change.created_at, message_id)
        deletes = []
        if change.before != change.after:
            before = listing.status_item(change.domain, change.before, change.created_at, message_id)
            deletes.append({"pk": before["pk"], "sk": before["sk"]})
        self.write_items([after], deletes)

    def _update_recipients(
        self, message_id: str, statuses: dict[str, str], fields: dict[str, Any]
    ) -> tuple[bool, dict[str, Any] | None]:
        """One conditional update: whether it was applied, and the message as it was (None: no message)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        updates: list[str] = []
        conditions = ["attribute_exists(pk)"]
        if statuses:
            names.update({"#s": "status", "#k": "rank"})
        for index, (email, status) in enumerate(statuses.items()):
            names[f"#r{index}"] = email.lower()
            values[f":s{index}"] = status
            values[f":k{index}"] = rank(status)
            updates += [f"recipients.#r{index}.#s = :s{index}", f"recipients.#r{index}.#k = :k{index}"]
            conditions.append(f"recipients.#r{index}.#k < :k{index}")
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = value
            updates.append(f"#f{index} = :f{index}")
        if not updates:
            item = self.db.get_item(TableName=self.table, Key=message_key(message_id)).get("Item")
            return False, from_item(item) if item is not None else None
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=message_key(message_id),
                UpdateExpression="SET " + ", ".join(updates),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.db.exceptions.ConditionalCheckFailedException as failed:
            item = failed.response.get("Item")
            return False, from_item(item) if item is not None else None
        return True, from_item(response["Attributes"])

    def message_statuses(self, message_ids: Iterable[str]) -> dict[str, str]:
        """The status of each known message, read 100 at a time (recipients only, not the events)."""
        unique = list(dict.fromkeys(message_ids))
        found: dict[str, str] = {}
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [message_key(message_id) for message_id in unique[start : start + 100]],
                    "ProjectionExpression": "message_id, recipients",
                }
            }
            while request:
                answer = self.db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    values = from_item(item)
                    recipients = values.get("recipients", {}).values()
                    found[str(values["message_id"])] = message_status(r["status"] for r in recipients).value
                request = answer.get("UnprocessedKeys") or {}
        return found

    def get_message_record(self, message_id: str) -> MessageRecord | None:
        """The message's record alone (one GetItem: its events are not read)."""
        item = self.db.get_item(TableName=self.table, Key=message_key(message_id)).get("Item")
        return _message_record(from_item(item)) if item is not None else None

    def get_message(self, message_id: str) -> tuple[MessageRecord, list[dict[str, Any]]] | None:
        """The message with its recipients (in request order) and its stored events."""
        items = self.query_all(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues=to_item({":p": f"MSG#{message_id}"})
        )
        message = next((item for item in items if item["sk"] == "MSG"), None)
        if message is None:
            return None
        events = [item for item in items if item["sk"].startswith("EVT#")]
        return _message_record(message), events

    # --- the listing ---------------------------------------------------------------------------------
    def index_page(
        self,
        partition: Partition,
        *,
        after: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> IndexPage:
        lower, upper = listing.time_bounds(since, until)
        return self.newest_first(
            listing.partition_key(partition), after=after, lower=lower, upper=upper, limit=limit
        )

    def message_records(self, message_ids: list[str]) -> dict[str, MessageRecord]:
        """The messages (without their events), read 100 at a time; unknown ids are left out."""
        unique = list(dict.fromkeys(message_ids))
        found: dict[str, MessageRecord] = {}
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": [message_key(message_id) for message_id in unique[start : start + 100]]}
            }
            while request:
                answer = self.db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    record = _message_record(from_item(item))
                    found[record.message_id] = record
                request = answer.get("UnprocessedKeys") or {}
        return found

    # --- events ------------------------------------------------------------------------------------
    def message_id_for_ses(self, ses_message_id: str) -> str | None:
        response = self.db.query(
            TableName=self.table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk = :s",
            ExpressionAttributeValues=to_item({":p": f"SES#{ses_message_id}", ":s": "MSG"}),
            ProjectionExpression="message_id",
        )
        items = response.get("Items", [])
        return str(from_item(items[0])["message_id"]) if items else None

    def put_event(
        self,
        message_id: str,
        event: RecipientEvent,
        change: MessageChange | None = None,
        counts: dict[str, int] | None = None,
    ) -> bool:
        """Store an event once: False when the same event (same key) is already there. A new one then adds
        `counts` to the counters of the message's domain and tags for the event's hour, and moves the
        message's status item when `change` moved its status."""
        if not self._put_once(f"MSG#{message_id}", event, ttl=None):
            return False
        if change is not None:
            if counts:
                add_counts(self, change.domain, change.tags, hour_of(event.timestamp), counts)
            if change.before != change.after:
                self._move_status(message_id, change)
        return True

    @staticmethod
    def _event_item(pk: str, event: RecipientEvent, *, ttl: int | None) -> dict[str, Any]:
        return {
            "pk": pk,
            "sk": f"EVT#{event.event_key}",
            "type": event.type.value,
            "timestamp": event.timestamp.isoformat(),
            "recipient": event.recipient,
            "details": storable(event.details),
            "ses_message_id": event.ses_message_id,
            "origin": event.origin,
            "ttl": ttl,
        }

    def put_unmatched_event(self, event: RecipientEvent, *, now: int) -> bool:
        """Keep an event for a message Posthorn does not know, where an operator can query it."""
        return self._put_once(f"UNMATCHED#{event.ses_message_id}", event, ttl=now + UNMATCHED_TTL_SECONDS)

    def _put_once(self, pk: str, event: RecipientEvent, *, ttl: int | None) -> bool:
        item = self._event_item(pk, event, ttl=ttl)
        try:
            self.db.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(sk)"
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _change(old: dict[str, Any], applied: dict[str, str], *, moved: set[str]) -> MessageChange:
    """What an update did to a message, from the item as it was and the statuses it applied."""
    recipients = old.get("recipients", {})
    before = message_status(r["status"] for r in recipients.values()).value
    after_statuses = {address: r["status"] for address, r in recipients.items()}
    after_statuses.update({email.lower(): status for email, status in applied.items()})
    after = message_status(after_statuses.values()).value
    return MessageChange(
        domain=str(old.get("domain") or ""),
        tags=list(old.get("tags") or []),
        created_at=datetime.fromisoformat(str(old["created_at"])),
        before=before,
        after=after,
        moved=frozenset(moved),
    )


def _message_record(values: dict[str, Any]) -> MessageRecord:
    """A stored message item → its record, recipients in request order, status derived from theirs."""
    recipients = sorted(values.pop("recipients", {}).values(), key=lambda r: r["position"])
    states = [RecipientState.model_validate(r) for r in recipients]
    return MessageRecord.model_validate(
        {**values, "recipients": states, "status": message_status(state.status for state in states).value}
    )
