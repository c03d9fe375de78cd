from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

router = APIGatewayRouter()


@router.get("/v1/health", summary="Liveness check (no credential)", tags=["health"])
def health() -> dict[str, str]:
    return {"status": "ok"}
