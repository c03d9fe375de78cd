"""Each entry point's path through wiring reads only the groups of variables its settings class includes.

A factory that asks for a group its function's class lacks fails only when that function first builds it: at
run time, deployed (the local stack shares adapters between its functions, so there it may never fail). Here
each entry point asks wiring for what its handler asks for (the API's routes and middleware, the relay's
start), under its own settings and nothing else, from a fresh wiring, so every factory on the way is built
and asks for its group. Secrets Manager is the one call a factory makes while building: it answers here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

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
SIDE_BY_SIDE = ThreadPoolExecutor(1)

# What each entry point asks wiring for: its handler, and for the API every route's `Depends`, the
# middleware's (`provided`) and the local page's; for the relay, what `smtp_relay.__main__` builds.
PATHS: dict[type[Settings], list[Callable[[], object]]] = {
    ApiSettings: [
        wiring.credentials,
        wiring.pepper,
        wiring.clock,
        wiring.credential_rates,
        wiring.idempotency_keys,
        wiring.send_context,
        wiring.domains,
        wiring.identities,
        wiring.guard_context,
        wiring.held_messages,
        wiring.send_queue,
        wiring.file_cache,
        wiring.messages,
        wiring.message_index,
        wiring.cursor_key,
        wiring.stats,
        wiring.suppressions,
        wiring.webhook_context,
        wiring.webhook_fanout,
        wiring.webhook_deliveries,
        wiring.webhooks,
    ],
    EventsSettings: [
        wiring.clock,
        wiring.message_events,
        wiring.suppressions,
        wiring.guard_context,
        wiring.event_announcer,
        wiring.dead_letters,
    ],
    WorkerSettings: [lambda: wiring.send_worker_batch([], time_left=lambda: 60.0)],
    WebhookSenderSettings: [lambda: wiring.webhook_prompts([]), wiring.sender_context, wiring.attempt_calls],
    SubmissionSettings: [
        wiring.domains,
        wiring.suppressions,
        wiring.credentials,
        wiring.pepper,
        wiring.clock,
        lambda: wiring.intake_context(SIDE_BY_SIDE),
    ],
}


@pytest.fixture
def offline_wiring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import posthorn.adapters.secrets

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(posthorn.adapters.secrets, "read_secret", lambda secret_id: SES_SMTP_SECRET)
    wiring.reset()
    yield
    wiring.reset()


@pytest.mark.parametrize("kind", list(PATHS), ids=lambda kind: kind.__name__)
def test_an_entry_points_path_through_wiring_reads_only_its_own_settings(
    kind: type[Settings], offline_wiring: None
) -> None:
    with running(kind.from_environment(complete(kind))):
        for asked in PATHS[kind]:
            asked()  # fails naming the group when a factory on the way asks for one its class lacks


def test_a_path_that_reaches_another_functions_group_fails_naming_it(offline_wiring: None) -> None:
    """What the test above would catch: the webhook sender has no table, so no send context."""
    sender = WebhookSenderSettings.from_environment(complete(WebhookSenderSettings))
    with running(sender), pytest.raises(SettingsError, match="WebhookSenderSettings does not include"):
        wiring.send_context()
