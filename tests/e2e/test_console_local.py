"""The console's local-only panels (the one UI of `make run`) in Debian's headless Chromium, and the
`/_local/*` JSON they read: a message's outbox copy (bodies, the HTML in a sandbox that runs no script,
attachments), SES Open/Click simulation coming back as events, the outbox list that refreshes itself, the
connection panel. `GET /_local/`, where a page of its own used to be, sends the browser to the console."""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.browser import chromium  # noqa: F401 - the browser fixture
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http
from tests.e2e.test_local_stack import SIMULATOR, label, send, wait_for_statuses

pytestmark = [pytest.mark.e2e]

LINK = "https://example.com/welcome?step=1&from=mail"
# A script that, if it ran, would mark its own paragraph and the console around it.
HTML = f"""<html><head><style>body {{ font-family: Georgia, serif; padding: 24px }}</style></head>
<body><h1>Welcome aboard, Zoë!</h1>
<p id="marker">the script did not run</p>
<p><a class="button" href="{LINK.replace("&", "&amp;")}">Get started</a></p>
<script>
document.getElementById("marker").textContent = "the script ran";
parent.document.body.setAttribute("data-pwned", "yes");
</script></body></html>"""
SUBJECT = 'Welcome <img src=x onerror="window.__pwned=1"> & more'
PDF = b"%PDF-1.4 a tiny invoice"


@pytest.fixture(scope="module")
def admin(http: Http, sender_key: str) -> str:
    """An admin key of example.com (sender_key made the domain): the local panels are for admin keys."""
    created = http.post(
        "/v1/credentials",
        {
            "name": "local console",
            "domains": [SENDER_DOMAIN],
            "permissions": ["send", "read", "files", "webhooks", "admin"],
        },
        api_key=ADMIN_KEY,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    context.close()


def sign_in(page: Any, stack: LocalStack, key: str, view: str = "") -> None:
    page.goto(f"{stack.api_url}/console/")
    page.fill("input[name=api_key]", key)
    page.press("input[name=api_key]", "Enter")
    page.wait_for_selector("#nav a")
    if view:
        page.goto(f"{stack.api_url}/console/#/{view}")


def not_pwned(page: Any) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None
    assert page.errors == []


def outbox_id(http: Http, message_id: str) -> str:
    for item in http.get("/_local/outbox").json["messages"]:
        if item["posthorn_message_id"] == message_id:
            return str(item["id"])
    raise AssertionError(f"{message_id} is not in the outbox")


def welcome(http: Http, key: str, to: str) -> str:
    return send(
        http,
        key,
        subject=SUBJECT,
        to=[to],
        body_text=f"Welcome aboard! {LINK}",
        body_html=HTML,
        track_opens=True,
        track_clicks=True,
        attachments=[
            {
                "name": "invoice.pdf",
                "content": base64.b64encode(PDF).decode(),
                "content_type": "application/pdf",
            }
        ],
    )


# --------------------------------------------------------------------------- one UI: /_local/ is the console
@pytest.mark.parametrize("path", ["/_local/", "/_local"])
def test_the_old_local_page_redirects_to_the_console(stack: LocalStack, path: str) -> None:
    """Not followed (urllib would): the answer itself is the redirect."""
    address = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    assert answer.status == 302
    assert answer.getheader("Location") == "/console/"


def test_the_old_pages_files_are_gone(http: Http) -> None:
    for name in ("page.js", "page.css", "favicon.svg"):
        assert http.get(f"/_local/assets/{name}").error_code == "not_found"
    assert http.get("/console/local.js").headers["Content-Type"].startswith("text/javascript")


# --------------------------------------------------------------------------------- the JSON the panels read
def test_outbox_item_json_has_the_parsed_message_and_its_posthorn_record(http: Http, sender_key: str) -> None:
    recipient = f"success@{SIMULATOR}"
    message_id = welcome(http, sender_key, recipient)
    wait_for_statuses(http, sender_key, message_id, {recipient: "delivered"}, frozenset({"delivery"}))
    listed = next(
        m for m in http.get("/_local/outbox").json["messages"] if m["posthorn_message_id"] == message_id
    )
    assert listed["subject"] == SUBJECT
    assert listed["status"] == "delivered"

    view = http.get(f"/_local/outbox/{listed['id']}").json
    assert view["subject"] == SUBJECT
    assert view["to"] == [recipient]
    assert view["links"] == [LINK]
    assert "<script>" in view["html"]
    assert view["text"].startswith("Welcome aboard!")
    assert {"name": "Subject", "value": SUBJECT} in view["headers"]
    [attachment] = view["attachments"]
    assert (attachment["filename"], attachment["content_type"], attachment["size"]) == (
        "invoice.pdf",
        "application/pdf",
        len(PDF),
    )
    record = view["record"]
    assert record["message_id"] == message_id
    assert [(r["email"], r["status"]) for r in record["recipients"]] == [(recipient, "delivered")]
    assert [e["type"] for e in record["events"]] == ["send", "delivery"]

    download = http.get(f"/_local/outbox/{listed['id']}/attachments/{attachment['index']}")
    assert download.status == 200
    assert download.body == PDF
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''invoice.pdf"
    assert download.headers["Content-Security-Policy"].startswith("sandbox")

    preview = http.get(f"/_local/outbox/{listed['id']}/preview")
    assert preview.status == 200
    policy = preview.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;")  # an opaque origin, no script, even opened on its own
    assert "script-src" not in policy
    assert "default-src 'none'" in policy


def test_unknown_outbox_item_and_attachment_are_404(http: Http, sender_key: str) -> None:
    assert http.get("/_local/outbox/nope").error_code == "not_found"
    message_id = send(http, sender_key, to=["someone@example.net"])
    assert http.get(f"/_local/outbox/{outbox_id(http, message_id)}/attachments/99").error_code == "not_found"
    assert http.get(f"/_local/outbox/{outbox_id(http, message_id)}/preview").error_code == "not_found"


def test_outbox_item_says_whether_ses_would_report_opens_and_clicks(http: Http, sender_key: str) -> None:
    cases = {
        "both": dict(body_html="<p>Hi</p>", track_opens=True, track_clicks=True),
        "opens only": dict(body_html="<p>Hi</p>", track_opens=True),
        "untracked": dict(body_html="<p>Hi</p>"),
        "text only, tracked": dict(track_opens=True, track_clicks=True),
    }
    seen = {}
    for name, fields in cases.items():
        message_id = send(http, sender_key, to=["someone@example.net"], subject=name, **fields)
        view = http.get(f"/_local/outbox/{outbox_id(http, message_id)}").json["tracking"]
        seen[name] = (view["opens"], view["clicks"], bool(view["reason"]))
    assert seen == {
        "both": (True, True, False),
        "opens only": (True, False, True),
        "untracked": (False, False, True),
        "text only, tracked": (False, False, True),
    }


def test_connection_says_what_the_banner_says(stack: LocalStack, http: Http) -> None:
    connection = http.get("/_local/connection")
    assert connection.status == 200
    assert connection.json["api_url"] == stack.api_url
    assert connection.json["console"] == f"{stack.api_url}/console/"
    assert connection.json["admin_api_key"] == stack.admin_key
    assert connection.json["smtp"]["starttls_port"] == stack.relay.starttls_port
    assert connection.json["smtp"]["tls_port"] == stack.relay.tls_port
    assert connection.json["smtp"]["ca_url"] == f"{stack.api_url}/_local/ca.pem"


# --------------------------------------------------------------------------------- the panels in Chromium
@pytest.mark.browser
def test_the_outbox_copy_sandboxes_the_html_and_simulates_open_and_click(
    page: Any, stack: LocalStack, http: Http, sender_key: str, admin: str
) -> None:
    recipient = f"success@{SIMULATOR}"
    message_id = welcome(http, sender_key, recipient)
    wait_for_statuses(http, sender_key, message_id, {recipient: "delivered"}, frozenset({"delivery"}))

    sign_in(page, stack, admin, f"messages/{message_id}")
    page.wait_for_selector("#local-panel iframe.preview")
    assert page.inner_text("#view h1.subject") == SUBJECT  # as text: the <img> in it is not markup
    assert page.query_selector("#view img") is None

    # The HTML body renders, in a sandbox that runs no script and has no origin of its own.
    sandbox = page.get_attribute("#local-panel iframe.preview", "sandbox")
    assert sandbox == ""
    frame = page.frame_locator("#local-panel iframe.preview")
    assert frame.locator("h1").inner_text() == "Welcome aboard, Zoë!"
    assert frame.locator("#marker").inner_text() == "the script did not run"
    panel = page.inner_text("#local-panel")
    assert f"Welcome aboard! {LINK}" in panel  # the text body
    assert f"(application/pdf, {len(PDF)} bytes)" in panel
    href = str(page.get_attribute("#local-panel a:has-text('invoice.pdf')", "href"))
    assert http.get(urlsplit(href).path).body == PDF  # the link downloads the attachment
    not_pwned(page)

    page.click("#simulate-open")
    page.wait_for_selector(".timeline .badge-open")  # the view reloads the message once SES reported it
    assert "posthorn-local" in page.inner_text(".timeline li:has(.badge-open)")  # the open's user agent
    page.click(f"#local-panel .links li:has-text('{LINK}') button")
    page.wait_for_selector(".timeline .badge-click")
    assert LINK in page.inner_text(".timeline li:has(.badge-click)")
    typed = "https://example.com/typed"
    page.fill("#click-link", typed)
    page.click("#simulate-click")
    page.wait_for_selector(f".timeline li:has(.badge-click):has-text('{typed}')")
    page.wait_for_selector("#view table .badge-clicked")  # the recipient's status
    answer = http.get(f"/v1/messages/{message_id}", api_key=sender_key).json
    assert [r["status"] for r in answer["recipients"]] == ["clicked"]
    clicks = [e["details"]["link"] for e in answer["events"] if e["type"] == "click"]
    assert sorted(clicks) == sorted([LINK, typed])
    not_pwned(page)


@pytest.mark.browser
def test_a_bounce_shows_its_details(
    page: Any, stack: LocalStack, http: Http, sender_key: str, admin: str
) -> None:
    bounce = label("bounce")
    message_id = send(http, sender_key, to=[bounce], subject="This one bounces")
    wait_for_statuses(http, sender_key, message_id, {bounce: "bounced"}, frozenset({"bounce"}))

    sign_in(page, stack, admin, f"messages/{message_id}")
    page.wait_for_selector("#local-panel")
    assert page.inner_text("#view h1.subject") == "This one bounces"
    event = page.inner_text(".timeline li:has(.badge-bounce)")
    assert "Permanent" in event
    assert "smtp; 550 5.1.1 user unknown" in event
    assert page.query_selector("#local-panel iframe.preview") is None  # no HTML body, no frame
    assert "Text body" in page.inner_text("#local-panel")


@pytest.mark.browser
def test_open_and_click_are_offered_only_where_ses_would_report_them(
    page: Any, stack: LocalStack, http: Http, sender_key: str, admin: str
) -> None:
    untracked = send(
        http,
        sender_key,
        to=["a@example.net"],
        subject="Untracked",
        body_html="<a href='https://x.example/'>x</a>",
    )
    sign_in(page, stack, admin, f"messages/{untracked}")
    page.wait_for_selector("#simulate-open")
    assert page.is_disabled("#simulate-open")
    assert page.is_disabled("#simulate-click")
    assert page.is_disabled("#local-panel .links button")
    assert "track_opens and track_clicks" in page.inner_text("#local-panel")

    tracked = welcome(http, sender_key, "b@example.net")
    page.goto(f"{stack.api_url}/console/#/messages/{tracked}")
    page.wait_for_selector("#simulate-open:not([disabled])")
    assert page.is_enabled("#simulate-click")
    assert page.is_enabled("#local-panel .links button")
    assert "track_opens and track_clicks" not in page.inner_text("#local-panel")


@pytest.mark.browser
def test_the_outbox_view_lists_newest_first_and_refreshes_itself(
    page: Any, stack: LocalStack, http: Http, sender_key: str, admin: str
) -> None:
    send(http, sender_key, to=["a@example.net"], subject="Already there")
    sign_in(page, stack, admin, "local")
    page.wait_for_selector("#outbox table")
    assert "Already there" in page.inner_text("#outbox")
    # Sent while the view is open: it appears without a reload, above the older message.
    message_id = send(http, sender_key, to=["a@example.net"], subject="Arrived while looking")
    page.wait_for_selector("#outbox a:has-text('Arrived while looking')")
    text = page.inner_text("#outbox")
    assert text.index("Arrived while looking") < text.index("Already there")
    page.click("#outbox a:has-text('Arrived while looking')")  # a row opens the message
    page.wait_for_selector("#local-panel")
    assert message_id in page.inner_text("#view")
    not_pwned(page)


@pytest.mark.browser
def test_the_connection_panel_says_what_the_banner_says(page: Any, stack: LocalStack, admin: str) -> None:
    sign_in(page, stack, admin, "local")
    page.wait_for_selector("#connection")
    panel = page.inner_text("#connection")
    assert stack.api_url in panel
    assert str(stack.admin_key) in panel
    assert f"{stack.relay.starttls_port} (STARTTLS)" in panel
    assert f"{stack.relay.tls_port} (TLS)" in panel
    assert page.get_attribute("#connection a:has-text('ca.pem')", "href").endswith("/_local/ca.pem")
