"""In-memory stand-ins for the send path's ports: same behaviour as the adapters, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from posthorn.logic.idempotency import IdempotencyRecord, StoredResponse
from posthorn.models.credentials import Credential, CredentialStatus


@dataclass
class _Entry:
    fingerprint: str
    lease_until: int
    ttl: int
    response: StoredResponse | None = None


@dataclass
class FakeIdempotencyStore:
    """The DynamoDB claim semantics: a key is free when absent, expired, or an in-flight claim whose lease
    ran out."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)

    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> IdempotencyRecord | None:
        entry = self.entries.get(scope_key)
        free = entry is None or entry.ttl < now or (entry.response is None and entry.lease_until < now)
        if free:
            self.entries[scope_key] = _Entry(fingerprint, now + lease_seconds, now + ttl_seconds)
            return None
        assert entry is not None
        return IdempotencyRecord(fingerprint=entry.fingerprint, response=entry.response)

    def complete(self, scope_key: str, response: StoredResponse, *, expires_at: int) -> None:
        entry = self.entries[scope_key]
        entry.response = response
        entry.ttl = expires_at

    def release(self, scope_key: str) -> None:
        self.released.append(scope_key)
        self.entries.pop(scope_key, None)


@dataclass
class FakeCredentialStore:
    credentials: dict[str, Credential] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def get_credential(self, username: str) -> Credential | None:
        self.lookups.append(username)
        return self.credentials.get(username)

    def put_credential(self, credential: Credential) -> None:
        self.credentials[credential.username] = credential

    def list_credentials(self) -> list[Credential]:
        return list(self.credentials.values())

    def set_credential_status(self, username: str, status: CredentialStatus) -> Credential | None:
        current = self.credentials.get(username)
        if current is None:
            return None
        updated = current.model_copy(update={"status": status})
        self.credentials[username] = updated
        return updated


@dataclass
class FixedClock:
    at: datetime = field(default_factory=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at


@dataclass
class ManualMonotonic:
    """A monotonic clock tests move by hand (for the SMTP pool's idle checks)."""

    value: float = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
