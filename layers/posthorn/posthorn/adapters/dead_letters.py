"""Parking what cannot be processed in an SQS dead-letter queue, for an operator to inspect and redrive."""

from __future__ import annotations

import json
from typing import Any

from posthorn.adapters.aws import client


class SqsDeadLetters:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def park(self, record: dict[str, Any], reason: str) -> None:
        client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(record),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1024]}},
        )
