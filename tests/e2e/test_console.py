"""The web console (`GET /console/`) in Debian's headless Chromium against the local stack.

Two tenants share the stack: example.com (an admin key for it, a read-only key) and other.org (its own
sender). Hostile text goes in through every field a person can fill: a subject, metadata, a client
reference, a webhook's description, and a webhook answer (an error body). Each view is photographed into
`.local/screenshots/` (gitignored) for a reviewer to look at."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.browser import chromium  # noqa: F401 - the browser fixture
from tests.e2e.conftest import ADMIN_KEY, Http, running_stack
from tests.e2e.test_guard import GUARD
from tests.e2e.test_local_stack import label, wait_for_statuses
from tests.support.webhook_receiver import WebhookReceiver, running_receiver

pytestmark = [pytest.mark.e2e]

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
SUBJECT = f"Invoice {HOSTILE} ready"
OTHER_SUBJECT = "Other tenant's private subject"


class Tenants:
    """example.com's admin, its sender (no admin), its read-only key; other.org's sender; what they sent."""

    def __init__(
        self, admin: str, sender: str, reader: str, other: str, message_id: str, other_id: str, hook_id: str
    ) -> None:
        self.admin, self.sender, self.reader, self.other = admin, sender, reader, other
        self.message_id, self.other_id, self.hook_id = message_id, other_id, hook_id


def create_key(http: Http, name: str, domains: list[str], permissions: list[str]) -> str:
    created = http.post(
        "/v1/credentials", {"name": name, "domains": domains, "permissions": permissions}, api_key=ADMIN_KEY
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A stack of its own whose deliverability guard acts after 5 recipients (test_guard.py's settings), so
    a domain can be paused for the Resume button."""
    with running_stack(GUARD) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def tenants(stack: LocalStack, http: Http, receiver: WebhookReceiver) -> Tenants:
    for domain in ("example.com", "other.org"):
        assert http.post("/v1/domains", {"domain": domain}, api_key=ADMIN_KEY).status == 201
    everything = ["send", "read", "files", "webhooks", "admin"]
    admin = create_key(http, "console admin", ["example.com"], everything)
    sender = create_key(http, "console sender", ["example.com"], ["send", "read", "files", "webhooks"])
    reader = create_key(http, "console reader", ["example.com"], ["read"])
    other = create_key(http, "other tenant", ["other.org"], ["send", "read", "webhooks"])
    other_hook = {"url": receiver.url("/other-tenant"), "events": ["*"], "description": "other tenant's hook"}
    assert http.post("/v1/webhooks", other_hook, api_key=other).status == 201
    suppressed = {"email": "other-only@other.net", "reason": "manual"}
    assert http.post("/v1/suppressions", suppressed, api_key=other).status == 201
    # A webhook whose endpoint answers 500 with hostile text, and whose description is hostile.
    receiver.script("/hostile", *([500] * 20))
    hook = http.post(
        "/v1/webhooks",
        {"url": receiver.url("/hostile"), "events": ["*"], "description": HOSTILE},
        api_key=admin,
    )
    assert hook.status == 201, hook.body
    sent = http.post(
        "/v1/email",
        {
            "from_email": "billing@example.com",
            "to": ["customer@example.net", "success@simulator.amazonses.com"],
            "subject": SUBJECT,
            "body_text": "Your invoice https://example.com/invoice/1",
            "body_html": f'<p>Your <a href="https://example.com/invoice/1">invoice</a></p>{HOSTILE}',
            "tags": ["invoice", "monthly"],
            "metadata": {"order": HOSTILE, "plain": "12345"},
            "client_reference": f"ref-{HOSTILE}",
            "track_opens": True,
            "track_clicks": True,
        },
        api_key=admin,
    )
    assert sent.status == 200, sent.body
    message_id = str(sent.json["message_id"])
    other_sent = http.post(
        "/v1/email",
        {
            "from_email": "x@other.org",
            "to": ["someone@other.net"],
            "subject": OTHER_SUBJECT,
            "body_text": "x",
        },
        api_key=other,
    )
    assert other_sent.status == 200, other_sent.body
    wait_for_statuses(http, admin, message_id, {"success@simulator.amazonses.com": "delivered"})
    return Tenants(
        admin, sender, reader, other, message_id, str(other_sent.json["message_id"]), hook.json["webhook_id"]
    )


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept("60") if dialog.type == "prompt" else dialog.accept())
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    context.close()


def sign_in(page: Any, stack: LocalStack, key: str) -> None:
    page.goto(f"{stack.api_url}/console/")
    page.fill("input[name=api_key]", key)
    page.press("input[name=api_key]", "Enter")
    page.wait_for_selector("#nav a")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky menu at the top of a full-page picture
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def not_pwned(page: Any) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.errors == []


def nav(page: Any) -> list[str]:
    return [
        str(name) for name in page.eval_on_selector_all("#nav a", "links => links.map(a => a.dataset.view)")
    ]


# --- the page itself ----------------------------------------------------------------------------------
def test_the_console_is_served_with_a_strict_policy(stack: LocalStack, http: Http) -> None:
    answer = http.get("/console/")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    policy = answer.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert b'<script type="module" src="app.js"></script>' in answer.body
    assert not re.search(rb"<script>|\son[a-z]+=", answer.body)  # no inline script, no handler attributes
    assert http.get("/console/app.js").headers["Content-Type"].startswith("text/javascript")
    assert http.get("/console/../template.yaml").status == 404
    assert http.get("/console/nothing.js").status == 404


def test_signing_in_keeps_the_key_in_this_tabs_session_storage_only(
    stack: LocalStack, tenants: Tenants, page: Any
) -> None:
    page.goto(f"{stack.api_url}/console/")
    assert page.is_visible("input[name=api_key]")
    assert page.is_hidden("#nav")  # a signed-out tab shows nothing but the form
    sign_in(page, stack, tenants.admin)
    assert tenants.admin not in page.url
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("Object.values(sessionStorage)") == [tenants.admin]
    assert page.input_value("input[name=api_key]") == ""
    shot(page, "signed-in")
    page.click("#signout")  # a fresh page: nothing the key saw stays in memory
    page.wait_for_selector("#signin-error:has-text('Signed out.')")
    assert page.evaluate("sessionStorage.length") == 0
    assert page.inner_text("#view") == ""
    assert page.is_hidden("#nav")
    page.go_back()  # the history holds no view to come back to with data
    assert page.inner_text("#view") == ""


def test_a_wrong_key_is_refused_and_the_page_works_without_its_slash(
    stack: LocalStack, tenants: Tenants, page: Any
) -> None:
    page.goto(f"{stack.api_url}/console")  # no slash: the same page, its files one folder down
    page.fill("input[name=api_key]", "nobody.wrong-secret")
    page.press("input[name=api_key]", "Enter")
    page.wait_for_selector("#signin-error:not(:empty)")  # (wait_for_function would need 'unsafe-eval')
    assert "not accepted" in page.inner_text("#signin-error")
    assert page.evaluate("sessionStorage.length") == 0
    page.fill("input[name=api_key]", tenants.reader)
    page.press("input[name=api_key]", "Enter")
    page.wait_for_selector("#message-results a.subject")
    assert page.url.startswith(f"{stack.api_url}/console#/messages")
    not_pwned(page)


# --- messages -----------------------------------------------------------------------------------------
def test_a_message_is_found_by_recipient_in_two_actions_and_shows_everything(
    stack: LocalStack, tenants: Tenants, page: Any
) -> None:
    sign_in(page, stack, tenants.admin)
    page.wait_for_selector("#recipient-search:focus")
    # The search box has the focus: type the address (1), press Enter (2).
    page.keyboard.type("customer@example.net")
    page.keyboard.press("Enter")
    page.wait_for_selector("#message-results a.subject")
    rows = page.inner_text("#message-results")
    assert SUBJECT in rows  # the hostile subject is shown as text
    assert OTHER_SUBJECT not in rows
    shot(page, "messages")
    page.click("#message-results a.subject")
    page.wait_for_selector("#message-deliveries table, #message-deliveries .empty")
    text = page.inner_text("#view")
    for expected in (
        SUBJECT,
        tenants.message_id,
        "customer@example.net",
        "invoice",
        "monthly",
        "12345",
        f"ref-{HOSTILE}",
        HOSTILE,
        "delivery",
        "api",
    ):
        assert expected in text, expected
    page.wait_for_selector("#local-panel iframe.preview")
    shot(page, "message")
    not_pwned(page)
    # The HTML body's own script-like content stays in the sandboxed frame, which runs nothing.
    preview = page.frame_locator("#local-panel iframe.preview")
    assert preview.locator("a").inner_text() == "invoice"


def test_simulated_open_and_click_come_back_as_events(stack: LocalStack, tenants: Tenants, page: Any) -> None:
    sign_in(page, stack, tenants.admin)
    page.goto(f"{stack.api_url}/console/#/messages/{tenants.message_id}")
    page.click("#simulate-open")
    page.wait_for_selector(".timeline .badge-open")  # the page reloads the message once SES reported
    page.click("#local-panel .links button")
    page.wait_for_selector(".timeline .badge-click")
    not_pwned(page)


# --- tenants and permissions ---------------------------------------------------------------------------
def test_a_read_only_key_sees_no_administration(stack: LocalStack, tenants: Tenants, page: Any) -> None:
    sign_in(page, stack, tenants.reader)
    assert nav(page) == ["messages", "stats", "suppressions"]
    page.goto(f"{stack.api_url}/console/#/credentials")
    page.wait_for_selector("#recipient-search")  # not a credentials page: the first view it may see
    assert page.get_attribute("#view", "data-view") == "messages"
    page.goto(f"{stack.api_url}/console/#/suppressions")
    page.wait_for_selector("#suppression-list")
    assert page.query_selector("#suppression-add") is None
    assert page.query_selector("#suppression-list button:has-text('Remove')") is None
    page.goto(f"{stack.api_url}/console/#/messages/{tenants.message_id}")
    page.wait_for_selector("#message-deliveries")
    assert "no webhooks permission" in page.inner_text("#message-deliveries")
    assert page.query_selector("button:has-text('Replay')") is None
    shot(page, "read-only")


def test_another_tenants_data_never_appears(stack: LocalStack, tenants: Tenants, page: Any) -> None:
    """example.com's sender (no admin: administration is the stack operator's, and sees every tenant)."""
    sign_in(page, stack, tenants.sender)
    # The whole local outbox (every tenant's mail, the stack's admin key) is for admin keys only.
    assert nav(page) == ["messages", "stats", "webhooks", "suppressions", "files"]
    page.wait_for_selector("#message-results table")
    assert SUBJECT in page.inner_text("#view")
    assert OTHER_SUBJECT not in page.inner_text("#view")
    page.goto(f"{stack.api_url}/console/#/messages/{tenants.other_id}")
    page.wait_for_selector(".notice-error")
    assert OTHER_SUBJECT not in page.inner_text("#view")
    page.goto(f"{stack.api_url}/console/#/webhooks")
    page.wait_for_selector("#webhook-list table")
    assert "other-tenant" not in page.inner_text("#view")
    page.goto(f"{stack.api_url}/console/#/suppressions")
    page.wait_for_selector("#suppression-list")
    assert "other-only@other.net" not in page.inner_text("#view")
    page.goto(f"{stack.api_url}/console/#/stats")
    page.wait_for_selector("#stats-output .chart")
    assert "other.org" not in page.inner_text("#view")


# --- every view, and the administration round trips ------------------------------------------------------
def test_stats_draw_charts_against_the_guard(stack: LocalStack, tenants: Tenants, page: Any) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=stats]")
    page.wait_for_selector("#stats-output .chart svg polyline[data-series=sent]")
    assert page.query_selector("line[data-threshold=bounce]") is not None
    assert page.query_selector("line[data-threshold=complaint]") is not None
    assert "guard pauses a domain at 4.00 %" in page.inner_text("#stats-output")
    assert int(page.inner_text(".total[data-metric=sent] .number")) >= 2
    page.select_option("select[name=interval]", "hour")
    page.click("#view form button[type=submit]")
    page.wait_for_selector("#stats-output .chart")
    shot(page, "stats")


def test_domains_show_records_and_add_one(stack: LocalStack, tenants: Tenants, page: Any, http: Http) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=domains]")
    page.wait_for_selector("article[data-domain='example.com']")
    page.fill("input[name=domain]", "console-added.example")
    page.press("input[name=domain]", "Enter")
    page.wait_for_selector("article[data-domain='console-added.example']")
    card = page.inner_text("article[data-domain='console-added.example']")
    assert "DNS records to publish" in card
    assert "verified" in card
    page.click("article[data-domain='console-added.example'] button:has-text('Delete')")
    page.wait_for_selector("article[data-domain='console-added.example']", state="detached")
    assert http.get("/v1/domains/console-added.example", api_key=tenants.admin).status == 404
    shot(page, "domains")


def test_a_paused_domain_is_resumed_from_its_card(
    stack: LocalStack, tenants: Tenants, page: Any, http: Http
) -> None:
    assert http.post("/v1/domains", {"domain": "paused.example"}, api_key=ADMIN_KEY).status == 201
    key = create_key(http, "bouncy list", ["paused.example"], ["send"])
    for _ in range(6):  # the guard's minimum is 5: five hard bounces of five is over 4 %
        message = {
            "from_email": "a@paused.example",
            "to": [label("bounce")],
            "subject": "x",
            "body_text": "x",
        }
        http.post("/v1/email", message, api_key=key)
    deadline = time.monotonic() + 15
    while http.get("/v1/domains/paused.example", api_key=ADMIN_KEY).json["sending"] != "paused":
        assert time.monotonic() < deadline, "the guard did not pause paused.example"
        time.sleep(0.2)
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=domains]")
    card = "article[data-domain='paused.example']"
    page.wait_for_selector(f"{card} .badge-paused")
    assert "bounce rate" in page.inner_text(card)
    shot(page, "domain-paused")
    page.click(f"{card} button:has-text('Resume sending')")
    page.wait_for_selector(f"{card} .badge-enabled")
    assert http.get("/v1/domains/paused.example", api_key=ADMIN_KEY).json["sending"] == "enabled"


def test_credentials_create_rotate_suspend_revoke(
    stack: LocalStack, tenants: Tenants, page: Any, http: Http
) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=credentials]")
    page.wait_for_selector("#credential-create")
    page.fill("#credential-create input[name=name]", "made in the console")
    page.click("#credential-create button[type=submit]")
    page.wait_for_selector("input[data-secret=api_key]")
    created = page.input_value("input[data-secret=api_key]")
    username = created.split(".")[0]
    assert http.get("/v1/messages", api_key=created).status == 200
    shot(page, "credentials")
    row = f"#credential-list [data-username='{username}']"
    page.click(f"{row} button:has-text('Rotate secret')")  # the prompt answers 60 s of overlap
    page.wait_for_selector(f"input[data-secret=api_key]:not([value='{created}'])")
    rotated = page.input_value("input[data-secret=api_key]")
    assert http.get("/v1/messages", api_key=rotated).status == 200
    assert http.get("/v1/messages", api_key=created).status == 200  # the old one, for its overlap
    page.click(f"{row} button:has-text('Suspend')")
    page.wait_for_selector(f"{row} button:has-text('Reactivate')")
    assert http.get("/v1/messages", api_key=rotated).json["error"]["code"] == "credential_suspended"
    page.click(f"{row} button:has-text('Revoke')")
    page.wait_for_selector(row, state="detached")
    assert http.get(f"/v1/credentials/{username}", api_key=tenants.admin).json["status"] == "revoked"


def test_webhooks_create_test_rotate_and_replay(
    stack: LocalStack, tenants: Tenants, page: Any, receiver: WebhookReceiver
) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=webhooks]")
    page.wait_for_selector("#webhook-list table")
    assert HOSTILE in page.inner_text("#webhook-list")  # the hostile description, as text
    shot(page, "webhooks")
    page.fill("#webhook-create input[name=url]", receiver.url("/console"))
    page.click("#webhook-create button[type=submit]")
    page.wait_for_selector("input[data-secret='signing secret']")
    assert page.input_value("input[data-secret='signing secret']").startswith("whsec_")
    page.click(f"#webhook-list a:has-text('{receiver.url('/console')}')")
    page.wait_for_selector("#webhook-test")
    page.click("#webhook-test")
    receiver.wait_for("/console", 1, timeout=15)
    page.click("#webhook-edit button[type=submit]")  # saving as it is: a PATCH round trip
    page.wait_for_selector("#webhook-message .notice-ok")
    page.click("button:has-text('Rotate secret')")
    page.wait_for_selector("input[data-secret='signing secret']")
    deadline = time.monotonic() + 15
    while "succeeded" not in page.inner_text("#deliveries"):
        assert time.monotonic() < deadline, page.inner_text("#deliveries")
        page.select_option("select[name=delivery-status]", "succeeded")
        page.wait_for_timeout(300)
    page.click("#deliveries button:has-text('Replay')")
    receiver.wait_for("/console", 2, timeout=15)
    shot(page, "webhook")
    # The hostile endpoint's failed attempts, and its description, are text.
    page.goto(f"{stack.api_url}/console/#/webhooks/{tenants.hook_id}")
    page.wait_for_selector("#deliveries table")
    assert "500" in page.inner_text("#deliveries")
    not_pwned(page)


def test_suppressions_add_search_export_remove(stack: LocalStack, tenants: Tenants, page: Any) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=suppressions]")
    page.wait_for_selector("#suppression-add")
    page.fill("#suppression-add input[name=email]", "gone@example.net")
    page.click("#suppression-add button[type=submit]")
    page.wait_for_selector("#suppression-list td:has-text('gone@example.net')")
    with page.expect_download() as download:
        page.click("#export-csv")
    csv = Path(download.value.path()).read_text()
    assert csv.splitlines()[0] == "email,domain,reason,created_at,source_message_id"
    assert '"gone@example.net","example.com","manual"' in csv
    shot(page, "suppressions")
    page.fill("#view form[role=search] input[name=email]", "gone@example.net")
    page.click("#view form[role=search] button[type=submit]")
    page.click("#suppression-list button:has-text('Remove')")
    page.wait_for_selector("#suppression-message :text('may be sent to again')")
    page.click("#view form[role=search] button[type=submit]")
    page.wait_for_selector("#suppression-list .empty")


def test_files_upload_look_up_delete(
    stack: LocalStack, tenants: Tenants, page: Any, http: Http, tmp_path: Path
) -> None:
    upload = tmp_path / "invoice.pdf"
    upload.write_bytes(b"%PDF-1.4 console upload")
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=files]")
    page.set_input_files("#file-upload input[type=file]", str(upload))
    page.click("#file-upload button[type=submit]")
    page.wait_for_selector("#file-list [data-file-key]")
    assert "invoice.pdf" in page.inner_text("#file-list")
    shot(page, "files")
    key = page.get_attribute("#file-list [data-file-key]", "data-file-key")
    page.click("#file-list button:has-text('Delete')")
    page.wait_for_selector("#file-list [data-file-key]", state="detached")
    assert http.get(f"/v1/files/{key}", api_key=tenants.admin).status == 404


def test_the_local_outbox_and_connection_panels(stack: LocalStack, tenants: Tenants, page: Any) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=local]")
    page.wait_for_selector("#connection")
    assert stack.api_url in page.inner_text("#connection")
    assert "Invoice" in page.inner_text("#outbox")
    shot(page, "local")
    not_pwned(page)


def test_clearing_the_outbox_keeps_posthorns_records(
    stack: LocalStack, tenants: Tenants, page: Any, http: Http
) -> None:
    sign_in(page, stack, tenants.admin)
    page.click("#nav a[data-view=local]")
    page.wait_for_selector("#outbox table")
    page.click("#clear-outbox")  # the dialog is accepted
    page.wait_for_selector("#outbox .empty")
    assert http.get("/_local/outbox").json["messages"] == []
    assert http.get(f"/v1/messages/{tenants.message_id}", api_key=tenants.admin).status == 200


def test_the_console_works_on_a_phone(stack: LocalStack, tenants: Tenants, chromium: Any) -> None:  # noqa: F811
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, stack, tenants.admin)
        page.wait_for_selector("#message-results table")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing forces a sideways scroll of the page (tables scroll in their box)
        shot(page, "phone-messages")
    finally:
        context.close()
