"""Lambda entry point of the HTTPS API (SendFunction in template.yaml)."""

from __future__ import annotations

from typing import Any

from posthorn.coldstart import lambda_init

# Lambda's init is this module's import: see posthorn/coldstart.py.
with lambda_init():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from posthorn import logs, tracing, wiring
    from send_api.app import app
    from send_api.observability import logger, metrics
    from send_api.request_body import canonical_media_type

    tracer = tracing.tracer()  # imports the X-Ray SDK where tracing is on


def api_request_id(event: dict[str, Any]) -> str | None:
    """API Gateway's id of the request, as its access log names it."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else None


@logs.per_invocation(logger, metrics, correlation_id=api_request_id)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from posthorn.settings import ApiSettings  # at first use, as every setting is read

    wiring.settings(ApiSettings)  # the first invocation fails here, naming any variable the API lacks
    return app.resolve(canonical_media_type(event), context)
