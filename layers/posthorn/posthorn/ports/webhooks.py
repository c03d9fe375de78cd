"""Webhooks: their store and health, deliveries and their claims, secrets, the HTTP poster, alarms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from datetime import datetime

    from posthorn.models.webhooks import DeliveryRecord, DueDelivery, PostResult, WebhookRecord


class WebhookDirectory(Protocol):
    """What the webhook fan-out reads: the webhooks that may want a domain's events."""

    def webhooks_for_domain(self, domain: str) -> list[WebhookRecord]: ...


class WebhookStore(WebhookDirectory, Protocol):
    """The webhook routes: a webhook is stored once, with a copy per domain for the fan-out to find it."""

    def put_webhook(self, record: WebhookRecord, *, previous: WebhookRecord | None = None) -> None:
        """Store `record` (new, or replacing `previous`: its domain copies move with it)."""
        ...

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None: ...
    def delete_webhook(self, record: WebhookRecord) -> None: ...


class WebhookHealth(Protocol):
    """What the sender writes about an endpoint."""

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None: ...
    def note_success(self, webhook_id: str) -> None: ...
    def note_failure(self, webhook_id: str, at: datetime) -> None:
        """Remember the first failure since the last success (kept when one is already there)."""
        ...

    def disable_webhook(self, webhook_id: str, reason: str) -> WebhookRecord | None: ...
    def set_slow(self, webhook_id: str, slow: bool) -> None:
        """Move the webhook's prompts to the slow lane, or back (its copies too)."""
        ...


class DeliveryWriter(Protocol):
    """The webhook fan-out: deliveries are made once (ids derived from the event and the webhook)."""

    def create_delivery(self, record: DeliveryRecord) -> bool:
        """Store a new delivery; False when one with its id is already there."""
        ...


class DeliveryStore(DeliveryWriter, Protocol):
    """The delivery routes."""

    def get_delivery(self, delivery_id: str) -> DeliveryRecord | None: ...
    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        """Newest first; the cursor of the next page, None on the last."""
        ...

    def send_again(self, delivery_id: str, at: datetime) -> DeliveryRecord | None:
        """Make the delivery pending and due at `at`, its retry schedule started over (replay)."""
        ...


class DeliveryClaims(Protocol):
    """The sender: the right to make one attempt of a due delivery, and its outcome."""

    def claim_delivery(
        self, delivery_id: str, *, now: datetime, lease_seconds: float, token: str
    ) -> DeliveryRecord | None:
        """The delivery, when it is pending, due, and no other sender holds it; None otherwise."""
        ...

    def finish_attempt(self, record: DeliveryRecord, *, token: str) -> bool:
        """Write the attempt's outcome (status, attempts, next attempt) if the claim is still ours."""
        ...

    def due_deliveries(self, now: datetime, *, limit: int) -> list[DueDelivery]:
        """Pending deliveries due at `now` or before, oldest due first."""
        ...


class DeliveryNotices(Protocol):
    """The sender's queue: a prompt to attempt deliveries now or after a short delay (the table holds what
    is due; a lost prompt only means the next sweep finds it)."""

    def notify(self, deliveries: list[DueDelivery], *, delay_seconds: int = 0) -> bool:
        """False when the prompt could not be queued (the sweep will find the deliveries)."""
        ...


class SecretBox(Protocol):
    """Webhook signing secrets, encrypted at rest and bound to their webhook (`context`)."""

    def seal(self, secret: str, *, context: str) -> str: ...
    def open(self, sealed: str, *, context: str) -> str: ...


class WebhookPoster(Protocol):
    def post(
        self,
        url: str,
        headers: dict[str, str],
        body: str,
        *,
        timeout: float,
        answer_within: float | None = None,
    ) -> PostResult:
        """`timeout`: seconds for the whole attempt; `answer_within`: seconds to connect and, once the request
        is sent, to answer (`timed_out` says either ran out: before sending, nothing reached the endpoint)."""
        ...


class Alarms(Protocol):
    """The stack's alarm topic: what an operator is told."""

    def alarm(self, subject: str, message: str) -> None: ...
