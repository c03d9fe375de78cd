"""The webhook routes' use cases (docs/api.md, "Webhooks"), scoped to the credential's domains.

A credential sees a webhook when every domain the webhook covers is one of the credential's: a webhook for
a.com and b.com is invisible (404) to a credential of a.com alone, which could otherwise redirect b.com's
events. Ids of webhooks outside the scope answer 404 as unknown ones do, so ids leak nothing.

The signing secret is shown once (creation, rotation) and stored only sealed by the `SecretBox` (KMS,
bound to the webhook's id), which only the API (seal) and the sender (open) may use. A rotation keeps the
old secret signing for 24 h: both sign every request meanwhile, as docs/api.md says ("Webhooks").
"""

from __future__ import annotations

import secrets as random_source
from datetime import datetime, timedelta

from posthorn.errors import NotFound, ValidationFailed
from posthorn.logic.webhooks import signing
from posthorn.logic.webhooks.addresses import validate_url
from posthorn.logic.webhooks.contexts import WebhookContext, WebhookFanout
from posthorn.logic.webhooks.fanout import Announcement, announce, webhook_test_announcement
from posthorn.models.credentials import Credential
from posthorn.models.webhooks import (
    CreatedWebhook,
    CreateWebhookRequest,
    DeliveryList,
    DeliveryRecord,
    DeliveryView,
    DueDelivery,
    SealedSecret,
    UpdateWebhookRequest,
    WebhookRecord,
    WebhookView,
)
from posthorn.ports import SecretBox, WebhookStore

ROTATION_OVERLAP = timedelta(hours=24)
MAX_WEBHOOKS_PER_DOMAIN = 20


def new_webhook_id() -> str:
    return "wh_" + random_source.token_hex(12)


def _scope(credential: Credential, domains: list[str] | None) -> list[str]:
    if domains is None:
        if not credential.domains:
            raise ValidationFailed.on("domains", "this credential has no domains to send events for")
        return sorted(credential.domains)
    foreign = [domain for domain in domains if not credential.owns_domain(domain)]
    if foreign:
        raise ValidationFailed.on("domains", f"{foreign[0]} is not one of this credential's domains")
    return sorted(dict.fromkeys(domains))


def visible(credential: Credential, record: WebhookRecord | None) -> bool:
    return record is not None and all(credential.owns_domain(domain) for domain in record.domains)


def _owned(credential: Credential, store: WebhookStore, webhook_id: str) -> WebhookRecord:
    record = store.get_webhook(webhook_id)
    if record is None or not visible(credential, record):
        raise NotFound(f"no webhook {webhook_id}")
    return record


def _seal(secret: str, webhook_id: str, box: SecretBox) -> SealedSecret:
    return SealedSecret(ciphertext=box.seal(secret, context=webhook_id))


def create(
    credential: Credential, request: CreateWebhookRequest, context: WebhookContext, now: datetime
) -> CreatedWebhook:
    url = validate_url(request.url, allow_loopback=context.allow_loopback)
    domains = _scope(credential, request.domains)
    for domain in domains:
        if len(context.webhooks.webhooks_for_domain(domain)) >= MAX_WEBHOOKS_PER_DOMAIN:
            raise ValidationFailed.on("domains", f"{domain} has {MAX_WEBHOOKS_PER_DOMAIN} webhooks already")
    webhook_id = new_webhook_id()
    secret = signing.new_secret()
    record = WebhookRecord(
        webhook_id=webhook_id,
        username=credential.username,
        url=url,
        events=request.events,
        domains=domains,
        description=request.description,
        created_at=now,
        secrets=[_seal(secret, webhook_id, context.secrets)],
    )
    context.webhooks.put_webhook(record)
    return CreatedWebhook(**WebhookView.of(record).model_dump(), secret=secret)


def list_for(credential: Credential, store: WebhookStore) -> list[WebhookView]:
    found: dict[str, WebhookRecord] = {}
    for domain in sorted(credential.domains):
        for record in store.webhooks_for_domain(domain):
            found.setdefault(record.webhook_id, record)
    # The domain copies can lag a moment behind; the stored webhook is the truth.
    records = [store.get_webhook(webhook_id) for webhook_id in found]
    shown = [record for record in records if record is not None and visible(credential, record)]
    return [WebhookView.of(record) for record in sorted(shown, key=lambda r: r.created_at, reverse=True)]


def get(credential: Credential, store: WebhookStore, webhook_id: str) -> WebhookView:
    return WebhookView.of(_owned(credential, store, webhook_id))


def update(
    credential: Credential, webhook_id: str, request: UpdateWebhookRequest, context: WebhookContext
) -> WebhookView:
    record = _owned(credential, context.webhooks, webhook_id)
    changes = request.model_dump(exclude_unset=True)
    for name in ("url", "events", "domains", "status"):
        if name in changes and changes[name] is None:
            raise ValidationFailed.on(name, "cannot be null")
    if "url" in changes:
        changes["url"] = validate_url(changes["url"], allow_loopback=context.allow_loopback)
    if "domains" in changes:
        changes["domains"] = _scope(credential, changes["domains"])
    if changes.get("status") == "enabled":
        changes.update(disabled_reason=None, failing_since=None)
    elif changes.get("status") == "disabled" and record.status == "enabled":
        changes["disabled_reason"] = "disabled through the API"
    updated = record.model_copy(update=changes)
    context.webhooks.put_webhook(updated, previous=record)
    return WebhookView.of(updated)


def delete(credential: Credential, store: WebhookStore, webhook_id: str) -> None:
    store.delete_webhook(_owned(credential, store, webhook_id))


def rotate_secret(credential: Credential, webhook_id: str, context: WebhookContext, now: datetime) -> str:
    """A new secret; the current one keeps signing for 24 h (older ones stop now)."""
    record = _owned(credential, context.webhooks, webhook_id)
    secret = signing.new_secret()
    current = [s for s in record.secrets if s.expires_at is None]
    kept = [s.model_copy(update={"expires_at": now + ROTATION_OVERLAP}) for s in current[:1]]
    updated = record.model_copy(update={"secrets": [_seal(secret, webhook_id, context.secrets), *kept]})
    context.webhooks.put_webhook(updated, previous=record)
    return secret


def send_test(credential: Credential, webhook_id: str, context: WebhookContext, fanout: WebhookFanout) -> str:
    """A `webhook.test` delivery to this webhook, sent now, whatever events it takes."""
    record = _owned(credential, context.webhooks, webhook_id)
    announcement: Announcement = webhook_test_announcement(record, fanout.clock.now())
    made = announce(fanout, announcement, to=record)
    return made[0]


def list_deliveries(
    credential: Credential,
    context: WebhookContext,
    webhook_id: str,
    *,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> DeliveryList:
    _owned(credential, context.webhooks, webhook_id)
    records, next_cursor = context.deliveries.list_deliveries(
        webhook_id, status=status, limit=limit, cursor=cursor
    )
    return DeliveryList(deliveries=[DeliveryView.of(r) for r in records], next_cursor=next_cursor)


def _owned_delivery(
    credential: Credential, context: WebhookContext, webhook_id: str, delivery_id: str
) -> DeliveryRecord:
    _owned(credential, context.webhooks, webhook_id)
    record = context.deliveries.get_delivery(delivery_id)
    if record is None or record.webhook_id != webhook_id:
        raise NotFound(f"no delivery {delivery_id} for webhook {webhook_id}")
    return record


def replay(
    credential: Credential, webhook_id: str, delivery_id: str, context: WebhookContext, now: datetime
) -> str:
    """Send the delivery again now, with the same `webhook-id` and body, its retry schedule started over."""
    _owned_delivery(credential, context, webhook_id, delivery_id)
    record = context.deliveries.send_again(delivery_id, now)
    webhook = context.webhooks.get_webhook(webhook_id)
    if record is None or webhook is None:
        raise NotFound(f"no delivery {delivery_id} for webhook {webhook_id}")
    context.notices.notify([DueDelivery(delivery_id, webhook_id, webhook.slow)])
    return delivery_id
