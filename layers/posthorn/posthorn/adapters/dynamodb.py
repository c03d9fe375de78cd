"""Where DynamoDB is read and written. One table, keys designed for the API's reads:

| item         | pk                  | sk                | gsi1pk / gsi1sk                      |
|--------------|---------------------|-------------------|--------------------------------------|
| credential   | CRED#<username>     | CRED              | CREDENTIALS / <created_at>#<username> |
| domain       | DOMAIN#<domain>     | DOMAIN            |                                      |
| message      | MSG#<message_id>    | MSG               | SES#<ses_message_id> / MSG           |
| rate / pace  | RATE#<key>          | RATE              |                       (ttl: 1 d idle) |
| event        | MSG#<message_id>    | EVT#<event_key>   |                                      |
| suppression  | SUPP#<domain>       | <address>         |                                      |
| unmatched    | UNMATCHED#<ses id>  | EVT#<event_key>   |                       (ttl: 30 d)    |
| idempotency  | IDEM#<scope>        | IDEM              |                       (ttl: 24 h)    |
| cached file  | FILE#<file_key>     | FILE              |                 (ttl: its expires_at) |
| shared blob  | BLOB#<owner>#<sha256> | BLOB            |       (ttl: latest expiry; `refs` count) |

A message item holds its recipients as a map keyed by lower-cased address, so one query returns a
message with its recipients and events, and one conditional update changes a recipient's status.
Each recipient carries its status's rank; an update only applies when it raises the rank, so a late or
repeated event never lowers a status. The message status is not stored: it is a function of the
recipients' statuses (`message_status`), computed on every read, so it can never disagree with them.

A queued message also carries `sending_until_ms` while a send worker holds it (`claim_for_sending`), so two
deliveries of the same queue message never run two SMTP transactions at once, and one whose SES id is
recorded is never sent again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from posthorn.adapters.aws import client, side_by_side
from posthorn.logic.idempotency import IdempotencyRecord, StoredResponse
from posthorn.logic.ports import SendClaim
from posthorn.logic.recipient_status import message_status, rank
from posthorn.models.credentials import Credential, CredentialStatus
from posthorn.models.domains import DomainRecord
from posthorn.models.events import RecipientEvent
from posthorn.models.files import FileRecord, FileStatus
from posthorn.models.messages import MessageRecord, RecipientState
from posthorn.models.suppressions import Suppression

UNMATCHED_TTL_SECONDS = 30 * 24 * 3600
RATE_IDLE_TTL_SECONDS = 24 * 3600

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int, the rest float."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


def message_key(message_id: str) -> dict[str, Any]:
    return to_item({"pk": f"MSG#{message_id}", "sk": "MSG"})


def _message_item(record: MessageRecord) -> dict[str, Any]:
    values = record.model_dump(mode="json", exclude={"recipients", "status"})
    recipients = {
        state.email.lower(): {**state.model_dump(), "rank": rank(state.status), "position": position}
        for position, state in enumerate(record.recipients)
    }
    return to_item({"pk": f"MSG#{record.message_id}", "sk": "MSG", **values, "recipients": recipients})


class _Table:
    """The one table, and a DynamoDB client made on first use (or the one given, in tests and scripts)."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table = table_name
        self._client = dynamodb

    @property
    def db(self) -> Any:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client


class DynamoStore(_Table):
    """Credentials, domains, messages, suppressions, idempotency keys and rate buckets: the one table."""

    # --- credentials -------------------------------------------------------------------------------
    def get_credential(self, username: str) -> Credential | None:
        item = self.db.get_item(TableName=self.table, Key=to_item({"pk": f"CRED#{username}", "sk": "CRED"}))
        return Credential.model_validate(from_item(item["Item"])) if "Item" in item else None

    def put_credential(self, credential: Credential) -> None:
        values = credential.model_dump(mode="json")
        created = values["created_at"]
        self.db.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "pk": f"CRED#{credential.username}",
                    "sk": "CRED",
                    "gsi1pk": "CREDENTIALS",
                    "gsi1sk": f"{created}#{credential.username}",
                    **values,
                }
            ),
        )

    def list_credentials(self) -> list[Credential]:
        paginator = self.db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=to_item({":p": "CREDENTIALS"}),
        )
        return [Credential.model_validate(from_item(item)) for page in pages for item in page["Items"]]

    def set_credential_status(self, username: str, status: CredentialStatus) -> Credential | None:
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=to_item({"pk": f"CRED#{username}", "sk": "CRED"}),
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item({":s": status.value}),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return Credential.model_validate(from_item(response["Attributes"]))

    # --- domains -----------------------------------------------------------------------------------
    def get_domain(self, domain: str) -> DomainRecord | None:
        item = self.db.get_item(TableName=self.table, Key=to_item({"pk": f"DOMAIN#{domain}", "sk": "DOMAIN"}))
        return DomainRecord.model_validate(from_item(item["Item"])) if "Item" in item else None

    def put_domain(self, record: DomainRecord) -> None:
        self.db.put_item(
            TableName=self.table,
            Item=to_item({"pk": f"DOMAIN#{record.domain}", "sk": "DOMAIN", **record.model_dump(mode="json")}),
        )

    # --- messages ----------------------------------------------------------------------------------
    def create_message(self, record: MessageRecord) -> None:
        self.db.put_item(
            TableName=self.table, Item=_message_item(record), ConditionExpression="attribute_not_exists(pk)"
        )

    def create_messages(self, records: list[MessageRecord]) -> set[str]:
        """BatchWriteItem in chunks of 25, several chunks at once; unprocessed items are retried with backoff.
        (No condition: BatchWriteItem takes none, and message ids are new random ids.) Returns the ids of
        the messages that could not be stored."""
        items = [_message_item(record) for record in records]
        chunks = [items[start : start + 25] for start in range(0, len(items), 25)]
        if not chunks:
            return set()
        failed: set[str] = set()
        for unstored in side_by_side().map(self._write_chunk, chunks):
            failed |= unstored
        return failed

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
        return {request["PutRequest"]["Item"]["message_id"]["S"] for request in pending}

    def claim_for_sending(self, message_id: str, *, now: float, lease_seconds: float) -> SendClaim:
        now_ms = int(now * 1000)
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=message_key(message_id),
                UpdateExpression="SET sending_until_ms = :until",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(ses_message_id)"
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
            if values.get("ses_message_id"):
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
        """Raise recipients' statuses (never lower them) and set `fields`. False for an unknown message.

        One conditional update covers every recipient when all of them move up, the usual case. When the
        condition fails, DynamoDB hands back the item as it is (ReturnValuesOnConditionCheckFailure), so a
        single late event costs one call; with several recipients or fields, each part is then applied on
        its own condition. A successful update returns nothing (the item can be large: every recipient,
        tags, metadata; moto serializing it was ~40% of an event's cost)."""
        fields = fields or {}
        moved, exists = self._update_recipients(message_id, statuses, fields)
        if not moved and exists and (fields or len(statuses) > 1):
            if fields:
                self._update_recipients(message_id, {}, fields)
            for email, status in statuses.items():
                self._update_recipients(message_id, {email: status}, {})
        return exists

    def _update_recipients(
        self, message_id: str, statuses: dict[str, str], fields: dict[str, Any]
    ) -> tuple[bool, bool]:
        """One conditional update: (whether it was applied, whether the message exists)."""
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
            item = self.db.get_item(
                TableName=self.table, Key=message_key(message_id), ProjectionExpression="pk"
            )
            return False, "Item" in item
        try:
            self.db.update_item(
                TableName=self.table,
                Key=message_key(message_id),
                UpdateExpression="SET " + ", ".join(updates),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.db.exceptions.ConditionalCheckFailedException as failed:
            return False, "Item" in failed.response
        return True, True

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
        found = self.get_message(message_id)
        return found[0] if found else None

    def get_message(self, message_id: str) -> tuple[MessageRecord, list[dict[str, Any]]] | None:
        """The message with its recipients (in request order) and its stored events."""
        paginator = self.db.get_paginator("query")
        items = [
            from_item(item)
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues=to_item({":p": f"MSG#{message_id}"}),
            )
            for item in page["Items"]
        ]
        message = next((item for item in items if item["sk"] == "MSG"), None)
        if message is None:
            return None
        events = [item for item in items if item["sk"].startswith("EVT#")]
        return _message_record(message), events

    # --- rate buckets ------------------------------------------------------------------------------
    # `RateStore`: a GCRA timestamp per key (rate limits, send pacing), moved by conditional writes so that
    # every instance shares it. Two cases, each one atomic update: the bucket is idle (`tat` absent or in
    # the past: start from now), or busy (`tat` ahead of now: add the cost to it, unless `tat` is beyond
    # the latest start allowed). A race between the two cases is retried.
    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        item_key = to_item({"pk": f"RATE#{key}", "sk": "RATE"})
        ttl = (now_us + cost_us) // 1_000_000 + RATE_IDLE_TTL_SECONDS
        for _ in range(20):
            try:
                self.db.update_item(
                    TableName=self.table,
                    Key=item_key,
                    UpdateExpression="SET tat = :tat, #ttl = :ttl",
                    ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues=to_item(
                        {":tat": now_us + cost_us, ":now": now_us, ":ttl": ttl}
                    ),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return True, now_us + cost_us
            except self.db.exceptions.ConditionalCheckFailedException as failed:
                current = int(from_item(failed.response["Item"])["tat"])
            if latest_start_us is not None and current > latest_start_us:
                return False, current
            condition = "tat > :now" + (" AND tat <= :latest" if latest_start_us is not None else "")
            values: dict[str, Any] = {":cost": cost_us, ":now": now_us, ":ttl": ttl}
            if latest_start_us is not None:
                values[":latest"] = latest_start_us
            try:
                response = self.db.update_item(
                    TableName=self.table,
                    Key=item_key,
                    UpdateExpression="SET tat = tat + :cost, #ttl = :ttl",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues=to_item(values),
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return True, int(from_item(response["Attributes"])["tat"])
            except self.db.exceptions.ConditionalCheckFailedException as failed:
                current = int(from_item(failed.response["Item"])["tat"])
            if current > now_us and latest_start_us is not None and current > latest_start_us:
                return False, current
        raise RuntimeError(f"rate bucket {key} kept changing under contention")

    # --- suppressions ------------------------------------------------------------------------------
    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        wanted = {email.lower(): email for email in emails}
        if not wanted:
            return set()
        found: set[str] = set()
        keys = [to_item({"pk": f"SUPP#{domain}", "sk": address}) for address in wanted]
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + 100], "ProjectionExpression": "sk"}
            }
            while request:
                response = self.db.batch_get_item(RequestItems=request)
                found.update(from_item(item)["sk"] for item in response["Responses"].get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
        return {wanted[address] for address in found}

    def add_suppression(self, entry: Suppression) -> bool:
        """Suppress an address for a domain; the first reason recorded is kept. True when it is new."""
        try:
            self.db.put_item(
                TableName=self.table,
                Item=to_item(
                    {"pk": f"SUPP#{entry.domain}", "sk": entry.email.lower(), **entry.model_dump(mode="json")}
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_suppression(self, domain: str, email: str) -> Suppression | None:
        item = self.db.get_item(
            TableName=self.table, Key=to_item({"pk": f"SUPP#{domain}", "sk": email.lower()})
        )
        return Suppression.model_validate(from_item(item["Item"])) if "Item" in item else None

    def list_suppressions(self, domain: str) -> list[Suppression]:
        paginator = self.db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=to_item({":p": f"SUPP#{domain}"}),
        )
        return [Suppression.model_validate(from_item(item)) for page in pages for item in page["Items"]]

    def delete_suppression(self, domain: str, email: str) -> bool:
        response = self.db.delete_item(
            TableName=self.table,
            Key=to_item({"pk": f"SUPP#{domain}", "sk": email.lower()}),
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in response

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

    def put_event(self, message_id: str, event: RecipientEvent) -> bool:
        """Store an event once: False when the same event (same key) is already there."""
        return self._put_once(f"MSG#{message_id}", event, ttl=None)

    def put_unmatched_event(self, event: RecipientEvent, *, now: int) -> bool:
        """Keep an event for a message Posthorn does not know, where an operator can query it."""
        return self._put_once(f"UNMATCHED#{event.ses_message_id}", event, ttl=now + UNMATCHED_TTL_SECONDS)

    def _put_once(self, pk: str, event: RecipientEvent, *, ttl: int | None) -> bool:
        item = {
            "pk": pk,
            "sk": f"EVT#{event.event_key}",
            "type": event.type.value,
            "timestamp": event.timestamp.isoformat(),
            "recipient": event.recipient,
            "details": _storable(event.details),
            "ses_message_id": event.ses_message_id,
            "origin": event.origin,
            "ttl": ttl,
        }
        try:
            self.db.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(sk)"
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- idempotency -------------------------------------------------------------------------------
    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> IdempotencyRecord | None:
        key = to_item({"pk": f"IDEM#{scope_key}", "sk": "IDEM"})
        try:
            self.db.put_item(
                TableName=self.table,
                Item={
                    **key,
                    **to_item(
                        {
                            "fingerprint": fingerprint,
                            "state": "in_progress",
                            "lease_until": now + lease_seconds,
                            "ttl": now + ttl_seconds,
                        }
                    ),
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #ttl < :now"
                    " OR (#state = :in_progress AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#ttl": "ttl", "#state": "state"},
                ExpressionAttributeValues=to_item({":now": now, ":in_progress": "in_progress"}),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            item = self.db.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if item is None:  # released between our write and our read: claim again
                return self.claim(
                    scope_key, fingerprint, now=now, lease_seconds=lease_seconds, ttl_seconds=ttl_seconds
                )
            values = from_item(item)
            response = None
            if values["state"] == "completed":
                response = StoredResponse(status=values["response_status"], body=values["response_body"])
            return IdempotencyRecord(fingerprint=values["fingerprint"], response=response)
        return None

    def complete(self, scope_key: str, response: StoredResponse, *, expires_at: int) -> None:
        self.db.update_item(
            TableName=self.table,
            Key=to_item({"pk": f"IDEM#{scope_key}", "sk": "IDEM"}),
            UpdateExpression=(
                "SET #state = :done, response_status = :status, response_body = :body, #ttl = :ttl"
            ),
            ExpressionAttributeNames={"#state": "state", "#ttl": "ttl"},
            ExpressionAttributeValues=to_item(
                {":done": "completed", ":status": response.status, ":body": response.body, ":ttl": expires_at}
            ),
        )

    def release(self, scope_key: str) -> None:
        self.db.delete_item(TableName=self.table, Key=to_item({"pk": f"IDEM#{scope_key}", "sk": "IDEM"}))


def _message_record(values: dict[str, Any]) -> MessageRecord:
    """A stored message item → its record, recipients in request order, status derived from theirs."""
    recipients = sorted(values.pop("recipients", {}).values(), key=lambda r: r["position"])
    states = [RecipientState.model_validate(r) for r in recipients]
    return MessageRecord.model_validate(
        {**values, "recipients": states, "status": message_status(state.status for state in states).value}
    )


class DynamoFileStore(_Table):
    """The file cache's records in the same table (`FileStore`): a file per key, and a reference count per
    object shared by an owner's uploads of the same bytes."""

    @staticmethod
    def _file_key(file_key: str) -> dict[str, Any]:
        return to_item({"pk": f"FILE#{file_key}", "sk": "FILE"})

    @staticmethod
    def _blob_key(owner: str, sha256: str) -> dict[str, Any]:
        return to_item({"pk": f"BLOB#{owner}#{sha256}", "sk": "BLOB"})

    def put_file(self, record: FileRecord) -> None:
        values = record.model_dump(mode="json")
        ttl = int(record.expires_at.timestamp())
        self.db.put_item(
            TableName=self.table,
            Item={**self._file_key(record.file_key), **to_item({**values, "ttl": ttl})},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_file(self, file_key: str) -> FileRecord | None:
        item = self.db.get_item(TableName=self.table, Key=self._file_key(file_key), ConsistentRead=True)
        return FileRecord.model_validate(from_item(item["Item"])) if "Item" in item else None

    def delete_file(self, file_key: str) -> FileRecord | None:
        response = self.db.delete_item(
            TableName=self.table, Key=self._file_key(file_key), ReturnValues="ALL_OLD"
        )
        attributes = response.get("Attributes")
        return FileRecord.model_validate(from_item(attributes)) if attributes else None

    def settle_upload(
        self, file_key: str, status: FileStatus, *, sha256: str | None = None, rejection: str | None = None
    ) -> FileRecord | None:
        updates = {"status": status, "sha256": sha256, "rejection": rejection}
        values = {key: value for key, value in updates.items() if value is not None}
        names = {f"#f{index}": name for index, name in enumerate(values)}
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=self._file_key(file_key),
                UpdateExpression="SET " + ", ".join(f"#f{index} = :f{index}" for index in range(len(values))),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        **{f":f{index}": value for index, value in enumerate(values.values())},
                        ":pending": "pending",
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return FileRecord.model_validate(from_item(response["Attributes"]))

    def reference_blob(self, owner: str, sha256: str, *, expires_at: int) -> int:
        response = self.db.update_item(
            TableName=self.table,
            Key=self._blob_key(owner, sha256),
            UpdateExpression="ADD refs :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=to_item({":one": 1, ":ttl": expires_at}),
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["refs"]["N"])

    def release_blob(self, owner: str, sha256: str) -> int:
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=self._blob_key(owner, sha256),
                UpdateExpression="ADD refs :minus",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":minus": -1}),
                ReturnValues="UPDATED_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return 0
        return int(response["Attributes"]["refs"]["N"])

    def forget_blob(self, owner: str, sha256: str) -> bool:
        try:
            self.db.delete_item(
                TableName=self.table,
                Key=self._blob_key(owner, sha256),
                ConditionExpression="attribute_not_exists(pk) OR refs <= :zero",
                ExpressionAttributeValues=to_item({":zero": 0}),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _storable(details: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB takes no floats and no empty strings in sets: keep JSON-like details as plain JSON types."""
    import json
    from decimal import Decimal

    return dict(json.loads(json.dumps(details, default=str), parse_float=Decimal))
