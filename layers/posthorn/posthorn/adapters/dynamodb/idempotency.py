"""`Idempotency-Key` claims (`IDEM#<scope>`): a lease while the first request runs, then its answer."""

from __future__ import annotations

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
from posthorn.models.idempotency import IdempotencyRecord, StoredResponse


def _key(scope_key: str) -> dict[str, str]:
    return {"pk": f"IDEM#{scope_key}", "sk": "IDEM"}


class IdempotencyRepository(Repository):
    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> IdempotencyRecord | None:
        key = to_item(_key(scope_key))
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
            Key=to_item(_key(scope_key)),
            UpdateExpression=(
                "SET #state = :done, response_status = :status, response_body = :body, #ttl = :ttl"
            ),
            ExpressionAttributeNames={"#state": "state", "#ttl": "ttl"},
            ExpressionAttributeValues=to_item(
                {":done": "completed", ":status": response.status, ":body": response.body, ":ttl": expires_at}
            ),
        )

    def release(self, scope_key: str) -> None:
        self.db.delete_item(TableName=self.table, Key=to_item(_key(scope_key)))
