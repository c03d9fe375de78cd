"""Figure 5, events: 1,000 SNS notifications through the events function's handler against in-process moto,
against a minimal loop doing the same DynamoDB writes (a conditional status update and a conditional event
put per notification). Alone: `python bench/events.py` (`--json` for bench/run.py)."""

from __future__ import annotations

import contextlib
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


def main() -> list[Row]:
    fake_aws_credentials()
    os.environ.update(
        POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_NAMESPACE="Bench"
    )
    import boto3
    from moto import mock_aws

    from posthorn import wiring
    from posthorn.models.messages import MessageRecord, RecipientState
    from posthorn_local.apigw import LambdaContext
    from posthorn_local.provision import LocalSmtpSecret, environment, provision

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
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
        from ses_events.handler import lambda_handler

        store = wiring.messages()
        now = datetime.now(UTC)
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
                    created_at=now,
                    recipients=[RecipientState(email="user@example.net", type="to", status="queued")],
                )
            )
            store.mark_sent(message_id, ses_id, {"user@example.net": "sent"})
            for offset, kind in enumerate(("Send", "Delivery", "Open", "Click")):
                plan.append(notification(message_id, ses_id, kind, now + timedelta(seconds=offset)))
        context = LambdaContext(function_name="events")

        started = time.perf_counter()
        for event in plan[:NOTIFICATIONS]:
            lambda_handler(event, context)
        ours = time.perf_counter() - started

        # Baseline: the same two conditional writes per notification, nothing else.
        db = session.client("dynamodb")
        table = ids["Table"]
        started = time.perf_counter()
        for number, event in enumerate(plan[:NOTIFICATIONS]):
            message = json.loads(event["Records"][0]["Sns"]["Message"])
            pk = {"S": "MSG#" + message["mail"]["tags"]["posthorn_message_id"][0]}
            with contextlib.suppress(db.exceptions.ConditionalCheckFailedException):
                db.update_item(
                    TableName=table,
                    Key={"pk": pk, "sk": {"S": "MSG"}},
                    UpdateExpression="SET recipients.#r.#s = :s, recipients.#r.#k = :k",
                    ConditionExpression="recipients.#r.#k < :k",
                    ExpressionAttributeNames={"#r": "user@example.net", "#s": "status", "#k": "rank"},
                    ExpressionAttributeValues={":s": {"S": "x"}, ":k": {"N": str(100 + number)}},
                )
            db.put_item(
                TableName=table,
                Item={"pk": pk, "sk": {"S": f"BASE#{number}"}, "type": {"S": "x"}},
                ConditionExpression="attribute_not_exists(sk)",
            )
        baseline = time.perf_counter() - started

    per_ours, per_baseline = ours / NOTIFICATIONS * 1000, baseline / NOTIFICATIONS * 1000
    return [
        Row(
            figure="5. events: 1,000 SNS notifications (ms each)",
            ours=round(per_ours, 2),
            baseline=round(per_baseline, 2),
            unit="ms",
            ratio=round(ours / baseline, 2),
            target="<= 1.5x",
            passed=ours / baseline <= 1.5,
            details={"notifications_per_second": round(NOTIFICATIONS / ours)},
        )
    ]


if __name__ == "__main__":
    run(main)
