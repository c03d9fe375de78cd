"""The compatible surfaces (docs/api.md, "Compatible endpoints"): another provider's send routes, answered as
that provider answers, so an app moves to Posthorn by changing a base URL and a key. Each vendor is one module
here with its own `router`; `surface.Surface` is what they share: where the vendor's key is, how its errors
look, and the one send use case behind them all (the same as `POST /v1/email`'s).

`SURFACES` maps a route-template prefix to its module: the resolver registers a vendor's router on the first
request under its prefix (a Postmark send does not import Resend's models), and every one of them before a
request for the OpenAPI document."""

from __future__ import annotations

SURFACES: dict[str, str] = {
    "/postmark/": "postmark",
    "/resend/": "resend",
    "/zeptomail/": "zeptomail",
    "/mailpace/": "mailpace",
    "/api/v2/": "dreamfactory",
}


def surface_of(resource: str | None) -> str | None:
    """The module (`send_api.compat.<name>`) whose routes `resource` (a route template) is under, if any."""
    for prefix, module in SURFACES.items():
        if resource and resource.startswith(prefix):
            return module
    return None
