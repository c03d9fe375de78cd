"""In-memory stand-ins for the send path's ports: same behaviour as the adapters, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from posthorn.models.credentials import Credential, CredentialStatus
from posthorn.models.files import FileRecord, FileStatus
from posthorn.ports import IdempotencyRecord, StoredObject, StoredResponse


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


@dataclass
class FakeFileStore:
    """The file records and blob reference counts of `DynamoFileStore`, in memory."""

    files: dict[str, FileRecord] = field(default_factory=dict)
    blobs: dict[tuple[str, str], int] = field(default_factory=dict)

    def put_file(self, record: FileRecord) -> None:
        assert record.file_key not in self.files
        self.files[record.file_key] = record

    def get_file(self, file_key: str) -> FileRecord | None:
        return self.files.get(file_key)

    def delete_file(self, file_key: str) -> FileRecord | None:
        return self.files.pop(file_key, None)

    def settle_upload(
        self, file_key: str, status: FileStatus, *, sha256: str | None = None, rejection: str | None = None
    ) -> FileRecord | None:
        record = self.files.get(file_key)
        if record is None or record.status != "pending":
            return None
        updated = record.model_copy(update={"status": status, "sha256": sha256, "rejection": rejection})
        self.files[file_key] = updated
        return updated

    def reference_blob(self, owner: str, sha256: str, *, expires_at: int) -> int:
        self.blobs[(owner, sha256)] = self.blobs.get((owner, sha256), 0) + 1
        return self.blobs[(owner, sha256)]

    def release_blob(self, owner: str, sha256: str) -> int:
        if (owner, sha256) not in self.blobs:
            return 0
        self.blobs[(owner, sha256)] -= 1
        return self.blobs[(owner, sha256)]

    def forget_blob(self, owner: str, sha256: str) -> bool:
        if self.blobs.get((owner, sha256), 0) > 0:
            return False
        self.blobs.pop((owner, sha256), None)
        return True


@dataclass
class FakeObjectStore:
    """A bucket in memory that counts reads."""

    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    reads: int = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def open(self, key: str) -> StoredObject | None:
        self.reads += 1
        if key not in self.objects:
            return None
        data, content_type = self.objects[key]
        chunks = (data[start : start + 1000] for start in range(0, len(data), 1000))
        return StoredObject(content_type=content_type, size=len(data), chunks=chunks, close=lambda: None)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str:
        return f"https://bucket.example/{key}?type={content_type}&size={size}&expires={expires_in}"


@dataclass
class FakeRateStore:
    """`RateStore` in memory: the same compare-and-move of one timestamp per key as the DynamoDB adapter."""

    tats: dict[str, int] = field(default_factory=dict)

    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        start = max(self.tats.get(key, 0), now_us)
        if latest_start_us is not None and start > latest_start_us:
            return False, self.tats[key]
        self.tats[key] = start + cost_us
        return True, self.tats[key]
