"""The relay's own settings, read from the environment once (the template's task definition sets them; the
local stack sets them for its relay). What the send path needs is `posthorn.settings.SubmissionSettings`,
read as the functions read theirs."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, field_validator


class RelaySettings(BaseModel):
    hostname: str = "localhost"  # in the greeting and EHLO; the certificate's name
    host: str = "0.0.0.0"  # noqa: S104 - the relay listens for clients on every interface of its task
    starttls_ports: list[int] = Field(default_factory=lambda: [587, 2525])
    tls_ports: list[int] = Field(default_factory=lambda: [465])
    health_port: int = 8080  # 0: no health endpoint
    # The certificate and key: a Secrets Manager secret {"certificate", "private_key"} (deployed, reloaded
    # when it rotates), or two PEM files (the local stack).
    tls_secret_id: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_reload_seconds: float = Field(default=300.0, gt=0)
    # Behind the Network Load Balancer every connection to a STARTTLS port starts with a PROXY protocol v2
    # header: the client's real address, for per-IP AUTH throttling and the logs. (The implicit-TLS port's
    # target group preserves the client's address instead: there TLS starts with the first byte.)
    proxy_protocol: bool = False
    # Below the NLB listeners' 350 s TCP idle timeout, so the relay, not the balancer, ends an idle session.
    idle_timeout_seconds: float = Field(default=300.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    max_connections_per_credential: int = Field(default=100, ge=1)
    max_auth_failures_per_connection: int = Field(default=3, ge=1)
    max_auth_failures_per_ip: int = Field(default=10, ge=1)
    auth_failure_window_seconds: float = Field(default=600.0, gt=0)
    # DATA held in memory at once, over every connection: a transaction waits (then 452) beyond it.
    data_memory_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024 * 1024)
    # Domain records, small suppression lists and an open session's credential are reused this long: a
    # change the API answered must stop every relay task within 2 s (docs/api.md, "Guarantees"), hence at most
    # 1.5 s. Credentials are read afresh on every AUTH (`lookups.StoredCredentials`).
    cache_seconds: float = Field(default=1.0, ge=0, le=1.5)
    stop_grace_seconds: float = Field(default=100.0, ge=0)
    threads: int = Field(default=32, ge=1)  # for the store calls, so the event loop never waits on them

    @field_validator("starttls_ports", "tls_ports", mode="before")
    @classmethod
    def _ports(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(port) for port in value.split(",") if port.strip()]
        return value

    @classmethod
    def from_environment(cls) -> RelaySettings:
        values = {
            name: os.environ[f"RELAY_{name.upper()}"]
            for name in cls.model_fields
            if os.environ.get(f"RELAY_{name.upper()}", "") != ""
        }
        return cls.model_validate(values)
