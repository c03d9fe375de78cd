"""Lambda entry point of the webhook sender (WebhookSenderFunction in template.yaml), a function of its own:
its failures, timeouts and concurrency are apart from the events function's and the API's.

Three triggers: WebhookQueue and WebhookSlowQueue (prompts for deliveries due now or within 15 minutes, the
second for endpoints that answer slowly; batches of up to 10 with ReportBatchItemFailures) and an EventBridge
schedule every minute that sweeps the table for every pending
delivery that is due (logic/webhooks/sender.py says why the table, not the queue, is the schedule)."""

from __future__ import annotations

from typing import Any

from posthorn.coldstart import lambda_init

# Lambda's init is this module's import: see posthorn/coldstart.py.
with lambda_init():
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from posthorn import logs, tracing, wiring
    from posthorn.logic.webhooks.sender import attempt_all, sweep

    wiring.webhook_sender_imports()
    tracer = tracing.tracer()

logger = logs.service_logger()
metrics = Metrics()


def _log_error(delivery_id: str, error: Exception) -> None:
    # The error's class and text only: an endpoint's answer is never logged, nor a payload.
    logger.error(
        "webhook attempt failed inside the sender",
        extra={"delivery_id": delivery_id, "error": type(error).__name__},
    )


def _send_prompts(records: list[dict[str, Any]]) -> dict[str, Any]:
    prompts = wiring.webhook_prompts(records)
    for message_id in prompts.unreadable:
        logger.warning("unreadable webhook prompt dropped", extra={"message_id": message_id})
    report = attempt_all(prompts.items, wiring.sender_context(), wiring.attempt_calls(), _log_error)
    prompts.put_back(report.put_back, report.put_back_seconds)
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=f"Webhook_{outcome}", unit=MetricUnit.Count, value=count)
    logs.outcome(logger, metrics, "webhook prompts processed")
    return {"batchItemFailures": [{"itemIdentifier": item} for item in report.put_back]}


@logs.per_invocation(logger, metrics)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from posthorn.settings import WebhookSenderSettings  # at first use, as every setting is read

    wiring.settings(WebhookSenderSettings)  # the first invocation fails here, naming what is missing
    records = event.get("Records")
    if records is not None:
        return _send_prompts(records)
    swept = sweep(wiring.sender_context())
    metrics.add_metric(name="Webhook_due_swept", unit=MetricUnit.Count, value=swept)
    logs.outcome(logger, metrics, "due webhook deliveries swept")
    return {"swept": swept}
