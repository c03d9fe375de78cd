"""Figure 5, events: 1,000 SNS notifications through the events function's handler against in-process moto
(each message tagged, so every event raises its domain's and its tag's counters), against a bare loop of the
same DynamoDB calls, captured from ours and replayed on a boto3 client against the same stored messages: a
conditional status update, a conditional event put, the counters' ADDs and the status item's move. The
details say how many calls of each a notification makes. Alone: `python bench/events.py` (`--json` for
bench/run.py)."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import Row, run
from bench.stack import fake_aws_credentials

NOTIFICATIONS = 1000
MESSAGES = 250
SES_ID = "0100{:012x}-aaaaaaaa-bbbb-cccc-dddd-{:012x}-000000"
AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def notification(message_id: str, ses_id: str, kind: str, at: datetime) -> dict[str, Any]:
    mail = {
        "timestamp": at.isoformat(),
        "messageId": ses_id,
        "source": "hello@example.com",
        "destination": ["user@example.net"],
        "tags": {"posthorn_message_id": [message_id]},
    }
    detail: dict[str, Any] = {
        "Send": ("send", {}),
        "Delivery": (
            "delivery",
            {
                "timestamp": at.isoformat(),
                "recipients": ["user@example.net"],
                "processingTimeMillis": 500,
                "smtpResponse": "250 ok",
            },
        ),
        "Open": ("open", {"timestamp": at.isoformat(), "ipAddress": "192.0.2.1", "userAgent": "bench"}),
        "Click": (
            "click",
            {
                "timestamp": at.isoformat(),
                "ipAddress": "192.0.2.1",
                "userAgent": "bench",
                "link": "https://example.com/",
                "linkTags": {},
            },
        ),
    }[kind]
    message = {"eventType": kind, "mail": mail, detail[0]: detail[1]}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


def _stack(session: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The template's resources in moto, 250 messages stored and sent, and the notifications about them."""
    from posthorn import wiring
    from posthorn.models.messages import MessageRecord, RecipientState
    from posthorn_local.provision import LocalSmtpSecret, environment, provision

    ids = provision(session, prefix="bench", smtp=LocalSmtpSecret("u", "p"))
    os.environ.update(
        environment(
            "EventsFunction",
            ids,
            {
                "SES_SMTP_HOST": "localhost",
                "SES_SMTP_TLS": "starttls",
                "SES_SMTP_SECRET_ID": ids["SesSmtpSecretId"],
            },
        )
    )
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    wiring.reset()
    store = wiring.messages()
    plan = []
    for index in range(MESSAGES):
        message_id, ses_id = f"msg_bench{index:06d}", SES_ID.format(index, index)
        store.create_message(
            MessageRecord(
                message_id=message_id,
                username="ph_bench",
                domain="example.com",
                from_email="hello@example.com",
                subject="bench",
                status="queued",
                created_at=AT,
                recipients=[RecipientState(email="user@example.net", type="to", status="queued")],
                tags=["bench"],
            )
        )
        store.mark_sent(message_id, ses_id, {"user@example.net": "sent"})
        for offset, kind in enumerate(("Send", "Delivery", "Open", "Click")):
            plan.append(notification(message_id, ses_id, kind, AT + timedelta(seconds=offset)))
    return ids, plan


def main() -> list[Row]:
    fake_aws_credentials()
    os.environ.update(
        POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_NAMESPACE="Bench"
    )
    import boto3
    from moto import mock_aws

    from posthorn.adapters.aws import client
    from posthorn_local.apigw import LambdaContext

    captured: list[tuple[str, dict[str, Any]]] = []
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        _, plan = _stack(session)
        from ses_events.handler import lambda_handler

        context = LambdaContext(function_name="events")

        def capture(params: dict[str, Any], model: Any, **_: Any) -> None:
            captured.append((model.name, copy.deepcopy(params)))

        client("dynamodb").meta.events.register("provide-client-params.dynamodb.*", capture)
        started = time.perf_counter()
        for event in plan[:NOTIFICATIONS]:
            lambda_handler(event, context)
        ours = time.perf_counter() - started
        client("dynamodb").meta.events.unregister("provide-client-params.dynamodb.*", capture)

    # Baseline: the same DynamoDB calls ours made (status updates, event puts, counters, status items),
    # replayed one after the other on a boto3 client against the same stored messages: what the writes
    # cost without parsing, deciding and building them.
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        _stack(session)
        db = session.client("dynamodb")
        calls = {name: getattr(db, _snake(name)) for name in {name for name, _ in captured}}
        started = time.perf_counter()
        for name, params in captured:
            with contextlib.suppress(db.exceptions.ConditionalCheckFailedException):
                calls[name](**params)
        baseline = time.perf_counter() - started

    counted: dict[str, int] = {}
    for name, _ in captured:
        counted[name] = counted.get(name, 0) + 1
    per_ours, per_baseline = ours / NOTIFICATIONS * 1000, baseline / NOTIFICATIONS * 1000
    return [
        Row(
            figure="5. events: 1,000 SNS notifications with counters and the guard (ms each)",
            ours=round(per_ours, 2),
            baseline=round(per_baseline, 2),
            unit="ms",
            ratio=round(ours / baseline, 2),
            target="<= 1.5x",
            passed=ours / baseline <= 1.5,
            details={
                "notifications_per_second": round(NOTIFICATIONS / ours),
                "calls_per_notification": {
                    k: round(v / NOTIFICATIONS, 2) for k, v in sorted(counted.items())
                },
            },
        )
    ]


def _snake(operation: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in operation).lstrip("_")


if __name__ == "__main__":
    run(main)
