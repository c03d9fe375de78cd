"""Sending domains and the DNS records that verify them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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


class DomainRecord(BaseModel):
    domain: str
    status: DomainStatus
    dns_records: list[DnsRecord]
    created_at: datetime

    @property
    def verified(self) -> bool:
        return self.status is DomainStatus.VERIFIED


# Built on first use (`defer_build`): only POST /v1/domains takes it (see models/credentials.py).
class CreateDomainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    domain: Domain


class DomainList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    domains: list[DomainRecord]
