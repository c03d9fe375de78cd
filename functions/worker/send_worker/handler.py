"""Lambda entry point of the send worker (SendWorkerFunction in template.yaml), fed by SendQueue in batches
of up to 10 with ReportBatchItemFailures: only the messages it reports are retried."""

from __future__ import annotations

import time
from typing import Any

from posthorn.coldstart import lambda_init

# Lambda's init is this module's import: see posthorn/coldstart.py.
with lambda_init():
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    # What every invocation uses, imported during init as Lambda's init is meant for (wiring's factories
    # import their adapters on first use; these would otherwise be imported by the first batch).
    from posthorn import tracing, wiring
    from posthorn.adapters.send_queue import SqsWorkQueue
    from posthorn.logic.sending.queue_drain import DrainContext, drain
    from posthorn.logic.sending.rate_limits import reserve_slots

    tracer = tracing.tracer()  # imports the X-Ray SDK where tracing is on

logger = Logger()
metrics = Metrics()

# The one schedule every worker takes its send times from (the SES account's maximum send rate).
SES_PACE_KEY = "ses-max-send-rate"


def _reserve_slots(count: int) -> list[float]:
    from posthorn.settings import WorkerSettings

    rate = wiring.settings(WorkerSettings).ses_max_send_rate
    return reserve_slots(
        wiring.rate_limits(), SES_PACE_KEY, rate=rate, count=count, now_us=time.time_ns() // 1000
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from posthorn.settings import WorkerSettings  # at first use, as every setting is read

    settings = wiring.settings(WorkerSettings)
    queue = SqsWorkQueue(event.get("Records") or [], settings.send_queue_url, settings.bucket_name)
    report = drain(
        queue.items,
        DrainContext(
            messages=wiring.announced_messages(),
            suppressions=wiring.suppressions(),
            transport=wiring.transport(),
            queue=queue,
            attachments=wiring.attachment_bodies(),
            reserve_slots=_reserve_slots,
            wall_clock=time.time,
            monotonic=time.monotonic,
            sleep=time.sleep,
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
            store_calls=wiring.store_calls(),
            max_receives=settings.send_max_receives,
            send_budget_seconds=settings.worker_send_budget_seconds,
            retry_base_seconds=settings.send_retry_base_seconds,
            retry_cap_seconds=settings.send_retry_cap_seconds,
            pauses=wiring.sending_pauses(),
            held=wiring.held_messages(),
            requeue=wiring.send_queue(),
        ),
    )
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=f"Queued_{outcome}", unit=MetricUnit.Count, value=count)
    if report.outcomes["held"]:
        logger.warning("messages of paused domains held until resumed", extra=dict(report.outcomes))
    if any(report.outcomes[outcome] for outcome in ("gave_up", "missing", "unreadable", "attachment_gone")):
        logger.warning("queued messages failed for good", extra=dict(report.outcomes))
    for error in report.errors:
        logger.error("queued message sent but not recorded: it may be sent again", extra={"error": error})
    logger.info("queue batch processed", extra=dict(report.outcomes))
    return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in report.failed_items]}
