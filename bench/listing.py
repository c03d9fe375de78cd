"""Figure 9, listing: one page of 50 of `GET /v1/messages` through the API function's handler, with each
filter, at 1,000 and at 20,000 stored messages (in-process moto).

The figure of each filter is the ratio, 20,000 / 1,000, of the items DynamoDB reads for the page: the
`ScannedCount` of its Queries plus the keys of its BatchGetItem, as DynamoDB reports (and bills) them. A
Query of an index reads the page whatever the table holds (about 1.0); a Scan would read the table (about
20). The page's time is printed too, as context and not as the figure: moto 5.2.5 answers a Query of the
base table by walking every item of the table (`Table.query`: `for item in self.all_items()`), so under
moto a Query's time grows with the table as a Scan's would, which DynamoDB's does not. Alone: `python
bench/listing.py` (`--json`)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bench.report import Row, run
from bench.stack import DOMAIN, SENDER_KEY, fake_aws_credentials, start

SIZES = (1_000, 20_000)
PAGES = 3
TARGET = 1.3
FILTERS: dict[str, dict[str, str]] = {
    "none": {},
    "status": {"status": "queued"},
    "recipient": {"recipient": "user7@example.net"},
    "tag": {"tag": "t3"},
    "client_reference": {"client_reference": "ref-7"},
    "time range": {"since": "2026-11-01T00:00:00Z", "until": "2026-11-30T00:00:00Z"},
    "from_email": {"from_email": "hello@example.com"},
}
START = datetime(2026, 11, 1, tzinfo=UTC)


def _records(count: int) -> list[Any]:
    """Messages over 60 days, to 20 recipients, with 20 tags and 10 client references: every filter matches
    at least a page at either size."""
    from posthorn.models.messages import MessageRecord, RecipientState

    return [
        MessageRecord(
            message_id=f"msg_{index:026d}",
            username="ph_bench",
            domain=DOMAIN,
            from_email=f"hello@{DOMAIN}",
            subject=f"Hello {index}",
            status="queued",
            created_at=START + timedelta(minutes=index * 86_400 // count),
            recipients=[RecipientState(email=f"user{index % 20}@example.net", type="to", status="queued")],
            tags=[f"t{index % 20}"],
            client_reference=f"ref-{index % 10}",
        )
        for index in range(count)
    ]


READ: dict[str, int] = {"items": 0}


def _count_reads(parsed: dict[str, Any], model: Any, **_: Any) -> None:
    if model.name == "Query":
        READ["items"] += int(parsed.get("ScannedCount", 0))
    elif model.name == "BatchGetItem":
        READ["items"] += sum(len(items) for items in parsed.get("Responses", {}).values())


def _page(query: dict[str, str]) -> tuple[float, int, int]:
    from posthorn_local.apigw import LambdaContext, build_event, decode_response
    from send_api.handler import lambda_handler

    event = build_event(
        "GET",
        "/v1/messages",
        resource="/v1/messages",
        headers={"Authorization": f"Bearer {SENDER_KEY}"},
        query=urlencode({"limit": "50", **query}),
    )
    READ["items"] = 0
    started = time.perf_counter()
    status, _, raw = decode_response(lambda_handler(event, LambdaContext(function_name="send")))
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"GET /v1/messages answered {status}: {raw[:300]!r}")
    return elapsed, len(json.loads(raw)["messages"]), READ["items"]


def _measure(count: int) -> dict[str, tuple[float, int, int]]:
    from moto import mock_aws

    from posthorn import wiring
    from posthorn.adapters.aws import client

    with mock_aws():
        start(smtp_port=587, ca_file="", username="unused", password="unused")
        records = _records(count)
        store = wiring.messages()
        for first in range(0, count, 500):
            if store.create_messages(records[first : first + 500]):
                raise RuntimeError("messages could not be stored")
        _page({})  # warm: clients, the pepper, the route
        client("dynamodb").meta.events.register("after-call.dynamodb.*", _count_reads)
        figures = {}
        for name, query in FILTERS.items():
            pages = [_page(query) for _ in range(PAGES)]
            figures[name] = (statistics.median(t for t, _, _ in pages), pages[0][1], pages[0][2])
        client("dynamodb").meta.events.unregister("after-call.dynamodb.*", _count_reads)
        return figures


def main() -> list[Row]:
    fake_aws_credentials()
    small, large = (_measure(count) for count in SIZES)
    rows = []
    for name in FILTERS:
        ratio = large[name][2] / max(1, small[name][2])
        rows.append(
            Row(
                figure=f"9. listing, a page of 50, filter {name}: items read at 20,000 / at 1,000 messages",
                ours=large[name][2],
                baseline=small[name][2],
                unit="items",
                ratio=round(ratio, 2),
                target=f"<= {TARGET}x",
                passed=ratio <= TARGET,
                details={
                    "messages_on_the_page": {"1000": small[name][1], "20000": large[name][1]},
                    "page_ms_under_moto": {
                        "1000": round(small[name][0] * 1000, 1),
                        "20000": round(large[name][0] * 1000, 1),
                    },
                },
            )
        )
    return rows


if __name__ == "__main__":
    run(main)
