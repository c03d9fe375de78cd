"""Fixtures: AWS as moto (resources made from template.yaml), SES as a real SMTP server with STARTTLS and
AUTH on loopback, and the real handlers invoked with API Gateway events."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from posthorn_local.apigw import LambdaContext
from posthorn_local.provision import LocalSmtpSecret, environment, provision
from posthorn_local.queue_poller import QueuePoller
from posthorn_local.ses_smtp_server import FaultPlan, LocalSes
from posthorn_local.tls import TlsMaterial, make_tls_material
from tests.support.api import ApiClient
from tests.support.webhook_receiver import WebhookReceiver, running_receiver

# Powertools reads these when a function module is first imported (its Logger and Metrics), which may
# happen before any fixture runs: set them for the whole session, as the template's Globals do.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "posthorn")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "PosthornTest")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

SMTP = LocalSmtpSecret(username="AKIALOCALSMTPUSER", password="local-smtp-password")
ADMIN_KEY = "ph_admin.admin-secret-for-tests-only-0123456789"
SENDER_DOMAIN = "example.com"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def local_ses(tls: TlsMaterial) -> Iterator[LocalSes]:
    with LocalSes(
        username=SMTP.username, password=SMTP.password, tls=tls, faults=FaultPlan(seed=1)
    ) as server:
        yield server


@dataclass
class Stack:
    """One test's AWS (moto) with the template's resources, and the environment the functions see."""

    ids: dict[str, str]
    env: dict[str, str]
    session: Any

    @property
    def table(self) -> str:
        return self.ids["Table"]


@contextmanager
def moto_stack(local_ses: LocalSes, tls: TlsMaterial, patch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto in-process with the template's resources, the functions' environment pointing at it and at the
    local SES, and the functions' caches reset on the way in and out."""
    from posthorn import wiring

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        patch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        patch.setenv(name, "testing")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        patch.setenv(name, "us-east-1")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        ids = provision(session, prefix="test", smtp=SMTP)
        overrides = {
            "SES_SMTP_HOST": "localhost",
            "SES_SMTP_PORT": str(local_ses.port),
            "SES_SMTP_TLS": "starttls",
            "SES_SMTP_SECRET_ID": ids["SesSmtpSecretId"],
            "AUTO_VERIFY_DOMAINS": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "PosthornTest",
        }
        # The tests call every function's handler (and the relay's intake) in this one process, which
        # reads its environment: each function's variables, which the template keeps alike where shared.
        # (The local stack gives each function its own; tests/unit/test_settings.py holds the blocks to
        # the settings classes.)
        env: dict[str, str] = {}
        for function in ("EventsFunction", "SendWorkerFunction", "WebhookSenderFunction", "SendFunction"):
            env.update(environment(function, ids, overrides))
        # Tests send many messages a second from one credential; the rate limit has tests of its own.
        env.update(
            SES_SMTP_CA_FILE=str(tls.ca_file), SEND_BUDGET_SECONDS="2", DEFAULT_RATE_LIMIT_PER_SECOND="10000"
        )
        for name, value in env.items():
            patch.setenv(name, value)
        wiring.reset()
        yield Stack(ids=ids, env=env, session=session)
        wiring.reset()


@pytest.fixture
def stack(local_ses: LocalSes, tls: TlsMaterial, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with moto_stack(local_ses, tls, monkeypatch) as made:
        yield made


@pytest.fixture
def admin(stack: Stack) -> str:
    """Seed the first admin credential the way a fresh stack gets one; return its api_key."""
    from posthorn import wiring
    from posthorn.logic.accounts.credentials import seed_credential
    from posthorn.models.credentials import Permission

    seed_credential(
        wiring.credentials(),
        wiring.pepper(),
        ADMIN_KEY,
        name="admin",
        permissions=[Permission.ADMIN],
        domains=[],
        now=datetime.now(UTC),
    )
    return ADMIN_KEY


@pytest.fixture
def api(stack: Stack) -> ApiClient:
    return ApiClient()


@pytest.fixture
def sender_key(api: ApiClient, admin: str) -> str:
    """A credential for example.com with send and read, its domain registered and verified."""
    assert api.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=admin).status == 201
    created = api.post(
        "/v1/credentials",
        {"name": "app", "domains": [SENDER_DOMAIN], "permissions": ["send", "read"]},
        api_key=admin,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture
def worker(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[QueuePoller]:
    """The send worker behind SendQueue: fast pace, no backoff wait, a short SMTP budget per attempt."""
    from posthorn import wiring

    for name, value in {
        "SES_MAX_SEND_RATE": "1000",
        "SEND_RETRY_BASE_SECONDS": "0",
        "WORKER_SEND_BUDGET_SECONDS": "0.5",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()

    def invoke(event: dict[str, Any]) -> Any:
        from send_worker.handler import lambda_handler

        return lambda_handler(event, LambdaContext(function_name="send-worker"))

    yield QueuePoller(stack.session.client("sqs"), stack.ids["SendQueue"], invoke, wait_seconds=0)
    wiring.reset()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver on loopback that verifies signatures as customers' code does."""
    with running_receiver() as running:
        yield running
