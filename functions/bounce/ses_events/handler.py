"""Lambda entry point of the events function (EventsFunction in template.yaml), subscribed to the SNS topic
that SES's configuration sets and identity notifications publish to."""

from __future__ import annotations

from typing import Any

from posthorn.coldstart import lambda_init

# Lambda's init is this module's import: see posthorn/coldstart.py.
with lambda_init():
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    # What every invocation uses, imported during init (wiring's factories import on first use).
    from posthorn import logs, tracing, wiring
    from posthorn.logic.events.recording import Outcomes, record_sns_messages
    from posthorn.logic.guard.pausing import check_domain

    tracer = tracing.tracer()  # imports the X-Ray SDK where tracing is on

logger = logs.service_logger()
metrics = Metrics()


class UnprocessableRecords(Exception):
    """Raised when malformed records cannot be parked: Lambda retries, then its own DLQ takes the event."""


def _park_malformed(records: list[dict[str, Any]], outcomes: Outcomes) -> None:
    if not outcomes.malformed:
        return
    dead_letters = wiring.dead_letters()
    for index, error in outcomes.malformed:
        logger.warning("malformed SES notification", extra={"record": index, "reason": error.reason})
        if dead_letters is None:
            raise UnprocessableRecords(
                f"{len(outcomes.malformed)} malformed record(s) and no dead-letter queue"
            )
        dead_letters.park(records[index], error.reason)


@logs.per_invocation(logger, metrics)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from posthorn.settings import EventsSettings  # at first use, as every setting is read

    wiring.settings(EventsSettings)  # the first invocation fails here, naming any variable it lacks
    records: list[dict[str, Any]] = event.get("Records") or []
    messages = [str((record.get("Sns") or {}).get("Message", "")) for record in records]
    now = wiring.clock().now()
    outcomes = record_sns_messages(
        messages,
        wiring.message_events(),
        wiring.suppressions(),
        now,
        guard=lambda domain: check_domain(domain, wiring.guard_context(), now),
        announcer=wiring.event_announcer(),
    )
    if outcomes.counts["domain_paused"]:
        logger.warning("the deliverability guard paused a domain", extra=dict(outcomes.counts))
    for outcome, count in outcomes.counts.items():
        metrics.add_metric(name=f"Events_{outcome}", unit=MetricUnit.Count, value=count)
    if outcomes.counts["unmatched"]:
        logger.warning("events for unknown messages kept under UNMATCHED#", extra=dict(outcomes.counts))
    _park_malformed(records, outcomes)
    logs.outcome(logger, metrics, "notifications processed")
    return {"records": len(records), "outcomes": dict(outcomes.counts)}
