"""Each entry point's path through wiring reads only the groups of variables its settings class includes.

A factory that asks for a group its function's class lacks fails only when that function first builds it: at
run time, deployed (the local stack shares adapters between its functions, so there it may never fail). Here
each entry point asks wiring for every factory its source names (the handler; the API's routes and
middleware; the relay's start), under its own settings and nothing else, from a fresh wiring, so every
factory on the way is built and asks for its group. Secrets Manager is the one call a factory makes while
building: it answers here; the SMTP transport's connection ahead, which it starts, is not opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from posthorn import wiring
from posthorn.settings import (
    ApiSettings,
    EventsSettings,
    Settings,
    SettingsError,
    SubmissionSettings,
    WebhookSenderSettings,
    WorkerSettings,
    running,
)
from tests.unit.test_settings import complete

SES_SMTP_SECRET = '{"username": "smtp-user", "password": "smtp-password"}'
ROOT = Path(__file__).resolve().parents[2]
# Where each entry point asks wiring for things: its package (for the API every route's `Depends` and the
# middleware's `provided`; for the relay what its start builds) and, for the API, the local page, which acts
# on the stack through the API's settings.
SOURCES: dict[type[Settings], list[str]] = {
    ApiSettings: ["functions/send/send_api", "local/posthorn_local/http_server.py"],
    EventsSettings: ["functions/bounce/ses_events"],
    WorkerSettings: ["functions/worker/send_worker"],
    WebhookSenderSettings: ["functions/webhooks/webhook_sender"],
    SubmissionSettings: ["services/smtp_relay/smtp_relay"],
}
# What is not an adapter or a context: the settings themselves, and a secret read on demand by id.
NOT_BUILT = {"settings", "read_secret"}
# The factories that take arguments, called as their entry point calls them.
WITH_ARGUMENTS: dict[str, Callable[[], object]] = {
    "send_worker_batch": lambda: wiring.send_worker_batch([], time_left=lambda: 60.0),
    "webhook_prompts": lambda: wiring.webhook_prompts([]),
    "intake_context": lambda: wiring.intake_context(ThreadPoolExecutor(1)),
}


def asked_for(kind: type[Settings]) -> list[str]:
    """Every `wiring.<name>` the entry point's source names."""
    names: set[str] = set()
    for source in SOURCES[kind]:
        path = ROOT / source
        for module in [path] if path.is_file() else sorted(path.rglob("*.py")):
            names |= set(re.findall(r"\bwiring\.([a-z_]+)", module.read_text()))
    return sorted(names - NOT_BUILT)


@pytest.fixture
def offline_wiring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import posthorn.adapters.secrets
    from posthorn.adapters.ses_smtp import SesSmtpTransport

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(posthorn.adapters.secrets, "read_secret", lambda secret_id: SES_SMTP_SECRET)
    monkeypatch.setattr(SesSmtpTransport, "open_ahead", lambda self: None)
    wiring.reset()
    yield
    wiring.reset()


@pytest.mark.parametrize("kind", list(SOURCES), ids=lambda kind: kind.__name__)
def test_an_entry_points_path_through_wiring_reads_only_its_own_settings(
    kind: type[Settings], offline_wiring: None
) -> None:
    names = asked_for(kind)
    assert names, f"{kind.__name__}'s entry point names no factory of wiring: is SOURCES right?"
    with running(kind.from_environment(complete(kind))):
        for name in names:
            # Fails naming the group when a factory on the way asks for one the class lacks.
            WITH_ARGUMENTS.get(name, getattr(wiring, name))()


def test_a_path_that_reaches_another_functions_group_fails_naming_it(offline_wiring: None) -> None:
    """What the test above would catch: the webhook sender has no table, so no send context."""
    sender = WebhookSenderSettings.from_environment(complete(WebhookSenderSettings))
    with running(sender), pytest.raises(SettingsError, match="WebhookSenderSettings does not include"):
        wiring.send_context()
