from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from send_api import examples
from send_api.contract import Success, answers

router = APIGatewayRouter()


class Health(BaseModel):
    status: Literal["ok"]


@router.get(
    "/v1/health",
    operation_id="get_health",
    summary="Liveness check (no credential)",
    tags=["health"],
    responses=answers(Success(200, "The API answers", Health, example=examples.HEALTH), public=True),
)
def health() -> Health:
    return Health(status="ok")
