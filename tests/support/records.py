"""Builders for the stored records the tests start from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from posthorn.models.credentials import Credential, CredentialStatus, Permission
from posthorn.models.domains import DomainRecord, DomainStatus
from posthorn.models.messages import MessageRecord, RecipientState, RecipientType

CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def message_record(
    message_id: str = "m1",
    *,
    recipients: Iterable[str | RecipientState] = ("a@example.net",),
    status: str = "queued",
    recipient_status: str | None = None,
    recipient_type: RecipientType = "to",
    username: str = "ph_user",
    domain: str = "example.com",
    from_email: str | None = None,
    subject: str = "Hi",
    created_at: datetime = CREATED_AT,
    **fields: Any,
) -> MessageRecord:
    """A stored message. Recipients given as addresses are `recipient_type`, with `recipient_status`
    (`status` unless told); `from_email` is hello@`domain`; `fields` sets the rest (tags, metadata, ...)."""
    states = [
        recipient
        if isinstance(recipient, RecipientState)
        else RecipientState(email=recipient, type=recipient_type, status=recipient_status or status)
        for recipient in recipients
    ]
    return MessageRecord(
        message_id=message_id,
        username=username,
        domain=domain,
        from_email=from_email or f"hello@{domain}",
        subject=subject,
        status=status,
        created_at=created_at,
        recipients=states,
        **fields,
    )


def domain_record(
    domain: str = "example.com",
    *,
    status: DomainStatus = DomainStatus.VERIFIED,
    created_at: datetime = CREATED_AT,
) -> DomainRecord:
    """A registered sending domain (verified unless told), without DNS records."""
    return DomainRecord(domain=domain, status=status, dns_records=[], created_at=created_at)


def credential(
    username: str = "ph_app",
    *,
    domains: Iterable[str] = ("example.com",),
    permissions: Iterable[Permission] = (Permission.SEND,),
    status: CredentialStatus = CredentialStatus.ACTIVE,
    created_at: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
) -> Credential:
    """A stored credential (its `secret_hash` is no real hash: for logic that never checks it)."""
    return Credential(
        username=username,
        secret_hash="x",
        name="app",
        domains=list(domains),
        permissions=list(permissions),
        status=status,
        created_at=created_at,
    )


def webhook_record(
    webhook_id: str = "wh_1",
    *,
    url: str = "https://hooks.example.org/posthorn",
    events: Iterable[str] = ("*",),
    domains: Iterable[str] = ("example.com",),
    secrets: Iterable[str] = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",),
    **fields: Any,
) -> Any:
    """A stored webhook whose secrets are sealed the way `FakeSecretBox` seals them."""
    from posthorn.models.webhooks import SealedSecret, WebhookRecord
    from tests.support.fakes import FakeSecretBox

    box = FakeSecretBox()
    return WebhookRecord(
        webhook_id=webhook_id,
        username="ph_app",
        url=url,
        events=list(events),
        domains=list(domains),
        created_at=CREATED_AT,
        secrets=[SealedSecret(ciphertext=box.seal(s, context=webhook_id)) for s in secrets],
        **fields,
    )
