from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from posthorn import wiring
from posthorn.errors import (
    AllRecipientsSuppressed,
    DomainNotVerified,
    DomainPaused,
    IdempotencyConflict,
    InvalidJson,
    MissingTemplateData,
    PayloadTooLarge,
    PosthornError,
    RateLimited,
    SenderNotAllowed,
    UpstreamRejected,
    UpstreamUnavailable,
    ValidationFailed,
)
from posthorn.logic.sending.batches import accept_batch
from posthorn.logic.sending.idempotency import IdempotencyKeys
from posthorn.logic.sending.rate_limits import CredentialRates
from posthorn.logic.sending.steps import SendContext, send_email
from posthorn.models.batches import SendBatchRequest, SendBatchResult
from posthorn.models.email import SendEmailRequest
from posthorn.models.messages import SendResult
from send_api import examples, request_log
from send_api.auth import CallerCredential
from send_api.contract import Success, answers, request_example
from send_api.errors import validation_failure
from send_api.idempotency import idempotent
from send_api.observability import metrics
from send_api.responses import json_response

router = APIGatewayRouter()
# What posthorn.logic.sending.idempotency.scope_key accepts, said in the document (and checked here first).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=256,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Send the same key again to get the first answer instead of a second message",
    ),
]
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "The credential's burst: messages it may send at once",
    "RateLimit-Remaining": "Messages it may send now",
    "RateLimit-Reset": "Seconds until the bucket is full again",
}
SEND_ERRORS = [
    InvalidJson,
    SenderNotAllowed,
    DomainNotVerified,
    DomainPaused,
    IdempotencyConflict,
    PayloadTooLarge,
    ValidationFailed,
    MissingTemplateData,
    AllRecipientsSuppressed,
    RateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
]
Sending = Annotated[SendContext, Depends(wiring.send_context)]
Rates = Annotated[CredentialRates, Depends(wiring.credential_rates)]
Keys = Annotated[IdempotencyKeys, Depends(wiring.idempotency_keys)]


@router.post(
    "/v1/email",
    operation_id="send_email",
    summary="Send one message",
    tags=["sending"],
    responses=answers(
        Success(200, "Sent", SendResult, example=examples.SENT, headers=RATE_LIMIT_HEADERS),
        Success(
            202,
            "SES was briefly unavailable: stored and queued, to be sent by the worker",
            SendResult,
            example=examples.QUEUED,
            headers=RATE_LIMIT_HEADERS,
        ),
        errors=SEND_ERRORS,
    ),
)
def send(
    message: Annotated[
        SendEmailRequest,
        Body(embed=False, openapi_examples=request_example(examples.SEND_REQUEST, "A receipt")),
    ],
    credential: CallerCredential,
    context: Sending,
    rates: Rates,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> Response[SendResult]:

    def send_and_count() -> Response[SendResult]:
        limits = rates.take(credential, 1)
        result = send_email(message, credential, context)
        request_log.note(message_id=result.message_id)
        if result.status == "queued":
            metrics.add_metric(name="MessagesQueuedOnFallback", unit=MetricUnit.Count, value=1)
            return json_response(202, result, limits.headers())
        metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RecipientsSent", unit=MetricUnit.Count, value=result.count)
        return json_response(200, result, limits.headers())

    return idempotent(router, credential, keys, send_and_count)


@router.post(
    "/v1/email/batch",
    operation_id="send_batch",
    summary="Queue up to 500 messages",
    description=(
        "Each message is validated on its own: a result per index says `queued` (with its message_id) or "
        "`rejected` (with the error a single send would get). Accepted messages are stored before the "
        "answer and sent by the send worker at the SES rate. The rate limit counts every message."
    ),
    tags=["sending"],
    responses=answers(
        Success(
            202,
            "Accepted: a result per message",
            SendBatchResult,
            example=examples.BATCH_ACCEPTED,
            headers=RATE_LIMIT_HEADERS,
        ),
        errors=[InvalidJson, ValidationFailed, IdempotencyConflict, RateLimited, UpstreamUnavailable],
    ),
)
def send_batch(
    batch: Annotated[
        SendBatchRequest,
        Body(embed=False, openapi_examples=request_example(examples.BATCH_REQUEST, "One good, one bad")),
    ],
    credential: CallerCredential,
    context: Sending,
    rates: Rates,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> Response[SendBatchResult]:
    def accept() -> Response[SendBatchResult]:
        limits = rates.take(credential, len(batch.messages))
        result = accept_batch([_validated(item) for item in batch.messages], credential, context)
        metrics.add_metric(name="MessagesQueued", unit=MetricUnit.Count, value=result.count)
        request_log.note(count=result.count)
        return json_response(202, result, limits.headers())

    return idempotent(router, credential, keys, accept)


def _validated(item: Any) -> SendEmailRequest | PosthornError:
    """One batch item checked exactly as `POST /v1/email` checks its body, with the same error."""
    if not isinstance(item, dict):
        return ValidationFailed("the message must be a JSON object (a POST /v1/email body)")
    try:
        return SendEmailRequest.model_validate(item)
    except ValidationError as error:
        errors = [{**detail, "loc": ("body", *detail["loc"])} for detail in error.errors()]
        return validation_failure(errors, "application/json")
