"""Settings: what each entry point reads from its environment (template.yaml sets it), one class per entry
point, each made of the groups of variables the factories it uses read.

A function reads its own variables and nobody else's: `ApiSettings`, `EventsSettings`, `WorkerSettings`,
`WebhookSenderSettings` and `SubmissionSettings` (the SMTP relay's send path; its listener has
`smtp_relay.settings.RelaySettings`). A variable without a default is one the function cannot work without:
reading the class fails at once and names every such variable that is missing. `wiring.settings(kind)`
is how code reads them; a unit test holds each class to its function's block in template.yaml.

Imported and read at first use, not at a function's init: the classes build their validators then
(`defer_build`), and the values are kept for the warm process (`forget()` drops them). No `from __future__
import annotations` here: pydantic would evaluate each group's annotations again for every class that
includes it.

The local stack runs every function in one process, so it reads each function's settings from that
function's own environment and hands them to its invocations (`running`); elsewhere (Lambda, the relay's
container, the tests) a process reads its environment.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(Exception):
    """A function's environment lacks a variable it needs, or holds one it cannot read: the message names
    the variables, as the template spells them."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    @classmethod
    def variables(cls) -> dict[str, bool]:
        """Each environment variable the class reads, and whether the function needs it (no default)."""
        return {name.upper(): field.is_required() for name, field in cls.model_fields.items()}

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Self:
        """The class read from `environment` (the process's by default); an empty variable is an unset one."""
        source = os.environ if environment is None else environment
        values = {
            name: source[name.upper()] for name in cls.model_fields if source.get(name.upper(), "") != ""
        }
        missing = sorted(
            name for name, needed in cls.variables().items() if needed and name.lower() not in values
        )
        if missing:
            raise SettingsError(f"{cls.__name__}: {', '.join(missing)} not set")
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
            )
            raise SettingsError(f"{cls.__name__}: {problems}") from None


# --- the groups: what one factory (or one use case) reads. Plain classes: the entry points' models collect
# their fields, and a group costs no model of its own at import (a group read alone gets one: `current`).
class TableSettings:
    table_name: str


class PepperSettings:
    """The key that hashes credential secrets and signs listing cursors (`logic/insight/cursors.py`)."""

    pepper_secret_id: str


class SesSmtpSettings:
    ses_smtp_host: str
    ses_smtp_port: int = 587
    ses_smtp_tls: Literal["starttls", "tls"] = "starttls"
    ses_smtp_secret_id: str
    # Only the local stack sets this: the CA of its self-signed certificate. Deployed, system CAs verify SES.
    ses_smtp_ca_file: str | None = None
    ses_smtp_timeout_seconds: float = 10.0


class BucketSettings:
    bucket_name: str


class SendQueueSettings(BucketSettings):
    """The send queue; a body too large for a queue message waits in the bucket."""

    send_queue_url: str


class FileContentsSettings(BucketSettings):
    # Cached files kept in memory per warm function for attaching to many messages (base64 bodies).
    file_cache_max_bytes: int = Field(default=96 * 1024 * 1024, ge=0)


class FileCacheSettings(FileContentsSettings):
    file_retention_days: int = Field(default=30, ge=1)
    # How long a presigned upload URL (POST /v1/files/uploads) stays valid.
    file_upload_url_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)


class ConfigurationSetSettings:
    """The SES configuration set a message is sent with, one per tracking choice."""

    configuration_set_plain: str
    configuration_set_opens: str
    configuration_set_clicks: str
    configuration_set_opens_clicks: str

    def configuration_set(self, *, track_opens: bool, track_clicks: bool) -> str:
        if track_opens and track_clicks:
            return self.configuration_set_opens_clicks
        if track_opens:
            return self.configuration_set_opens
        if track_clicks:
            return self.configuration_set_clicks
        return self.configuration_set_plain


class IntakeSettings:
    """What accepting a message reads besides its stores (the API and the SMTP relay alike)."""

    default_rate_limit_per_second: int = Field(default=10, ge=1)
    idempotency_ttl_seconds: int = 24 * 3600


class WebhookFanoutSettings:
    """Where every recorder of events writes webhook deliveries and prompts the sender (template:
    WebhooksTable, WebhookQueue, WebhookSlowQueue)."""

    webhooks_table_name: str
    webhook_queue_url: str
    webhook_slow_queue_url: str


class WebhookSecretSettings:
    """Sealing and opening webhook signing secrets (WebhookSecretsKey), and which endpoints are allowed."""

    webhook_secrets_key_id: str
    # Only the local stack sets this: webhooks may use http, and loopback addresses, nothing else.
    webhook_allow_loopback: bool = False


class AlarmSettings:
    """The template's AlarmTopic: the guard's pauses and resumes, webhook endpoints disabled."""

    alarm_topic_arn: str


class GuardSettings(AlarmSettings):
    """The deliverability guard (template: GuardWindow, GuardMinimum, GuardBounceRate, GuardComplaintRate;
    locally POSTHORN_GUARD_*). Rates are percentages, as the parameters are: 4 means 4 %."""

    guard_window: int = Field(default=10_000, ge=1)
    guard_minimum: int = Field(default=1_000, ge=0)
    guard_bounce_rate: float = Field(default=4.0, gt=0, le=100)
    guard_complaint_rate: float = Field(default=0.08, gt=0, le=100)


class RetentionSettings:
    """How long everything written for a message is kept, in days from its creation; 0 keeps it for ever
    (template: MessageRetentionDays; locally POSTHORN_MESSAGE_RETENTION_DAYS; adapters/dynamodb/retention.py).
    Every function that writes an item of a message reads it, so all of them stamp the same expiry."""

    message_retention_days: int = Field(default=90, ge=0)


# --- the entry points: the groups each one's factories read, and its own --------------------------------
class ApiSettings(
    Settings,
    TableSettings,
    PepperSettings,
    SesSmtpSettings,
    SendQueueSettings,
    FileCacheSettings,
    ConfigurationSetSettings,
    IntakeSettings,
    WebhookFanoutSettings,
    WebhookSecretSettings,
    GuardSettings,
    RetentionSettings,
):
    """SendFunction: the HTTPS API (it sends at once when SES takes the message, and pauses and resumes
    domains as an admin asks)."""

    # The time one API request may spend on SES retries before it answers 503 (API Gateway stops at 29 s).
    send_budget_seconds: float = 12.0
    auto_verify_domains: bool = False


class EventsSettings(Settings, TableSettings, WebhookFanoutSettings, GuardSettings, RetentionSettings):
    """EventsFunction: SES notifications recorded, the guard checked, webhook deliveries written."""

    # Where the function puts SNS records it cannot parse (the template's EventsDeadLetterQueue); without it
    # such a record fails the invocation.
    events_dead_letter_queue_url: str = ""


class WorkerSettings(
    Settings,
    TableSettings,
    SesSmtpSettings,
    SendQueueSettings,
    FileContentsSettings,
    WebhookFanoutSettings,
    RetentionSettings,
):
    """SendWorkerFunction: queued messages sent at the SES account's rate (template: SendQueue)."""

    ses_max_send_rate: float = Field(default=14.0, gt=0)
    # Must equal SendQueue's maxReceiveCount: on the last receive the worker records the message `failed`.
    send_max_receives: int = Field(default=5, ge=1)
    # Backoff before a queued message is tried again: base * 2^(attempt - 1), at most the cap.
    send_retry_base_seconds: float = Field(default=30.0, ge=0)
    send_retry_cap_seconds: float = Field(default=900.0, ge=0)
    # The time one queued message may spend on SMTP retries inside one worker invocation.
    worker_send_budget_seconds: float = Field(default=8.0, gt=0)


class WebhookSenderSettings(
    Settings, WebhookFanoutSettings, WebhookSecretSettings, AlarmSettings, RetentionSettings
):
    """WebhookSenderFunction: signed deliveries posted, retried, and the endpoints that keep failing
    disabled (announced on the alarm topic). It reads the retention because an attempt rewrites its delivery,
    expiry included."""

    # Attempts at once per endpoint in one sender instance.
    webhook_endpoint_concurrency: int = Field(default=10, ge=1, le=64)


class SubmissionSettings(
    Settings,
    TableSettings,
    PepperSettings,
    SendQueueSettings,
    FileCacheSettings,
    ConfigurationSetSettings,
    IntakeSettings,
    RetentionSettings,
):
    """The SMTP relay's send path (SmtpRelayTaskDefinition): credentials checked, messages accepted and
    queued for the worker."""


# --- reading them ------------------------------------------------------------------------------------------
Kind = TypeVar("Kind")

_running: ContextVar[Settings | None] = ContextVar("posthorn_settings", default=None)
_read: dict[type, Settings] = {}
_models: dict[type, type[Settings]] = {}


def current(kind: type[Kind]) -> Kind:
    """The `kind` of settings (an entry point's class or one of its groups) this function reads: from the
    settings `running` names, or else read from the process's environment once per warm process. Settings
    whose class does not include `kind` are another function's reading a variable not its own: that fails
    here, naming both."""
    running = _running.get()
    if running is not None:
        if not isinstance(running, kind):
            variables = ", ".join(model_of(kind).variables())
            raise SettingsError(f"{type(running).__name__} does not include {kind.__name__} ({variables})")
        return running
    made = _read.get(kind)
    if made is None:
        # The function's own class, read first (each entry point does), holds every group it reads.
        made = next((read for read in _read.values() if isinstance(read, kind)), None)
        _read[kind] = made = made or model_of(kind).from_environment()
    return cast(Kind, made)


def model_of(kind: type) -> type[Settings]:
    """`kind` itself if it is an entry point's class; for a group read alone (tests, tools), a model of it."""
    if issubclass(kind, Settings):
        return kind
    if kind not in _models:
        _models[kind] = cast(type[Settings], type(kind.__name__, (Settings, kind), {"__module__": __name__}))
    return _models[kind]


@contextmanager
def running(settings: Settings | None) -> Iterator[None]:
    """Code inside reads `settings` (the local stack: one function's own, in a process that hosts them all);
    None: the process's environment."""
    token = _running.set(settings)
    try:
        yield
    finally:
        _running.reset(token)


def hold(settings: Settings | None) -> None:
    """This thread reads `settings` from now on: a thread that only ever serves one function (the local
    stack's relay threads, as a pool's initializer)."""
    _running.set(settings)


def forget() -> None:
    """Read the environment again at the next use (it changed: tests, the local stack)."""
    _read.clear()
