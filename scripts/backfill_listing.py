"""Write the listing items of messages and suppressions stored before `GET /v1/messages` existed, and the
gsi1 keys of domains registered before `GET /v1/domains` existed.

    .venv/bin/python scripts/backfill_listing.py --stack posthorn-prod [--region eu-west-1] [--dry-run]

Messages and suppressions written by an older Posthorn have no listing items (`LIST#...`, `SUPPLIST#...`;
see layers/posthorn/posthorn/adapters/dynamodb/listing.py), so the listings do not show them until this
has run once; domains registered by an older Posthorn have no gsi1 keys (`DOMAINS`), so `GET /v1/domains`
leaves them out. It is the one Scan Posthorn has: an operator's one-off, reading `MSG`, `SUPP#` and `DOMAIN`
items page by page and writing each message's and suppression's items with BatchWriteItem (puts of the same
keys and values) and each unlisted domain's keys with a conditional UpdateItem (never a put of the whole
record, which could undo a pause written meanwhile): running it twice, or while the stack takes traffic,
changes nothing that is already right. The stats counters are not backfilled: `GET /v1/stats` counts from
the deploy that added them on.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3

from posthorn.adapters.dynamodb import listing
from posthorn.adapters.dynamodb.message_items import message_record
from posthorn.adapters.dynamodb.suppressions import _listing_keys
from posthorn.adapters.dynamodb.table import Repository, Table, from_item, listing_keys, to_item
from posthorn.models.suppressions import Suppression
from scripts.create_admin import stack_outputs


def listing_items(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The listing items one stored item needs (none for items that are neither message nor suppression)."""
    if values.get("sk") == "MSG" and str(values.get("pk", "")).startswith("MSG#"):
        record = message_record(dict(values))
        # The message's own expiry, whatever the retention is now: its listing items go when it goes.
        return listing.index_items(record, record.status, values.get("ttl"))
    if str(values.get("pk", "")).startswith("SUPP#"):
        entry = Suppression.model_validate(values)
        fields = entry.model_dump(mode="json")
        return [{**key, **fields} for key in _listing_keys(entry)]
    return []


def list_domain(repository: Repository, values: dict[str, Any]) -> bool:
    """Give an unlisted domain record its gsi1 keys; False when it was listed (or deleted) meanwhile."""
    keys = listing_keys("DOMAINS", str(values["created_at"]), str(values["domain"]))
    try:
        repository.db.update_item(
            TableName=repository.table,
            Key=to_item({"pk": values["pk"], "sk": values["sk"]}),
            UpdateExpression="SET gsi1pk = :gsi1pk, gsi1sk = :gsi1sk",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(gsi1pk)",
            ExpressionAttributeValues=to_item({":gsi1pk": keys["gsi1pk"], ":gsi1sk": keys["gsi1sk"]}),
        )
    except repository.db.exceptions.ConditionalCheckFailedException:
        return False
    return True


def backfill(repository: Repository, *, dry_run: bool = False) -> tuple[int, int]:
    """(items read, listing items and domain keys written)."""
    read = written = 0
    pages = repository.db.get_paginator("scan").paginate(
        TableName=repository.table,
        FilterExpression=(
            "sk = :msg OR begins_with(pk, :supp) OR (sk = :domain AND attribute_not_exists(gsi1pk))"
        ),
        ExpressionAttributeValues={":msg": {"S": "MSG"}, ":supp": {"S": "SUPP#"}, ":domain": {"S": "DOMAIN"}},
    )
    for page in pages:
        stored = [from_item(item) for item in page["Items"]]
        items = [item for values in stored for item in listing_items(values)]
        read += len(page["Items"])
        if items and not dry_run and repository.write_items(items):
            raise RuntimeError("some listing items could not be written; run the backfill again")
        written += len(items)
        unlisted = [values for values in stored if values.get("sk") == "DOMAIN"]
        written += len(unlisted) if dry_run else sum(list_domain(repository, values) for values in unlisted)
    return read, written


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", required=True, help="CloudFormation stack name, e.g. posthorn-prod")
    parser.add_argument("--region", default=None)
    parser.add_argument("--dry-run", action="store_true", help="count what would be written, write nothing")
    args = parser.parse_args()
    table = stack_outputs(args.stack, args.region)["TableName"]
    repository = Repository(Table(table, boto3.client("dynamodb", region_name=args.region)))
    read, written = backfill(repository, dry_run=args.dry_run)
    verb = "would write" if args.dry_run else "wrote"
    print(f"read {read} messages, suppressions and domains; {verb} {written} listing items", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
