"""Lambda entry point of the send worker (SendWorkerFunction in template.yaml), fed by SendQueue in batches
of up to 10 with ReportBatchItemFailures: only the messages it reports are retried."""

from __future__ import annotations

from typing import Any

from posthorn.coldstart import lambda_init

# Lambda's init is this module's import: see posthorn/coldstart.py.
with lambda_init():
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    # What every invocation uses, imported during init as Lambda's init is meant for (wiring's factories
    # import their adapters on first use; these would otherwise be imported by the first batch).
    from posthorn import logs, tracing, wiring
    from posthorn.logic.sending.queue_drain import drain

    wiring.send_worker_imports()
    tracer = tracing.tracer()  # imports the X-Ray SDK where tracing is on

logger = logs.service_logger()
metrics = Metrics()


@logs.per_invocation(logger, metrics)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from posthorn.settings import WorkerSettings  # at first use, as every setting is read

    wiring.settings(WorkerSettings)  # the first invocation fails here, naming any variable it lacks
    items, drain_context = wiring.send_worker_batch(
        event.get("Records") or [], time_left=lambda: context.get_remaining_time_in_millis() / 1000
    )
    report = drain(items, drain_context)
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=f"Queued_{outcome}", unit=MetricUnit.Count, value=count)
    if report.outcomes["held"]:
        logger.warning("messages of paused domains held until resumed", extra=dict(report.outcomes))
    if any(report.outcomes[outcome] for outcome in ("gave_up", "missing", "unreadable", "attachment_gone")):
        logger.warning("queued messages failed for good", extra=dict(report.outcomes))
    for error in report.errors:
        logger.error("queued message sent but not recorded: it may be sent again", extra={"error": error})
    logs.outcome(logger, metrics, "queue batch processed")
    return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in report.failed_items]}
