"""The console's function (functions/console): what it serves, with which headers, and what it refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from console_site.handler import ASSETS, lambda_handler

from posthorn_local import template


def get(path: str, asset: str | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = {
        "httpMethod": "GET",
        "path": path,
        "pathParameters": None if asset is None else {"asset": asset},
        "headers": headers,
    }
    return lambda_handler(event, None)


def directives(answer: dict[str, Any]) -> dict[str, str]:
    policy = answer["headers"]["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_the_index_is_served_at_the_folder_with_a_strict_policy() -> None:
    answer = get("/console/")
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert '<input name="api_key"' in answer["body"]
    policy = directives(answer)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert "unsafe" not in answer["headers"]["Content-Security-Policy"]
    assert answer["headers"]["X-Content-Type-Options"] == "nosniff"
    assert answer["headers"]["Referrer-Policy"] == "no-referrer"


def test_without_its_slash_the_page_points_one_folder_down() -> None:
    """`/prod/console` resolves `app.js` to `/prod/app.js`: without the slash the references say
    `console/app.js`; hash links stay as they are; and no redirect, which could loop."""
    folder, bare = get("/console/")["body"], get("/console")
    assert bare["statusCode"] == 200
    assert 'src="app.js"' in folder
    assert 'src="console/app.js"' in bare["body"]
    assert 'href="console/console.css"' in bare["body"]
    assert 'href="#/messages"' in bare["body"]
    assert bare["headers"]["ETag"] != get("/console/")["headers"]["ETag"]
    assert "Location" not in bare["headers"]


@pytest.mark.parametrize(
    ("asset", "kind"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_assets_are_served_with_their_type_and_revalidated(asset: str, kind: str) -> None:
    answer = get(f"/console/{asset}", asset)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == kind
    assert answer["headers"]["Cache-Control"] == "no-cache"
    assert answer["body"] == (ASSETS / asset).read_text()
    again = get(f"/console/{asset}", asset, {"If-None-Match": answer["headers"]["ETag"]})
    assert again["statusCode"] == 304
    assert again["body"] == ""


@pytest.mark.parametrize(
    "asset",
    [
        "../handler.py",
        "..",
        "%2e%2e%2fhandler.py",
        "handler.py",
        "__init__.py",
        "nothing.js",
        "APP.JS",
        "app.js/",
        ".hidden.js",
        "app.js\x00.css",
        "/etc/passwd",
        "a" * 80 + ".js",
    ],
)
def test_anything_but_a_packaged_file_is_a_404_in_the_error_shape(asset: str) -> None:
    answer = get(f"/console/{asset}", asset)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "not_found"
    assert "Content-Security-Policy" in answer["headers"]


def test_other_methods_are_refused() -> None:
    answer = lambda_handler({"httpMethod": "POST", "path": "/console/", "pathParameters": None}, None)
    assert answer["statusCode"] == 405


def test_the_guard_thresholds_come_from_the_stacks_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_BOUNCE_RATE", "3")
    monkeypatch.setenv("GUARD_COMPLAINT_RATE", "0.05")
    answer = get("/console/config.json", "config.json")
    assert json.loads(answer["body"]) == {"guard_bounce_rate": 3.0, "guard_complaint_rate": 0.05}


def test_no_asset_builds_markup_from_strings_or_runs_inline_code() -> None:
    """The console's DOM is built from text nodes: no innerHTML & co., no eval, no inline handlers."""
    for path in ASSETS.iterdir():
        text = path.read_text()
        assert not re.search(
            r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", text
        ), path
        if path.suffix == ".html":
            assert not re.search(r"<script>|<style|\son[a-z]+=|style=", text), path


def test_the_template_routes_the_console_to_its_own_function() -> None:
    routes = {(r.method, r.path): r.function for r in template.routes() if r.path.startswith("/console")}
    assert routes == {("GET", "/console"): "ConsoleFunction", ("GET", "/console/{asset}"): "ConsoleFunction"}
    function = template.function("ConsoleFunction")
    assert function["CodeUri"] == "functions/console"
    assert Path(template.ROOT, function["CodeUri"], "console_site", "assets", "index.html").is_file()
    assert set(function["Environment"]["Variables"]) == {"GUARD_BOUNCE_RATE", "GUARD_COMPLAINT_RATE"}


def test_the_sign_in_form_would_never_put_the_key_in_a_url() -> None:
    """Submitted without its script (JavaScript off, an asset that failed to load), a GET form would carry
    `?api_key=<username>.<secret>` into the address bar, the history and every access log."""
    page = (ASSETS / "index.html").read_text()
    form = re.search(r"<form[^>]*\bid=\"signin-form\"[^>]*>", page)
    assert form is not None
    assert re.search(r'\bmethod="post"', form[0])
    assert "action=" not in form[0]  # the console's own URL, which has no POST route: an error, no page
