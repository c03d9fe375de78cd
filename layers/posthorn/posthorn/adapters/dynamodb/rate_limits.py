"""`RateStore`: a GCRA timestamp per key (`RATE#<key>`: rate limits, send pacing), moved by conditional
writes so that every instance shares it. Two cases, each one atomic update: the bucket is idle (`tat`
absent or in the past: start from now), or busy (`tat` ahead of now: add the cost to it, unless `tat` is
beyond the latest start allowed). A race between the two cases is retried."""

from __future__ import annotations

from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item

RATE_IDLE_TTL_SECONDS = 24 * 3600


class RateRepository(Repository):
    def tat(self, key: str) -> int:
        values = self.get({"pk": f"RATE#{key}", "sk": "RATE"})
        return int(values["tat"]) if values is not None and "tat" in values else 0

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
