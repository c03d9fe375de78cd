"""GET /v1/docs: what Powertools' `enable_swagger()` serves (the OpenAPI document with `?format=json`, else
Swagger UI with the document inlined), imported only when the route is asked for (see `send_api.app`)."""

from __future__ import annotations

import json
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response


def docs_response(
    app: APIGatewayRestResolver, *, title: str, version: str, description: str
) -> Response[str]:
    from aws_lambda_powertools.event_handler import api_gateway
    from aws_lambda_powertools.event_handler.openapi.compat import model_json
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, HTTPBase, HTTPBearer
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    from send_api.contract import SECURITY_SCHEMES, finish

    event = app.current_event
    schema = app.get_openapi_schema(
        title=title,
        version=version,
        description=description,
        security_schemes={
            "bearer": HTTPBearer(),
            "basic": HTTPBase(scheme="basic"),
            # The compatible surfaces' key headers (send_api.compat), each route's own security.
            **{name: APIKey.model_validate(scheme) for name, scheme in SECURITY_SCHEMES.items()},
        },
        security=[{"bearer": []}, {"basic": []}],
    )
    generated = json.loads(model_json(schema, by_alias=True, exclude_none=True))
    # '</' escaped, so the document cannot close the <script> it is inlined in.
    document = json.dumps(finish(generated), indent=2).replace("</", "<\\/")
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
