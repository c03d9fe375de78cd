"""Lambda entry point of the send worker (SendWorkerFunction in template.yaml), fed by SendQueue in batches
of up to 10 with ReportBatchItemFailures: only the messages it reports are retried."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from posthorn.coldstart import lambda_init

# Lambda's init is this module's import: see posthorn/coldstart.py.
with lambda_init():
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from posthorn import tracing
    from posthorn.adapters import reset_adapters
    from posthorn.adapters.aws import client
    from posthorn.adapters.dynamodb import DynamoStore
    from posthorn.adapters.s3 import S3Objects
    from posthorn.adapters.send_queue import SqsWorkQueue
    from posthorn.adapters.ses_smtp import SesSmtpTransport, transport_from_settings
    from posthorn.logic.file_bodies import ContentCache, StoredFileBodies
    from posthorn.logic.rate_limits import reserve_slots
    from posthorn.logic.worker import WorkerContext, drain
    from posthorn.settings import get_settings

    tracer = tracing.tracer()  # imports the X-Ray SDK where tracing is on

logger = Logger()
metrics = Metrics()

# The one schedule every worker takes its send times from (the SES account's maximum send rate).
SES_PACE_KEY = "ses-max-send-rate"
BATCH_SIZE = 10  # SendQueue's event source mapping in template.yaml


@cache
def store() -> DynamoStore:
    """Its client made now, on the invocation's thread: `drain` claims a batch's messages on several threads
    at once, and each would otherwise make one of its own on a cold start."""
    return DynamoStore(get_settings().table_name, client("dynamodb"))


@cache
def transport() -> SesSmtpTransport:
    """One connection pool per warm instance: consecutive batches reuse the SES connection."""
    return transport_from_settings(get_settings())


@cache
def attachments() -> StoredFileBodies:
    """One per warm instance: a file attached to many queued messages is read from S3 once."""
    settings = get_settings()
    return StoredFileBodies(S3Objects(settings.bucket_name), ContentCache(settings.file_cache_max_bytes))


@cache
def store_calls() -> ThreadPoolExecutor:
    """One thread per message of a batch (SendQueue's BatchSize), started once per warm instance."""
    return ThreadPoolExecutor(max_workers=BATCH_SIZE, thread_name_prefix="store")


def reset() -> None:
    """Forget cached adapters (tests and the local stack change the environment)."""
    for cached in (store, transport, attachments):
        cached.cache_clear()
    reset_adapters()


def _reserve_slots(count: int) -> list[float]:
    rate = get_settings().ses_max_send_rate
    return reserve_slots(store(), SES_PACE_KEY, rate=rate, count=count, now_us=time.time_ns() // 1000)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    queue = SqsWorkQueue(event.get("Records") or [], settings.send_queue_url, settings.bucket_name)
    report = drain(
        queue.items,
        WorkerContext(
            messages=store(),
            transport=transport(),
            queue=queue,
            attachments=attachments(),
            reserve_slots=_reserve_slots,
            wall_clock=time.time,
            monotonic=time.monotonic,
            sleep=time.sleep,
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
            store_calls=store_calls(),
            max_receives=settings.send_max_receives,
            send_budget_seconds=settings.worker_send_budget_seconds,
            retry_base_seconds=settings.send_retry_base_seconds,
            retry_cap_seconds=settings.send_retry_cap_seconds,
        ),
    )
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=f"Queued_{outcome}", unit=MetricUnit.Count, value=count)
    if any(report.outcomes[outcome] for outcome in ("gave_up", "missing", "unreadable", "attachment_gone")):
        logger.warning("queued messages failed for good", extra=dict(report.outcomes))
    for error in report.errors:
        logger.error("queued message sent but not recorded: it may be sent again", extra={"error": error})
    logger.info("queue batch processed", extra=dict(report.outcomes))
    return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in report.failed_items]}
