"""Sending domains and the DNS records that verify them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from posthorn.models.credentials import Domain


class DomainStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    FAILED = "failed"


class DnsRecord(BaseModel):
    type: str
    name: str
    value: str
    purpose: str


class Sending(StrEnum):
    """Whether the deliverability guard lets the domain send (`logic/guard/pausing.py`)."""

    ENABLED = "enabled"
    PAUSED = "paused"


class WindowStart(BaseModel):
    """Where the guard's window begins after a resume: the hour of the resume and what that hour's counters
    held then, so the bounces and complaints that paused the domain no longer count."""

    hour: str
    sent: int = 0
    bounced: int = 0
    complained: int = 0


class DomainRecord(BaseModel):
    domain: str
    status: DomainStatus
    dns_records: list[DnsRecord]
    created_at: datetime
    sending: Sending = Sending.ENABLED
    paused_at: datetime | None = None
    paused_reason: str | None = None
    window_start: WindowStart | None = None

    @property
    def verified(self) -> bool:
        return self.status is DomainStatus.VERIFIED

    @property
    def paused(self) -> bool:
        return self.sending is Sending.PAUSED


class Reputation(BaseModel):
    """The guard's window for a domain (docs/api.md, "Deliverability guard"): rates are over `sent`."""

    window: int
    sent: int
    bounced: int
    complained: int
    bounce_rate: float
    complaint_rate: float


# What GET /v1/domains/{domain} and POST /v1/domains/{domain}/resume answer (built on first use).
class DomainView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    domain: str
    status: DomainStatus
    dns_records: list[DnsRecord]
    created_at: datetime
    sending: Sending
    paused_at: datetime | None
    paused_reason: str | None
    reputation: Reputation | None = None

    @classmethod
    def of(cls, record: DomainRecord, reputation: Reputation | None = None) -> DomainView:
        return cls(**record.model_dump(exclude={"window_start"}), reputation=reputation)


# Built on first use (`defer_build`): only POST /v1/domains takes it (see models/credentials.py).
class CreateDomainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    domain: Domain


class DomainList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    domains: list[DomainView]


class IdentityStatus(NamedTuple):
    verified: bool
    dkim_tokens: list[str]
