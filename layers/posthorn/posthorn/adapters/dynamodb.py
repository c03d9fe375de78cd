"""Where DynamoDB is read and written. One table, keys designed for the API's reads:

| item         | pk                  | sk                | gsi1pk / gsi1sk                      |
|--------------|---------------------|-------------------|--------------------------------------|
| credential   | CRED#<username>     | CRED              | CREDENTIALS / <created_at>#<username> |
| domain       | DOMAIN#<domain>     | DOMAIN            |                                      |
| message      | MSG#<message_id>    | MSG               | SES#<ses_message_id> / MSG           |
| event        | MSG#<message_id>    | EVT#<event_key>   |                                      |
| suppression  | SUPP#<domain>       | <address>         |                                      |
| idempotency  | IDEM#<scope>        | IDEM              |                       (ttl: 24 h)    |

A message item holds its recipients as a map keyed by lower-cased address, so one query returns a
message with its recipients and events, and one conditional update changes a recipient's status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from posthorn.adapters.aws import client
from posthorn.logic.idempotency import IdempotencyRecord, StoredResponse
from posthorn.models.credentials import Credential, CredentialStatus
from posthorn.models.domains import DomainRecord
from posthorn.models.messages import MessageRecord, RecipientState

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; everything Posthorn stores as a number is an integer."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


def message_key(message_id: str) -> dict[str, Any]:
    return to_item({"pk": f"MSG#{message_id}", "sk": "MSG"})


class DynamoStore:
    """Credentials, domains, messages, suppressions and idempotency records in the one table."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table = table_name
        self._client = dynamodb

    @property
    def db(self) -> Any:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client

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
        values = record.model_dump(mode="json", exclude={"recipients"})
        recipients = {
            state.email.lower(): {**state.model_dump(), "position": position}
            for position, state in enumerate(record.recipients)
        }
        self.db.put_item(
            TableName=self.table,
            Item=to_item({"pk": f"MSG#{record.message_id}", "sk": "MSG", **values, "recipients": recipients}),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None:
        names: dict[str, str] = {"#s": "status"}
        values: dict[str, Any] = {
            ":sent": "sent",
            ":ses": ses_message_id,
            ":g": f"SES#{ses_message_id}",
            ":m": "MSG",
        }
        updates = ["#s = :sent", "ses_message_id = :ses", "gsi1pk = :g", "gsi1sk = :m"]
        for index, (email, status) in enumerate(statuses.items()):
            names[f"#r{index}"] = email.lower()
            values[f":r{index}"] = status
            updates.append(f"recipients.#r{index}.#s = :r{index}")
        self.db.update_item(
            TableName=self.table,
            Key=message_key(message_id),
            UpdateExpression="SET " + ", ".join(updates),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None:
        names: dict[str, str] = {"#s": "status", "#e": "error"}
        values: dict[str, Any] = {":failed": "failed", ":reason": reason}
        updates = ["#s = :failed", "#e = :reason"]
        for index, email in enumerate(emails):
            names[f"#r{index}"] = email.lower()
            updates.append(f"recipients.#r{index}.#s = :failed")
        self.db.update_item(
            TableName=self.table,
            Key=message_key(message_id),
            UpdateExpression="SET " + ", ".join(updates),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

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
        recipients = sorted(message.pop("recipients", {}).values(), key=lambda r: r["position"])
        record = MessageRecord.model_validate(
            {**message, "recipients": [RecipientState.model_validate(r) for r in recipients]}
        )
        events = [item for item in items if item["sk"].startswith("EVT#")]
        return record, events

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
