"""The whole local stack in one process: AWS (moto server), the template's resources, a local SES with
STARTTLS and AUTH, SES events into the events function, and the API on 127.0.0.1.

The functions run in this process, yet each reads only its own environment, as deployed: the stack resolves
each function's block of template.yaml (with Globals; for the relay, its task definition's) against the
local resources, reads the function's settings class from it, so that a variable missing from its block
fails `start()` naming the function and the variable, and hands those settings to that function's
invocations (`posthorn.settings.running`). The process environment holds only what all of them share: AWS
pointed at the moto server and Powertools' variables (restored on `stop()`).

The adapters the functions build are shared by the process, though: a function that reads a group of
variables its class lacks fails here only if it is the first to build that adapter. The settings classes,
and the unit test that holds template.yaml to them, are the guard there. Development only; never deployed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from posthorn import wiring
from posthorn.settings import Settings, SettingsError, running
from posthorn_local import template
from posthorn_local.http_server import LambdaFunction, LocalHttpServer, LocalServices, serve
from posthorn_local.provision import LocalSmtpSecret, environment, provision
from posthorn_local.queue_poller import QueuePoller
from posthorn_local.relay import LocalRelay
from posthorn_local.ses_events_publisher import EventsPublisher
from posthorn_local.ses_smtp_server import LocalSes
from posthorn_local.tls import make_tls_material
from posthorn_local.webhook_sender import LocalWebhookSender

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
REGION = "us-east-1"
PREFIX = "posthorn-local"
SEND_FUNCTION = "SendFunction"
EVENTS_FUNCTION = "EventsFunction"
SEND_WORKER_FUNCTION = "SendWorkerFunction"
WEBHOOK_SENDER_FUNCTION = "WebhookSenderFunction"
RELAY_TASK = "SmtpRelayTaskDefinition"


def _parse_admin_key(key: str) -> str:
    username, dot, secret = key.partition(".")
    if not (dot and username and secret):
        raise ValueError("POSTHORN_ADMIN_KEY must be an api_key of the form <username>.<secret>")
    return key


class _Environment:
    """Sets environment variables and puts the previous values back."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


GUARD_SETTINGS = ("GUARD_WINDOW", "GUARD_MINIMUM", "GUARD_BOUNCE_RATE", "GUARD_COMPLAINT_RATE")
# POSTHORN_<setting> sets each locally, else the template's parameter default (docs/api.md, "Retention").
LOCAL_SETTINGS = (*GUARD_SETTINGS, "MESSAGE_RETENTION_DAYS")


class LocalStack:
    """`start()` / `stop()`, or use as a context manager. `port=0` picks a free port for the API."""

    def __init__(
        self,
        *,
        port: int = 3000,
        admin_key: str | None = None,
        smtp_port: int = 0,
        relay_port: int = 0,
        relay_tls_port: int = 0,
        event_delay_seconds: float = 0.5,
        ses_max_send_rate: float | None = None,
    ) -> None:
        self.requested_port = port
        self.admin_key = _parse_admin_key(admin_key) if admin_key else None
        self.admin_key_generated = admin_key is None
        self.smtp_port = smtp_port
        # The SMTP relay's ports (STARTTLS, implicit TLS); 0: any free one.
        self.relay_port = relay_port
        self.relay_tls_port = relay_tls_port
        self.event_delay_seconds = event_delay_seconds
        # None: the template's SesMaxSendRate default, as deployed.
        self.ses_max_send_rate = ses_max_send_rate
        self.ids: dict[str, str] = {}
        # Each function's own environment (logical id -> variables, the relay's task too), and the settings
        # its class reads from it.
        self.environments: dict[str, dict[str, str]] = {}
        self.settings: dict[str, Settings] = {}
        self._cleanup: contextlib.ExitStack | None = None
        self._ses: LocalSes | None = None
        self._http: LocalHttpServer | None = None
        self._publisher: EventsPublisher | None = None
        self._poller: QueuePoller | None = None
        self._relay: LocalRelay | None = None
        self._webhook_sender: LocalWebhookSender | None = None
        self.moto_url = ""
        self.ca_file: Path | None = None

    # --- what a caller needs once it runs --------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._http is not None, "the stack is not running"
        return self._http.port

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ses(self) -> LocalSes:
        assert self._ses is not None, "the stack is not running"
        return self._ses

    @property
    def publisher(self) -> EventsPublisher:
        assert self._publisher is not None, "the stack is not running"
        return self._publisher

    @property
    def send_queue(self) -> QueuePoller:
        """One of the send queue's pollers (Lambda's event source mapping for the send worker)."""
        assert self._poller is not None, "the stack is not running"
        return self._poller

    @property
    def relay(self) -> LocalRelay:
        """The SMTP relay (its `starttls_port` and `tls_port`)."""
        assert self._relay is not None, "the stack is not running"
        return self._relay

    @property
    def webhook_sender(self) -> LocalWebhookSender:
        """The webhook sender (its queue's event source and the minute's sweep, `sweep_now()`)."""
        assert self._webhook_sender is not None, "the stack is not running"
        return self._webhook_sender

    @property
    def smtp_host(self) -> str:
        return "localhost"

    def connection(self) -> dict[str, Any]:
        """What a client needs to talk to this stack (the banner's facts): `GET /_local/connection`."""
        relay = self.relay
        return {
            "api_url": self.api_url,
            "console": f"{self.api_url}/console/",
            "docs": f"{self.api_url}/v1/docs",
            "admin_api_key": self.admin_key,
            "admin_api_key_from": "generated" if self.admin_key_generated else "POSTHORN_ADMIN_KEY",
            "smtp": {
                "host": self.smtp_host,
                "starttls_port": relay.starttls_port,
                "tls_port": relay.tls_port,
                "auth": ["PLAIN", "LOGIN"],
                "username": "a credential's username (or posthorn, with the whole api_key as password)",
                "password": "its secret",
                "ca_url": f"{self.api_url}/_local/ca.pem",
            },
            "local_ses": {"host": self.smtp_host, "port": self.ses.port},
            "aws_endpoint": self.moto_url,
        }

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._cleanup is not None:
            raise RuntimeError("the local stack is already running")
        cleanup = contextlib.ExitStack()
        try:
            self._start(cleanup)
        except BaseException:
            cleanup.close()
            raise
        self._cleanup = cleanup

    def stop(self) -> None:
        """Stop the API, then SES (its pending callbacks), deliver queued events, restore the environment,
        stop AWS. Safe to call twice."""
        cleanup, self._cleanup = self._cleanup, None
        if cleanup is not None:
            cleanup.close()
        self._ses = self._http = self._publisher = self._poller = self._relay = None
        self._webhook_sender = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start(self, cleanup: contextlib.ExitStack) -> None:
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="posthorn-local-")))

        # AWS: the moto server, and an environment that can only ever reach it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request otherwise
        moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        moto.start()
        cleanup.callback(_stop_moto, moto)
        moto_host, moto_port = moto.get_host_and_port()
        self.moto_url = f"http://{moto_host}:{moto_port}"

        env = _Environment()
        cleanup.callback(wiring.reset)
        cleanup.callback(env.restore)
        env.set(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": None,
                "AWS_PROFILE": None,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                # A developer's own AWS config (profiles, per-service endpoints) must not leak in.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
                **{name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")},
            }
        )
        smtp = LocalSmtpSecret(
            username="AKIA" + secrets.token_hex(8).upper(), password=secrets.token_urlsafe(24)
        )
        self.ids = provision(boto3.Session(region_name=REGION), prefix=PREFIX, smtp=smtp)

        # The functions, as Lambda would run them (made once their settings are read, below); SES events
        # reach the events function.
        functions: dict[str, LambdaFunction] = {}
        publisher = EventsPublisher(
            self.ids["EventsTopic"],
            lambda event: functions[EVENTS_FUNCTION].invoke(event),
            delay_seconds=self.event_delay_seconds,
        )
        publisher.start()
        cleanup.callback(publisher.stop)
        self._publisher = publisher

        tls = make_tls_material(state / "tls")
        self.ca_file = tls.ca_file
        ses = LocalSes(
            username=smtp.username,
            password=smtp.password,
            tls=tls,
            host=HOST,
            port=self.smtp_port,
            mode="starttls",
            on_message=publisher.on_message,
        )
        ses.start()
        cleanup.callback(ses.stop)
        self._ses = ses

        env.set(self._shared_environment())
        self.environments = self._function_environments(ses.port, tls.ca_file)
        self.settings = {name: _read_settings(name, values) for name, values in self.environments.items()}
        wiring.reset()
        functions.update(
            {
                name: LambdaFunction(name, template.handler_of(name), self.settings[name])
                for name in (SEND_FUNCTION, EVENTS_FUNCTION)
            }
        )
        # The console's files (template.STATIC_FUNCTIONS), from the same function the template deploys.
        functions.update(
            {name: LambdaFunction(name, template.handler_of(name)) for name in template.STATIC_FUNCTIONS}
        )
        with running(self.settings[SEND_FUNCTION]):  # the first admin, as the API would store it
            self._seed_admin()

        # The send worker as Lambda's SQS event source runs it: up to MaximumConcurrency instances at once
        # (the template's SendWorkerConcurrency), each taking batches of up to 10 from SendQueue.
        sqs = boto3.client("sqs", region_name=REGION)
        for instance in range(int(template.parameter_default("SendWorkerConcurrency"))):
            worker = LambdaFunction(
                SEND_WORKER_FUNCTION,
                template.handler_of(SEND_WORKER_FUNCTION),
                self.settings[SEND_WORKER_FUNCTION],
            )
            poller = QueuePoller(sqs, self.ids["SendQueue"], worker.invoke)
            poller.start()
            cleanup.callback(poller.stop)
            if instance == 0:
                self._poller = poller

        # The webhook sender as its SQS event source and its schedule run it: each sender instance makes up to
        # 10 attempts at once, WebhookSenderConcurrency instances.
        instances = int(template.parameter_default("WebhookSenderConcurrency")) * 10
        sender_settings = self.settings[WEBHOOK_SENDER_FUNCTION]
        webhook_sender = LocalWebhookSender(
            sqs, self.ids["WebhookQueue"], instances=instances, settings=sender_settings
        )
        webhook_sender.start()
        cleanup.callback(webhook_sender.stop)
        self._webhook_sender = webhook_sender
        # The slow lane, with instances of its own (the same function; the sweep runs once, above).
        slow_instances = int(template.parameter_default("WebhookSlowSenderConcurrency")) * 10
        slow_lane = LocalWebhookSender(
            sqs,
            self.ids["WebhookSlowQueue"],
            instances=slow_instances,
            sweep_seconds=0,
            settings=sender_settings,
        )
        slow_lane.start()
        cleanup.callback(slow_lane.stop)

        # The SMTP relay as its ECS service runs it (the same package), with a certificate for localhost
        # and 127.0.0.1 from the stack's CA.
        relay = LocalRelay(
            cert_file=tls.cert_file,
            key_file=tls.key_file,
            starttls_port=self.relay_port,
            tls_port=self.relay_tls_port,
            send_settings=self.settings[RELAY_TASK],
        )
        relay.start()
        cleanup.callback(relay.stop)
        self._relay = relay

        server = LocalHttpServer(
            (HOST, self.requested_port),
            routes=template.routes(),
            functions=functions,
            services=LocalServices(
                ses.outbox,
                publisher,
                functions[EVENTS_FUNCTION],
                tls.ca_file,
                connection=self.connection,
                settings=self.settings[SEND_FUNCTION],
            ),
        )
        cleanup.callback(server.server_close)
        thread = serve(server)
        cleanup.callback(_stop_http, server, thread)
        self._http = server

    def _shared_environment(self) -> dict[str, str]:
        """What every function's process has besides its settings: Powertools' variables (Globals)."""
        values = {
            name: str(value)
            for name, value in template.global_environment().items()
            if name.startswith("POWERTOOLS_")
        }
        values["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon locally
        for name in ("POWERTOOLS_LOG_LEVEL", "POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED"):
            if os.environ.get(name):
                values[name] = os.environ[name]  # the developer's choice wins
        return values

    def _function_environments(self, smtp_port: int, ca_file: Path) -> dict[str, dict[str, str]]:
        """Each function's own variables (the relay's task's too), resolved to the local resources."""
        overrides = {
            "SES_SMTP_HOST": self.smtp_host,
            "SES_SMTP_PORT": str(smtp_port),
            "SES_SMTP_TLS": "starttls",
            "SES_SMTP_SECRET_ID": self.ids["SesSmtpSecretId"],
            "AUTO_VERIFY_DOMAINS": "true",
        }
        if self.ses_max_send_rate is not None:
            overrides["SES_MAX_SEND_RATE"] = str(self.ses_max_send_rate)
        # The deliverability guard's four settings (docs/api.md, "Deliverability guard"):
        # POSTHORN_GUARD_WINDOW, _MINIMUM, _BOUNCE_RATE and _COMPLAINT_RATE (percentages), and how long a
        # message is kept, POSTHORN_MESSAGE_RETENTION_DAYS (docs/api.md, "Retention"); else the template's
        # defaults.
        for setting in LOCAL_SETTINGS:
            if os.environ.get(f"POSTHORN_{setting}", "").strip():
                overrides[setting] = os.environ[f"POSTHORN_{setting}"].strip()
        local_only = {
            "SES_SMTP_CA_FILE": str(ca_file),  # trust the local SES's throwaway CA
            # Webhooks may be http:// and go to loopback (a receiver on this machine); nothing else.
            "WEBHOOK_ALLOW_LOOPBACK": "true",
        }
        return {name: {**environment(name, self.ids, overrides), **local_only} for name in template.SETTINGS}

    def _seed_admin(self) -> None:
        from posthorn.logic.accounts.credentials import api_key, seed_credential
        from posthorn.logic.ids import new_secret, new_username
        from posthorn.models.credentials import Permission

        if self.admin_key is None:
            self.admin_key = api_key(new_username(), new_secret())
        seed_credential(
            wiring.credentials(),
            wiring.pepper(),
            self.admin_key,
            name="local admin",
            permissions=[Permission.ADMIN],
            domains=[],
            now=datetime.now(UTC),
        )


def _read_settings(logical_id: str, environment: Mapping[str, str]) -> Settings:
    """The function's settings class read from its own environment; what it lacks fails the stack's start."""
    try:
        return template.SETTINGS[logical_id].from_environment(environment)
    except SettingsError as error:
        raise SettingsError(f"{logical_id} in template.yaml: {error}") from None


def _stop_moto(moto: ThreadedMotoServer) -> None:
    # moto keeps its resources in this process's memory, beyond the server: forget them, so that a stack
    # started later in the same process (another test module) provisions into an empty account.
    host, port = moto.get_host_and_port()
    reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    with contextlib.suppress(OSError), urllib.request.urlopen(reset, timeout=10):  # noqa: S310 - loopback
        pass
    moto.stop()
    # ThreadedMotoServer.stop() shuts the server down but leaves its listening socket open.
    server: Any = getattr(moto, "_server", None)
    if server is not None:
        server.server_close()


def _stop_http(server: LocalHttpServer, thread: Any) -> None:
    server.shutdown()
    thread.join(timeout=5)
