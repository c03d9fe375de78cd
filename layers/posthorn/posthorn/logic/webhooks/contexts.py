"""The adapters the webhook use cases take, in a module of their own: the API's routes name them in their
signatures at init, and importing the use cases themselves (`logic/webhooks/management.py`,
`logic/webhooks/fanout.py`)
waits until a webhook route is called (the API's cold start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posthorn.ports import (
        Clock,
        DeliveryNotices,
        DeliveryStore,
        DeliveryWriter,
        SecretBox,
        WebhookDirectory,
        WebhookStore,
    )


@dataclass
class WebhookFanout:
    """What the webhook fan-out needs: where a domain's webhooks are, where deliveries go, the queue."""

    webhooks: WebhookDirectory
    deliveries: DeliveryWriter
    notices: DeliveryNotices
    clock: Clock


@dataclass
class WebhookContext:
    """What the webhook routes need."""

    webhooks: WebhookStore
    deliveries: DeliveryStore
    notices: DeliveryNotices
    secrets: SecretBox
    allow_loopback: bool = False
