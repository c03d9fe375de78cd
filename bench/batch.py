"""Figure 3, batch accept: POST /v1/email/batch with 500 messages through the API function's handler against
in-process moto, against a minimal loop making the same AWS calls with the same parameters.

- Ours: the real handler with an API Gateway event, as a warm function (a 10-message batch first creates
  the clients and reads the secrets): authentication, the rate limit, validation of each item, the sender's
  domain and suppressions, the MIME of each message, records by BatchWriteItem, queue messages by
  SendMessageBatch, the 202 with 500 results.
- Baseline: the BatchWriteItem and SendMessageBatch calls ours made, captured from its clients (so the same
  items and bodies), replayed one after the other on a boto3 client.
The figure is the median of each round's ratio; per message milliseconds are context.
Alone: `python bench/batch.py` (`--json` for bench/run.py).
"""

from __future__ import annotations

import copy
import os
import statistics
import time
from typing import Any

from bench.report import Row, run
from bench.stack import fake_aws_credentials, message, start

MESSAGES = 500
ROUNDS = int(os.environ.get("BENCH_BATCH_ROUNDS", "3"))
TARGET = 1.5


def main() -> list[Row]:
    fake_aws_credentials()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from posthorn.adapters.aws import client

    ours_seconds: list[float] = []
    baseline_seconds: list[float] = []
    calls: dict[str, int] = {}
    with mock_aws():
        stack = start(
            smtp_port=587,  # nothing is sent: a batch only queues
            ca_file="",
            username="unused",
            password="unused",
            DEFAULT_RATE_LIMIT_PER_SECOND="100000",
        )
        status, _ = stack.api("POST", "/v1/email/batch", {"messages": [message(i) for i in range(10)]})
        assert status == 202, status  # the warm-up: clients, secrets, caches

        captured: list[tuple[str, str, dict[str, Any]]] = []

        def capture(service: str, operation: str) -> Any:
            def hook(params: dict[str, Any], **_: Any) -> None:
                captured.append((service, operation, copy.deepcopy(params)))

            return hook

        client("dynamodb").meta.events.register(
            "provide-client-params.dynamodb.BatchWriteItem", capture("dynamodb", "batch_write_item")
        )
        client("sqs").meta.events.register(
            "provide-client-params.sqs.SendMessageBatch", capture("sqs", "send_message_batch")
        )
        replay = {"dynamodb": boto3.client("dynamodb"), "sqs": boto3.client("sqs")}
        body = {"messages": [message(i) for i in range(MESSAGES)]}

        for _ in range(ROUNDS):
            captured.clear()
            stack.empty_queue()
            started = time.perf_counter()
            status, answer = stack.api("POST", "/v1/email/batch", body)
            ours_seconds.append(time.perf_counter() - started)
            if status != 202 or answer["count"] != MESSAGES:
                raise RuntimeError(f"the batch was not accepted: {status} {str(answer)[:300]}")
            calls = {}
            for _service, operation, _params in captured:
                calls[operation] = calls.get(operation, 0) + 1

            stack.empty_queue()
            started = time.perf_counter()
            for service, operation, params in captured:
                getattr(replay[service], operation)(**params)
            baseline_seconds.append(time.perf_counter() - started)

    ratio = statistics.median(o / b for o, b in zip(ours_seconds, baseline_seconds, strict=True))
    ours = statistics.median(ours_seconds) / MESSAGES * 1000
    baseline = statistics.median(baseline_seconds) / MESSAGES * 1000
    return [
        Row(
            figure=f"3. batch accept: {MESSAGES} messages, per message (in-process moto)",
            ours=round(ours, 2),
            baseline=round(baseline, 2),
            unit="ms",
            ratio=round(ratio, 2),
            target=f"<= {TARGET}x",
            passed=ratio <= TARGET,
            details={
                "ours_s": [round(s, 2) for s in ours_seconds],
                "baseline_s": [round(s, 2) for s in baseline_seconds],
                "calls_replayed": calls,
            },
        )
    ]


if __name__ == "__main__":
    run(main)
