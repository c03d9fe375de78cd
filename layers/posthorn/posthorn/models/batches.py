"""`POST /v1/email/batch`: up to 500 messages, each validated on its own, and a result per index."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from posthorn.models.errors import ApiError

MAX_BATCH_MESSAGES = 500


# The batch's models are built on first use (`defer_build`; see models/credentials.py): a single send, what
# most cold starts are for, never uses them.
class SendBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    # Items are validated one by one (a bad item is rejected, the others are queued), so the batch's own
    # schema only counts them; each item is a `POST /v1/email` body.
    messages: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH_MESSAGES,
        description="Up to 500 messages, each a POST /v1/email body (SendEmailRequest)",
        # Any item is taken, and one that is not a valid message is rejected at its index (202), so the
        # document says "a message, or anything else" rather than refusing the batch for it.
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"$ref": "#/components/schemas/SendEmailRequest"},
                    {"description": "anything else is rejected at its index"},
                ]
            }
        },
    )


def _absent(value: object) -> bool:
    return value is None


class BatchItemResult(BaseModel):
    """`queued` with its `message_id`, or `rejected` with its `error` (the absent one is left out)."""

    model_config = ConfigDict(defer_build=True)

    index: int
    status: Literal["queued", "rejected"]
    message_id: str | None = Field(default=None, exclude_if=_absent)
    # The error a single send would have answered with.
    error: ApiError | None = Field(default=None, exclude_if=_absent)


class SendBatchResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    count: int = Field(description="How many messages were accepted (queued)")
    results: list[BatchItemResult]
