"""Webhooks and their deliveries (permission `webhooks`), scoped to the credential's domains."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.logic import webhooks
from posthorn.logic.webhook_intake import WebhookIntake
from posthorn.logic.webhooks import WebhookContext
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
from send_api.auth import CallerCredential
from send_api.responses import json_response

router = APIGatewayRouter()
Context = Annotated[WebhookContext, Depends(wiring.webhook_context)]
Intake = Annotated[WebhookIntake, Depends(wiring.webhook_intake)]
Now = Annotated[Clock, Depends(wiring.clock)]


@router.post("/v1/webhooks", summary="Register a webhook (its secret is shown once)", tags=["webhooks"])
def create_webhook(
    request: Annotated[CreateWebhookRequest, Body(embed=False)],
    credential: CallerCredential,
    context: Context,
    clock: Now,
) -> Response[CreatedWebhook]:
    return json_response(201, webhooks.create(credential, request, context, clock.now()))


@router.get("/v1/webhooks", summary="The webhooks of the credential's domains", tags=["webhooks"])
def list_webhooks(credential: CallerCredential, context: Context) -> WebhookList:
    return WebhookList(webhooks=webhooks.list_for(credential, context.webhooks))


@router.get("/v1/webhooks/<webhook_id>", summary="A webhook", tags=["webhooks"])
def get_webhook(webhook_id: str, credential: CallerCredential, context: Context) -> WebhookView:
    return webhooks.get(credential, context.webhooks, webhook_id)


@router.patch(
    "/v1/webhooks/<webhook_id>", summary="Change a webhook, or enable/disable it", tags=["webhooks"]
)
def update_webhook(
    webhook_id: str,
    request: Annotated[UpdateWebhookRequest, Body(embed=False)],
    credential: CallerCredential,
    context: Context,
) -> WebhookView:
    return webhooks.update(credential, webhook_id, request, context)


@router.delete("/v1/webhooks/<webhook_id>", summary="Delete a webhook", tags=["webhooks"])
def delete_webhook(webhook_id: str, credential: CallerCredential, context: Context) -> Response[None]:
    webhooks.delete(credential, context.webhooks, webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/<webhook_id>/secret",
    summary="A new signing secret; the old one also signs for 24 h",
    tags=["webhooks"],
)
def rotate_webhook_secret(
    webhook_id: str, credential: CallerCredential, context: Context, clock: Now
) -> Response[RotatedSecret]:
    secret = webhooks.rotate_secret(credential, webhook_id, context, clock.now())
    return json_response(201, RotatedSecret(secret=secret))


@router.post("/v1/webhooks/<webhook_id>/test", summary="Send a webhook.test event now", tags=["webhooks"])
def test_webhook(
    webhook_id: str, credential: CallerCredential, context: Context, intake: Intake
) -> Response[DeliveryAccepted]:
    delivery_id = webhooks.send_test(credential, webhook_id, context, intake)
    return json_response(202, DeliveryAccepted(delivery_id=delivery_id))


@router.get(
    "/v1/webhooks/<webhook_id>/deliveries",
    summary="A webhook's deliveries and their attempts, newest first",
    tags=["webhooks"],
)
def list_deliveries(
    webhook_id: str,
    credential: CallerCredential,
    context: Context,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> DeliveryList:
    return webhooks.list_deliveries(
        credential, context, webhook_id, status=status, limit=limit, cursor=cursor
    )


@router.post(
    "/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/replay",
    summary="Send a delivery again now, with the same webhook-id",
    tags=["webhooks"],
)
def replay_delivery(
    webhook_id: str, delivery_id: str, credential: CallerCredential, context: Context, clock: Now
) -> Response[DeliveryAccepted]:
    replayed = webhooks.replay(credential, webhook_id, delivery_id, context, clock.now())
    return json_response(202, DeliveryAccepted(delivery_id=replayed))
