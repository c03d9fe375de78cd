"""GET /v1/docs: what Powertools' `enable_swagger()` serves (the OpenAPI document with `?format=json`, else
Swagger UI with the document inlined), imported only when the route is asked for (see `send_api.app`)."""

from __future__ import annotations

from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response


def docs_response(
    app: APIGatewayRestResolver, *, title: str, version: str, description: str
) -> Response[str]:
    from aws_lambda_powertools.event_handler import api_gateway
    from aws_lambda_powertools.event_handler.openapi.compat import model_json
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBase, HTTPBearer, Server
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    event = app.current_event
    # The stage is in the path when the API is called on its execute-api URL (not on a custom domain).
    stage = event.request_context.stage
    base_path = f"/{stage}" if stage and event.request_context.path.startswith(f"/{stage}") else ""
    schema = app.get_openapi_schema(
        title=title,
        version=version,
        description=description,
        servers=[Server(url=base_path or "/")],
        security_schemes={"bearer": HTTPBearer(), "basic": HTTPBase(scheme="basic")},
        security=[{"bearer": []}, {"basic": []}],
    )
    # '</' escaped, so the document cannot close the <script> it is inlined in.
    document = model_json(schema, by_alias=True, exclude_none=True, indent=2).replace("</", "<\\/")
    if (event.query_string_parameters or {}).get("format") == "json":
        return Response(status_code=200, content_type="application/json", body=document)
    assets = Path(api_gateway.__file__).parent / "openapi" / "swagger_ui"
    html = generate_swagger_html(
        document,
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )
    return Response(status_code=200, content_type="text/html", body=html)
