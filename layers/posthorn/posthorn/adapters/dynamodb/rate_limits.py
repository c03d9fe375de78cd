"""`RateStore`: a GCRA timestamp per key (`RATE#<key>`: rate limits, send pacing), moved by conditional
writes so that every instance shares it. Two cases, each one atomic update: the bucket is idle (`tat`
absent or in the past: start from now), or busy (`tat` ahead of now: add the cost to it, unless `tat` is
beyond the latest start allowed). A race between the two cases is retried.

A bucket's `tat` only moves forward (until 24 h of idleness expire the item), so the last `tat` this process
saw is a floor of the stored one. It spares writes that could only fail, each a write unit: a bucket seen
busy is tried as busy first, and one seen full beyond the latest start is refused without a write (a fast
credential's clients retrying while it is over its rate cost nothing)."""

from __future__ import annotations

from typing import Any

from posthorn.adapters.dynamodb.table import Repository, Table, from_item, to_item

RATE_IDLE_TTL_SECONDS = 24 * 3600
# Buckets whose last `tat` is remembered; past this many the memory starts again (a miss costs one write).
SEEN_BUCKETS = 10_000


class RateRepository(Repository):
    def __init__(self, table: Table) -> None:
        super().__init__(table)
        self._seen: dict[str, int] = {}

    def tat(self, key: str) -> int:
        values = self.get({"pk": f"RATE#{key}", "sk": "RATE"})
        tat = int(values["tat"]) if values is not None and "tat" in values else 0
        return self._saw(key, tat)

    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        allowed, tat = self._advance(key, now_us=now_us, cost_us=cost_us, latest_start_us=latest_start_us)
        return allowed, self._saw(key, tat)

    def _saw(self, key: str, tat: int) -> int:
        if len(self._seen) >= SEEN_BUCKETS and key not in self._seen:
            self._seen.clear()
        self._seen[key] = max(tat, self._seen.get(key, 0))
        return tat

    def _advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        seen = self._seen.get(key, 0)
        if latest_start_us is not None and seen > latest_start_us:
            return False, seen
        item_key = to_item({"pk": f"RATE#{key}", "sk": "RATE"})
        ttl = (now_us + cost_us) // 1_000_000 + RATE_IDLE_TTL_SECONDS
        busy = seen > now_us
        for _ in range(20):
            if busy:
                busy = False  # seen busy: the idle case would fail; next round tries it again
            else:
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
                    current = _stored_tat(failed)
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
                current = _stored_tat(failed)
            if current > now_us and latest_start_us is not None and current > latest_start_us:
                return False, current
        raise RuntimeError(f"rate bucket {key} kept changing under contention")


def _stored_tat(failed: Any) -> int:
    """The `tat` a failed condition found: 0 when the item is gone (expired after a day idle)."""
    item = failed.response.get("Item")
    return int(from_item(item).get("tat", 0)) if item else 0
