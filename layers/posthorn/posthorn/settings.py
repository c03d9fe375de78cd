"""Settings: one pydantic model read from the environment once per process (the template sets the values)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str
    bucket_name: str = ""
    events_topic_arn: str = ""
    send_queue_url: str = ""
    # Where the events function puts SNS records it cannot parse (the template's EventsDeadLetterQueue).
    events_dead_letter_queue_url: str = ""

    ses_smtp_host: str
    ses_smtp_port: int = 587
    ses_smtp_tls: Literal["starttls", "tls"] = "starttls"
    ses_smtp_secret_id: str
    # Only the local stack sets this: the CA of its self-signed certificate. Deployed, system CAs verify SES.
    ses_smtp_ca_file: str | None = None
    ses_smtp_timeout_seconds: float = 10.0
    # The time one API request may spend on SES retries before it answers 503 (API Gateway stops at 29 s).
    send_budget_seconds: float = 12.0

    # The send queue and its worker (template: SendQueue, SendWorkerFunction).
    ses_max_send_rate: float = Field(default=14.0, gt=0)
    # Must equal SendQueue's maxReceiveCount: on the last receive the worker records the message `failed`.
    send_max_receives: int = Field(default=5, ge=1)
    # Backoff before a queued message is tried again: base * 2^(attempt - 1), at most the cap.
    send_retry_base_seconds: float = Field(default=30.0, ge=0)
    send_retry_cap_seconds: float = Field(default=900.0, ge=0)
    # The time one queued message may spend on SMTP retries inside one worker invocation.
    worker_send_budget_seconds: float = Field(default=8.0, gt=0)

    pepper_secret_id: str

    configuration_set_plain: str = ""
    configuration_set_opens: str = ""
    configuration_set_clicks: str = ""
    configuration_set_opens_clicks: str = ""

    default_rate_limit_per_second: int = Field(default=10, ge=1)
    file_retention_days: int = Field(default=30, ge=1)
    # How long a presigned upload URL (POST /v1/files/uploads) stays valid.
    file_upload_url_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Cached files kept in memory per warm function for attaching to many messages (base64 bodies).
    file_cache_max_bytes: int = Field(default=96 * 1024 * 1024, ge=0)
    auto_verify_domains: bool = False
    idempotency_ttl_seconds: int = 24 * 3600

    # Webhooks (template: WebhooksTable, WebhookQueue, WebhookSecretsKey, WebhookSenderFunction, AlarmTopic).
    webhooks_table_name: str = ""
    webhook_queue_url: str = ""
    webhook_slow_queue_url: str = ""
    webhook_secrets_key_id: str = ""
    alarm_topic_arn: str = ""
    # Attempts at once per endpoint in one sender instance.
    webhook_endpoint_concurrency: int = Field(default=10, ge=1, le=64)
    # Only the local stack sets this: webhooks may use http, and loopback addresses, nothing else.
    webhook_allow_loopback: bool = False
    # The deliverability guard (template: GuardWindow, GuardMinimum, GuardBounceRate, GuardComplaintRate;
    # locally POSTHORN_GUARD_*). Rates are percentages, as the parameters are: 4 means 4 %.
    guard_window: int = Field(default=10_000, ge=1)
    guard_minimum: int = Field(default=1_000, ge=0)
    guard_bounce_rate: float = Field(default=4.0, gt=0, le=100)
    guard_complaint_rate: float = Field(default=0.08, gt=0, le=100)
    # The guard announces a pause or a resume on the template's AlarmTopic (alarm_topic_arn above).
    # The key that signs listing cursors is derived from the pepper (see logic/insight/cursors.py).

    def configuration_set(self, *, track_opens: bool, track_clicks: bool) -> str:
        if track_opens and track_clicks:
            return self.configuration_set_opens_clicks
        if track_opens:
            return self.configuration_set_opens
        if track_clicks:
            return self.configuration_set_clicks
        return self.configuration_set_plain


def _from_environment() -> Settings:
    import os

    fields = Settings.model_fields
    values = {name: os.environ[name.upper()] for name in fields if os.environ.get(name.upper(), "") != ""}
    return Settings.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _from_environment()
