from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.metrics import MetricUnit

from posthorn.logic.sending import SendContext, send_email
from posthorn.models.email import SendEmailRequest
from posthorn.models.messages import SendResult
from send_api import dependencies
from send_api.auth import current_credential
from send_api.idempotency import idempotent, json_response
from send_api.observability import metrics

router = APIGatewayRouter()


@router.post(
    "/v1/email",
    summary="Send one message",
    tags=["sending"],
    responses={200: {"description": "Sent", "content": {"application/json": {"model": SendResult}}}},
)
def send(
    message: Annotated[SendEmailRequest, Body(embed=False)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=256)] = None,
) -> Response[SendResult]:
    credential = current_credential(router)
    settings = dependencies.settings()
    context = SendContext(
        messages=dependencies.store(),
        domains=dependencies.store(),
        transport=dependencies.transport(),
        clock=dependencies.clock,
        configuration_set=settings.configuration_set(
            track_opens=message.track_opens, track_clicks=message.track_clicks
        ),
        budget_seconds=settings.send_budget_seconds,
        files=dependencies.file_cache(),
    )

    def send_and_count() -> Response[SendResult]:
        result = send_email(message, credential, context)
        metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RecipientsSent", unit=MetricUnit.Count, value=result.count)
        return json_response(200, result)

    return idempotent(router, credential, send_and_count)
