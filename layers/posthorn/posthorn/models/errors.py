"""The error object (docs/api.md, "Errors"), the body of every error answer (`{"error": {"code", "message",
"details"}}`) and the `error` of a rejected batch item. Built on first use (`defer_build`): only the OpenAPI
document and a batch with a rejected item need them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _absent(value: object) -> bool:
    return value is None


class ErrorDetail(BaseModel):
    """One field's problem: `field` is the path in the request (`to[3].email`), absent for the whole body."""

    model_config = ConfigDict(defer_build=True)

    field: str | None = Field(default=None, exclude_if=_absent, examples=["to[0].email"])
    message: str = Field(examples=["value is not a valid email address"])


class ApiError(BaseModel):
    """What went wrong: a stable `code` to branch on (docs/api.md, "Errors"), a `message` for people."""

    model_config = ConfigDict(defer_build=True)

    code: str = Field(examples=["validation_error"])
    message: str
    details: list[ErrorDetail] | None = Field(default=None, exclude_if=_absent)


class ErrorObject(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(defer_build=True)

    error: ApiError
