"""`GET /console/` and `GET /console/{asset}`: the console's static files, with their security headers.

A function of its own, not a route of the send function: the API's cold start imports nothing of this, and
this one imports nothing but the standard library (no layer code, no boto3), so a page load costs a few
milliseconds. The files are packaged with the function (`assets/`, no build step) and read once per
instance. Only names listed in `assets/` are served: a path parameter with a slash, a dot-dot, an unknown
name or an unknown extension is a 404, never a file outside the folder.

The policy allows the console's own scripts, styles and images only (no inline script or style, nothing
from another host), `connect-src 'self'` for its `/v1` calls, and no framing. The HTML preview of a local
outbox message is a separate, sandboxed local route framed from here (`frame-src 'self'`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent / "assets"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\.(?:html|js|css|svg)")
_REFERENCE = re.compile(r'\b(src|href)="([a-z0-9][a-z0-9-]*\.(?:js|css|svg))"')
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# No build step means no content hash in the file names: a browser keeps each file but asks again every
# time (`no-cache` with an ETag), so a deploy is seen at the next load and an unchanged file costs a 304.
CACHE = "no-cache"


@cache
def _asset(name: str) -> tuple[bytes, str] | None:
    """The file's bytes and ETag, or None when `name` is not a file of `assets/`."""
    if name not in {path.name for path in ASSETS.iterdir() if path.is_file()}:
        return None
    data = (ASSETS / name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _answer(status: int, headers: dict[str, str], body: str = "") -> dict[str, Any]:
    return {"statusCode": status, "headers": {**SECURITY_HEADERS, **headers}, "body": body}


def _not_found() -> dict[str, Any]:
    body = json.dumps({"error": {"code": "not_found", "message": "No such console file"}})
    return _answer(404, {"Content-Type": "application/json", "Cache-Control": "no-store"}, body)


def _config() -> dict[str, Any]:
    """What the console cannot ask the API: the deliverability guard's thresholds (percent), drawn on the
    stats charts."""
    body = json.dumps(
        {
            "guard_bounce_rate": float(os.environ.get("GUARD_BOUNCE_RATE") or 4),
            "guard_complaint_rate": float(os.environ.get("GUARD_COMPLAINT_RATE") or 0.08),
        }
    )
    return _answer(200, {"Content-Type": TYPES[".json"], "Cache-Control": "no-store"}, body)


def _index(event: dict[str, Any]) -> dict[str, Any]:
    """The page, at `/console/` and at `/console` alike (whether a REST API hands a trailing slash to the
    `/console` resource is not something to rely on). Without the slash, its files are one folder down:
    the references are rewritten to `console/<file>` (no redirect, so no loop either way). The scripts find
    the API from their own URL, so the stage or a custom domain's base path is kept."""
    found = _asset("index.html")
    assert found is not None  # packaged with the function
    data, etag = found
    page = data.decode("utf-8")
    if not str(event.get("path") or "").endswith("/"):
        page = _REFERENCE.sub(r'\1="console/\2"', page)
        etag = etag[:-1] + '-folder"'
    headers = {"Content-Type": TYPES[".html"], "Cache-Control": CACHE, "ETag": etag}
    if _header(event, "if-none-match") == etag:
        return _answer(304, headers)
    return _answer(200, headers, page)


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name), None)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("httpMethod") != "GET":
        return _answer(405, {"Allow": "GET", "Content-Type": "application/json"}, "{}")
    asset = (event.get("pathParameters") or {}).get("asset")
    if asset is None:
        return _index(event)
    if asset == "config.json":
        return _config()
    if not _NAME.fullmatch(asset):
        return _not_found()
    found = _asset(asset)
    if found is None:
        return _not_found()
    data, etag = found
    headers = {"Content-Type": TYPES[Path(asset).suffix], "Cache-Control": CACHE, "ETag": etag}
    if _header(event, "if-none-match") == etag:
        return _answer(304, headers)
    return _answer(200, headers, data.decode("utf-8"))
