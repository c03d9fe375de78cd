"""Which permission each route needs, and authenticating the caller before anything else happens. A route
takes the caller's credential as a parameter: `credential: CallerCredential`."""

from __future__ import annotations

from typing import Annotated, cast

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from posthorn import wiring
from posthorn.logic.accounts.credentials import authenticate, require
from posthorn.models.credentials import Credential, Permission
from send_api import request_log
from send_api.provided import provided

PUBLIC = frozenset({("GET", "/v1/health"), ("GET", "/v1/docs")})
PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("POST", "/v1/email"): Permission.SEND,
    ("POST", "/v1/email/batch"): Permission.SEND,
    ("GET", "/v1/messages"): Permission.READ,
    ("GET", "/v1/messages/{message_id}"): Permission.READ,
    ("GET", "/v1/stats"): Permission.READ,
    ("GET", "/v1/suppressions"): Permission.READ,
    ("GET", "/v1/suppressions/{email}"): Permission.READ,
    ("POST", "/v1/suppressions"): Permission.SEND,
    ("DELETE", "/v1/suppressions/{email}"): Permission.SEND,
    ("POST", "/v1/files"): Permission.FILES,
    ("POST", "/v1/files/uploads"): Permission.FILES,
    ("GET", "/v1/files/{file_key}"): Permission.FILES,
    ("DELETE", "/v1/files/{file_key}"): Permission.FILES,
    ("POST", "/v1/domains"): Permission.ADMIN,
    ("GET", "/v1/domains/{domain}"): Permission.ADMIN,
    ("POST", "/v1/domains/{domain}/resume"): Permission.ADMIN,
    ("POST", "/v1/credentials"): Permission.ADMIN,
    ("GET", "/v1/credentials"): Permission.ADMIN,
    ("PATCH", "/v1/credentials/{username}"): Permission.ADMIN,
    # --- administration that finishes the job (issue 13)
    ("GET", "/v1/domains"): Permission.ADMIN,
    ("DELETE", "/v1/domains/{domain}"): Permission.ADMIN,
    ("GET", "/v1/credentials/{username}"): Permission.ADMIN,
    ("POST", "/v1/credentials/{username}/secret"): Permission.ADMIN,
    # --- webhooks
    ("POST", "/v1/webhooks"): Permission.WEBHOOKS,
    ("GET", "/v1/webhooks"): Permission.WEBHOOKS,
    ("GET", "/v1/webhooks/{webhook_id}"): Permission.WEBHOOKS,
    ("PATCH", "/v1/webhooks/{webhook_id}"): Permission.WEBHOOKS,
    ("DELETE", "/v1/webhooks/{webhook_id}"): Permission.WEBHOOKS,
    ("POST", "/v1/webhooks/{webhook_id}/secret"): Permission.WEBHOOKS,
    ("POST", "/v1/webhooks/{webhook_id}/test"): Permission.WEBHOOKS,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Permission.WEBHOOKS,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"): Permission.WEBHOOKS,
    # --- compatible surfaces (send_api.compat): each authenticates from its vendor's header itself
    ("POST", "/api/v2/{service}"): Permission.SEND,
}


def route_key(app: BaseRouter) -> tuple[str, str]:
    event = cast(APIGatewayProxyEvent, app.current_event)
    return event.http_method.upper(), event.resource or event.path


def is_v1(key: tuple[str, str]) -> bool:
    """Routes under `/v1` are authenticated here; the others are a compatible surface's (which reads the key
    from the vendor's own header, `send_api.compat.surface`) or public."""
    return key[1].startswith("/v1/")


def authorize(app: BaseRouter) -> Credential | None:
    """Authenticate the request and check the route's permission. Public routes need no credential. The
    authenticated credential is in the request's context (`caller`) before the permission is checked, so
    a 403 for a missing permission is an authenticated answer too (with its `RateLimit-*` fields)."""
    key = route_key(app)
    if key in PUBLIC or not is_v1(key):
        return None
    credential = authenticate(
        app.current_event.headers.get("authorization"),
        provided(app, wiring.credentials),
        provided(app, wiring.pepper),
        now=provided(app, wiring.clock).now(),
    )
    app.append_context(credential=credential)
    request_log.note(username=credential.username)
    permission = PERMISSIONS.get(key)
    if permission is not None:
        require(credential, permission)
    return credential


def caller(request: Request) -> Credential:
    """The credential the authentication middleware verified for this request."""
    credential = request.context.get("credential")
    if not isinstance(credential, Credential):
        raise RuntimeError("route reached without a credential")
    return credential


CallerCredential = Annotated[Credential, Depends(caller)]
