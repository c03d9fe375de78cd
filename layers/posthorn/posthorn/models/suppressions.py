"""The suppression list: addresses a domain no longer sends to."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from posthorn.models.addresses import Address
from posthorn.models.credentials import Domain

SuppressionReason = Literal["bounce", "complaint", "manual"]


class Suppression(BaseModel):
    email: str
    domain: str
    reason: SuppressionReason
    created_at: datetime
    source_message_id: str | None = None


# The suppression routes' models are built on first use (`defer_build`; see models/credentials.py).
# `Suppression` is what the events function stores on every bounce: built at import.
class SuppressionList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    suppressions: list[Suppression]


class SuppressionPage(BaseModel):
    """`GET /v1/suppressions`: a page, newest first, and the cursor of the next (null on the last)."""

    model_config = ConfigDict(defer_build=True)

    suppressions: list[Suppression]
    next_cursor: str | None


class CreateSuppressionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    email: Address
    reason: Literal["manual"] = "manual"
    domain: Domain | None = None
