"""The local stack's web page (`GET /_local/`) in a real headless Chromium, and the JSON it reads.

The browser is Debian's `chromium` (`make browser` installs it), driven by Playwright without Playwright's
own browser downloads. Without it these tests fail when `CI` is set, and are skipped otherwise.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import Http
from tests.e2e.test_local_stack import SIMULATOR, label, send, wait_for_statuses

pytestmark = [pytest.mark.e2e]

CHROMIUM = os.environ.get("POSTHORN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = "/tmp/posthorn-local-page.png"
LINK = "https://example.com/welcome?step=1&from=mail"
# A script that, if it ran, would mark the parent page and its own paragraph.
HTML = f"""<html><head><style>body {{ font-family: Georgia, serif; padding: 24px }}
.button {{ background: #047857; color: #fff; padding: 10px 16px; border-radius: 6px }}</style></head>
<body><h1>Welcome aboard, Zoë!</h1>
<p id="marker">the script did not run</p>
<p><a class="button" href="{LINK.replace("&", "&amp;")}">Get started</a></p>
<script>
document.getElementById("marker").textContent = "the script ran";
parent.document.body.setAttribute("data-pwned", "yes");
</script></body></html>"""
SUBJECT = 'Welcome <img src=x onerror="document.title=1"> & more'
PDF = b"%PDF-1.4 a tiny invoice"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is missing: pip install '.[dev]'"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests need Chromium and Playwright: {reason}", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(8000)
    page = context.new_page()
    yield page
    context.close()


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


# --------------------------------------------------------------------------------- the JSON the page reads
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


def test_unknown_outbox_item_and_attachment_are_404(http: Http, sender_key: str) -> None:
    assert http.get("/_local/outbox/nope").error_code == "not_found"
    message_id = send(http, sender_key, to=["someone@example.net"])
    assert http.get(f"/_local/outbox/{outbox_id(http, message_id)}/attachments/99").error_code == "not_found"


def test_page_has_a_content_security_policy_and_serves_its_assets(http: Http) -> None:
    page = http.get("/_local/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert http.get("/_local/assets/page.js").headers["Content-Type"].startswith("text/javascript")
    assert http.get("/_local/assets/page.css").headers["Content-Type"].startswith("text/css")
    assert http.get("/_local/assets/..%2Fhttp_server.py").status == 404


# --------------------------------------------------------------------------------- the page in Chromium
@pytest.mark.browser
def test_page_lists_newest_first_sandboxes_html_and_simulates_open_and_click(
    page: Any, stack: LocalStack, http: Http, sender_key: str
) -> None:
    from playwright.sync_api import expect

    recipient = f"success@{SIMULATOR}"
    older = send(http, sender_key, to=["someone@example.net"], subject="An older message")
    message_id = welcome(http, sender_key, recipient)
    wait_for_statuses(http, sender_key, older, {"someone@example.net": "delivered"})
    wait_for_statuses(http, sender_key, message_id, {recipient: "delivered"}, frozenset({"delivery"}))
    newest, previous = outbox_id(http, message_id), outbox_id(http, older)

    page.goto(f"{stack.api_url}/_local/")
    items = page.locator("#outbox a.item")
    ids = items.evaluate_all("items => items.map(item => item.dataset.id)")
    assert ids.index(newest) < ids.index(previous)
    assert ids[0] == newest

    page.locator(f'#outbox a.item[data-id="{newest}"]').click()
    expect(page.locator("#m-subject")).to_have_text(SUBJECT)  # as text: the <img> in it is not markup

    # The HTML body renders, in a sandbox that runs no script.
    preview = page.locator("#preview")
    sandbox = preview.get_attribute("sandbox")
    assert sandbox is not None
    assert "allow-scripts" not in sandbox
    assert "allow-same-origin" not in sandbox
    frame = page.frame_locator("#preview")
    expect(frame.locator("h1")).to_have_text("Welcome aboard, Zoë!")
    expect(frame.locator("#marker")).to_have_text("the script did not run")
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None
    assert page.title() == "Posthorn · local outbox"

    # Recipients and the timeline come from the Posthorn record.
    expect(page.locator(f'#recipients tr[data-email="{recipient}"]')).to_have_attribute(
        "data-status", "delivered"
    )
    expect(page.locator("#timeline li[data-type=send]")).to_have_count(1)
    expect(page.locator("#timeline li[data-type=delivery]")).to_contain_text("250 2.6.0 Message received")

    page.locator("#open-button").click()
    expect(page.locator("#timeline li[data-type=open]")).to_contain_text("posthorn-local")  # its user agent
    expect(page.locator(f'#recipients tr[data-email="{recipient}"]')).to_have_attribute(
        "data-status", "opened"
    )

    page.locator("#link-select").select_option(LINK)
    page.locator("#click-button").click()
    expect(page.locator("#timeline li[data-type=click] .kv[data-key=link] .v")).to_have_text(LINK)
    expect(page.locator(f'#recipients tr[data-email="{recipient}"]')).to_have_attribute(
        "data-status", "clicked"
    )

    typed = "https://example.com/typed"
    page.locator("#link-input").fill(typed)
    page.locator("#click-button").click()
    expect(page.locator("#timeline li[data-type=click] .kv[data-key=link] .v").last).to_have_text(typed)
    page.screenshot(path=SCREENSHOT)

    page.locator('[data-tab="attachments"]').click()
    row = page.locator('#attachments tr[data-filename="invoice.pdf"]')
    expect(row).to_contain_text("application/pdf")
    expect(row).to_contain_text(f"{len(PDF)} B")
    page.locator('[data-tab="text"]').click()
    expect(page.locator("#text")).to_contain_text(f"Welcome aboard! {LINK}")


@pytest.mark.browser
def test_page_shows_a_bounce_with_its_details(
    page: Any, stack: LocalStack, http: Http, sender_key: str
) -> None:
    from playwright.sync_api import expect

    bounce = label("bounce")
    message_id = send(http, sender_key, to=[bounce], subject="This one bounces")
    wait_for_statuses(http, sender_key, message_id, {bounce: "bounced"}, frozenset({"bounce"}))

    page.goto(f"{stack.api_url}/_local/#{outbox_id(http, message_id)}")
    expect(page.locator("#m-subject")).to_have_text("This one bounces")
    expect(page.locator(f'#recipients tr[data-email="{bounce}"]')).to_have_attribute("data-status", "bounced")
    expect(page.locator("#outbox a.item.selected .pill")).to_have_text("bounced")
    event = page.locator("#timeline li[data-type=bounce]")
    expect(event.locator(".kv[data-key=bounce_type] .v")).to_have_text("Permanent")
    expect(event.locator(".kv[data-key=diagnostic_code] .v")).to_have_text("smtp; 550 5.1.1 user unknown")
    expect(page.locator('[data-tab="text"]')).to_have_attribute("aria-selected", "true")  # no HTML body


# --------------------------------------------- a page pleasant to sit in front of (tabs, tracking, clearing)
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
    assert connection.json["admin_api_key"] == stack.admin_key
    assert connection.json["smtp"]["starttls_port"] == stack.relay.starttls_port
    assert connection.json["smtp"]["tls_port"] == stack.relay.tls_port
    assert connection.json["smtp"]["ca_url"] == f"{stack.api_url}/_local/ca.pem"


@pytest.mark.browser
def test_an_html_message_opens_on_html_after_a_text_only_one(
    page: Any, stack: LocalStack, http: Http, sender_key: str
) -> None:
    from playwright.sync_api import expect

    text_only = outbox_id(http, send(http, sender_key, to=["a@example.net"], subject="Text only"))
    with_html = outbox_id(
        http, send(http, sender_key, to=["a@example.net"], subject="With HTML", body_html="<h1>Hello</h1>")
    )
    page.goto(f"{stack.api_url}/_local/#{text_only}")
    expect(page.locator("#m-subject")).to_have_text("Text only")
    expect(page.locator('[data-tab="text"]')).to_have_attribute("aria-selected", "true")
    page.locator(f'#outbox a.item[data-id="{with_html}"]').click()
    expect(page.locator("#m-subject")).to_have_text("With HTML")
    expect(page.locator('[data-tab="html"]')).to_have_attribute("aria-selected", "true")
    expect(page.frame_locator("#preview").locator("h1")).to_have_text("Hello")
    # A reader who picks Text keeps it for the next message that has a text body.
    page.locator('[data-tab="text"]').click()
    page.locator(f'#outbox a.item[data-id="{text_only}"]').click()
    page.locator(f'#outbox a.item[data-id="{with_html}"]').click()
    expect(page.locator("#m-subject")).to_have_text("With HTML")
    expect(page.locator('[data-tab="text"]')).to_have_attribute("aria-selected", "true")


@pytest.mark.browser
def test_open_and_click_are_offered_only_where_ses_would_report_them(
    page: Any, stack: LocalStack, http: Http, sender_key: str
) -> None:
    from playwright.sync_api import expect

    untracked = outbox_id(
        http,
        send(
            http,
            sender_key,
            to=["a@example.net"],
            subject="Untracked",
            body_html="<a href='https://x.example/'>x</a>",
        ),
    )
    page.goto(f"{stack.api_url}/_local/#{untracked}")
    expect(page.locator("#m-subject")).to_have_text("Untracked")
    expect(page.locator("#open-button")).to_be_disabled()
    expect(page.locator("#click-button")).to_be_disabled()
    expect(page.locator("#tracking-note")).to_contain_text("track_opens and track_clicks")
    tracked = outbox_id(http, welcome(http, sender_key, "b@example.net"))
    page.locator(f'#outbox a.item[data-id="{tracked}"]').click()
    expect(page.locator("#open-button")).to_be_enabled()
    expect(page.locator("#click-button")).to_be_enabled()
    expect(page.locator("#tracking-note")).to_be_hidden()


@pytest.mark.browser
def test_a_long_address_is_shown_whole(page: Any, stack: LocalStack, http: Http, sender_key: str) -> None:
    from playwright.sync_api import expect

    address = (
        "a-very-long-local-part-for-the-outbox-list-of-the-page"
        "@with-a-rather-long.subdomain-of-an-example-company.example.net"
    )
    item = outbox_id(http, send(http, sender_key, to=[address], subject="Long address"))
    page.goto(f"{stack.api_url}/_local/#{item}")
    who = page.locator(f'#outbox a.item[data-id="{item}"] .who')
    expect(who).to_have_text(address)
    assert who.evaluate("node => node.scrollWidth <= node.clientWidth")  # nothing cut off
    email = page.locator(f'#recipients tr[data-email="{address}"] .email')
    expect(email).to_have_text(address)
    assert email.evaluate("node => node.scrollWidth <= node.clientWidth")


@pytest.mark.browser
def test_the_connection_panel_and_the_clear_button(
    page: Any, stack: LocalStack, http: Http, sender_key: str
) -> None:
    from playwright.sync_api import expect

    send(http, sender_key, to=["a@example.net"], subject="To be cleared")
    page.goto(f"{stack.api_url}/_local/")
    page.locator("#connection summary").click()
    expect(page.locator("#c-meta")).to_contain_text(str(stack.admin_key))
    expect(page.locator("#c-meta")).to_contain_text(f"{stack.smtp_host}:{stack.relay.starttls_port}")
    expect(page.locator("#outbox a.item").first).to_be_visible()
    page.locator("#clear-outbox").click()
    expect(page.locator("#outbox a.item")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    assert http.get("/_local/outbox").json["messages"] == []
