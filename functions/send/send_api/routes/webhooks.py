"""Webhooks and their deliveries (permission `webhooks`), scoped to the credential's domains. The use cases
(`posthorn.logic.webhooks.management`) are imported by the first webhook request, not at the API's init."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, ValidationFailed
from posthorn.logic.webhooks.contexts import WebhookContext, WebhookFanout
from posthorn.models.webhooks import (
    CreatedWebhook,
    CreateWebhookRequest,
    DeliveryAccepted,
    DeliveryList,
    RotatedSecret,
    UpdateWebhookRequest,
    WebhookList,
    WebhookView,
)
from posthorn.ports import Clock
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers, request_example
from send_api.responses import json_response

router = APIGatewayRouter()
Context = Annotated[WebhookContext, Depends(wiring.webhook_context)]
Fanout = Annotated[WebhookFanout, Depends(wiring.webhook_fanout)]
Now = Annotated[Clock, Depends(wiring.clock)]
NO_WEBHOOK = NotFound(f"no webhook {examples.WEBHOOK_ID}")
NO_DELIVERY = NotFound(f"no delivery {examples.DELIVERY_ID} for webhook {examples.WEBHOOK_ID}")
ACCEPTED = Success(202, "Queued for sending now", DeliveryAccepted, example=examples.DELIVERY_ACCEPTED)


@router.post(
    "/v1/webhooks",
    operation_id="create_webhook",
    summary="Register a webhook (its secret is shown once)",
    tags=["webhooks"],
    responses=answers(
        Success(
            201, "Registered; `secret` is shown this once", CreatedWebhook, example=examples.CREATED_WEBHOOK
        ),
        errors=[InvalidJson, ValidationFailed.on("url", "points to a private address")],
    ),
)
def create_webhook(
    request: Annotated[
        CreateWebhookRequest,
        Body(embed=False, openapi_examples=request_example(examples.WEBHOOK_REQUEST, "Delivery status")),
    ],
    credential: CallerCredential,
    context: Context,
    clock: Now,
) -> Response[CreatedWebhook]:
    from posthorn.logic.webhooks import management

    return json_response(201, management.create(credential, request, context, clock.now()))


@router.get(
    "/v1/webhooks",
    operation_id="list_webhooks",
    summary="The webhooks of the credential's domains",
    tags=["webhooks"],
    responses=answers(Success(200, "The webhooks, newest first", WebhookList, example=examples.WEBHOOKS)),
)
def list_webhooks(credential: CallerCredential, context: Context) -> WebhookList:
    from posthorn.logic.webhooks import management

    return WebhookList(webhooks=management.list_for(credential, context.webhooks))


@router.get(
    "/v1/webhooks/<webhook_id>",
    operation_id="get_webhook",
    summary="A webhook",
    tags=["webhooks"],
    responses=answers(
        Success(200, "The webhook", WebhookView, example=examples.WEBHOOK), errors=[NO_WEBHOOK]
    ),
)
def get_webhook(webhook_id: str, credential: CallerCredential, context: Context) -> WebhookView:
    from posthorn.logic.webhooks import management

    return management.get(credential, context.webhooks, webhook_id)


@router.patch(
    "/v1/webhooks/<webhook_id>",
    operation_id="update_webhook",
    summary="Change a webhook, or enable/disable it",
    tags=["webhooks"],
    responses=answers(
        Success(200, "The webhook as changed", WebhookView, example=examples.DISABLED_WEBHOOK),
        errors=[InvalidJson, ValidationFailed.on("events", "unknown event type 'email.nope'"), NO_WEBHOOK],
    ),
)
def update_webhook(
    webhook_id: str,
    request: Annotated[
        UpdateWebhookRequest,
        Body(embed=False, openapi_examples=request_example(examples.WEBHOOK_UPDATE, "Disable")),
    ],
    credential: CallerCredential,
    context: Context,
) -> WebhookView:
    from posthorn.logic.webhooks import management

    return management.update(credential, webhook_id, request, context)


@router.delete(
    "/v1/webhooks/<webhook_id>",
    operation_id="delete_webhook",
    summary="Delete a webhook",
    tags=["webhooks"],
    responses=answers(Success(204, "Deleted"), errors=[NO_WEBHOOK]),
)
def delete_webhook(webhook_id: str, credential: CallerCredential, context: Context) -> Response[None]:
    from posthorn.logic.webhooks import management

    management.delete(credential, context.webhooks, webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/<webhook_id>/secret",
    operation_id="rotate_webhook_secret",
    summary="A new signing secret; the old one also signs for 24 h",
    tags=["webhooks"],
    responses=answers(
        Success(201, "The new secret, shown this once", RotatedSecret, example=examples.ROTATED_SECRET),
        errors=[NO_WEBHOOK],
    ),
)
def rotate_webhook_secret(
    webhook_id: str, credential: CallerCredential, context: Context, clock: Now
) -> Response[RotatedSecret]:
    from posthorn.logic.webhooks import management

    secret = management.rotate_secret(credential, webhook_id, context, clock.now())
    return json_response(201, RotatedSecret(secret=secret))


@router.post(
    "/v1/webhooks/<webhook_id>/test",
    operation_id="test_webhook",
    summary="Send a webhook.test event now",
    tags=["webhooks"],
    responses=answers(ACCEPTED, errors=[NO_WEBHOOK]),
)
def test_webhook(
    webhook_id: str, credential: CallerCredential, context: Context, fanout: Fanout
) -> Response[DeliveryAccepted]:
    from posthorn.logic.webhooks import management

    delivery_id = management.send_test(credential, webhook_id, context, fanout)
    return json_response(202, DeliveryAccepted(delivery_id=delivery_id))


@router.get(
    "/v1/webhooks/<webhook_id>/deliveries",
    operation_id="list_webhook_deliveries",
    summary="A webhook's deliveries and their attempts, newest first",
    tags=["webhooks"],
    responses=answers(
        Success(200, "A page of deliveries", DeliveryList, example=examples.DELIVERIES),
        errors=[ValidationFailed.on("cursor", "is not a cursor this API gave"), NO_WEBHOOK],
    ),
)
def list_deliveries(
    webhook_id: str,
    credential: CallerCredential,
    context: Context,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> DeliveryList:
    from posthorn.logic.webhooks import management

    return management.list_deliveries(
        credential, context, webhook_id, status=status, limit=limit, cursor=cursor
    )


@router.post(
    "/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/replay",
    operation_id="replay_webhook_delivery",
    summary="Send a delivery again now, with the same webhook-id",
    tags=["webhooks"],
    responses=answers(ACCEPTED, errors=[NO_WEBHOOK, NO_DELIVERY]),
)
def replay_delivery(
    webhook_id: str, delivery_id: str, credential: CallerCredential, context: Context, clock: Now
) -> Response[DeliveryAccepted]:
    from posthorn.logic.webhooks import management

    replayed = management.replay(credential, webhook_id, delivery_id, context, clock.now())
    return json_response(202, DeliveryAccepted(delivery_id=replayed))
