"""The checks a session repeats, answered from memory for a few seconds: a domain's record (so MAIL FROM
and the From: check cost no round trip) and a small suppression list (so RCPT TO costs none either). A
credential is not: each AUTH reads it (`StoredCredentials`), so a change to it counts at once.
Used from the relay's threads and its event loop, hence the lock; `peek` answers from memory only, so the
event loop can use what is there without a thread hop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from posthorn.logic.credentials import verify_secret
from posthorn.models.credentials import Credential
from posthorn.models.domains import DomainRecord
from posthorn.ports import Clock, CredentialStore, SenderDomains, SuppressionSnapshots

Value = TypeVar("Value")


class Recent(Generic[Value]):
    """Values kept `seconds` after they were read, at most `size` of them."""

    def __init__(
        self, seconds: float, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._values: dict[str, tuple[float, Value]] = {}
        self._lock = threading.Lock()

    def peek(self, key: str) -> tuple[bool, Value | None]:
        """(True, the value) when one is kept and fresh, else (False, None): never a read."""
        with self._lock:
            found = self._values.get(key)
        if found is not None and found[0] > self.clock():
            return True, found[1]
        return False, None

    def get(self, key: str, read: Callable[[], Value]) -> Value:
        known, value = self.peek(key)
        if known:
            return value  # type: ignore[return-value]
        value = read()
        if self.seconds > 0:
            with self._lock:
                if len(self._values) >= self.size:
                    self._values.clear()
                self._values[key] = (self.clock() + self.seconds, value)
        return value


class RecentDomains:
    """`SenderDomains` from memory for a few seconds."""

    def __init__(self, domains: SenderDomains, seconds: float) -> None:
        self._domains = domains
        self._recent: Recent[DomainRecord | None] = Recent(seconds)

    def get_domain(self, domain: str) -> DomainRecord | None:
        return self._recent.get(domain, lambda: self._domains.get_domain(domain))

    def known(self, domain: str) -> bool:
        return self._recent.peek(domain)[0]


class RecentSuppressions:
    """Is this recipient suppressed for this domain? A domain's whole list is kept for a few seconds when it
    is small (at most `snapshot_limit` addresses): RCPT TO is then answered from memory. Larger lists are
    asked per recipient. A suppression younger than the snapshot is not refused at RCPT; the send worker's
    re-check before SMTP still leaves that recipient out."""

    def __init__(self, store: SuppressionSnapshots, seconds: float, snapshot_limit: int = 5_000) -> None:
        self._store = store
        self._limit = snapshot_limit
        self._recent: Recent[frozenset[str] | None] = Recent(seconds)

    def _snapshot(self, domain: str) -> frozenset[str] | None:
        found = self._store.suppressed_snapshot(domain, limit=self._limit)
        return frozenset(found) if found is not None else None

    def answer_from_memory(self, domain: str, address: str) -> bool | None:
        """True or False when the domain's snapshot is fresh and says so; None when a read is needed."""
        known, snapshot = self._recent.peek(domain)
        if not known or snapshot is None:
            return None
        return address.lower() in snapshot

    def suppressed(self, domain: str, address: str) -> bool:
        snapshot = self._recent.get(domain, lambda: self._snapshot(domain))
        if snapshot is None:  # too many to keep: ask for this one
            return bool(self._store.suppressed_addresses(domain, [address]))
        return address.lower() in snapshot


class StoredCredentials:
    """`verify_secret` against the store on every AUTH, never from memory: a revoked or suspended
    credential, or a secret rotated away (at once, or when its overlap ends), stops working on the next
    connection, as it does in the API (API.md). It costs one credential read per AUTH, i.e. per
    connection, what the API pays per request; the domain and suppression reads stay cached."""

    def __init__(self, store: CredentialStore, pepper: Callable[[], bytes], clock: Clock) -> None:
        self._store = store
        self._pepper = pepper
        self._clock = clock

    def verify(self, username: str, secret: str) -> Credential:
        return verify_secret(username, secret, self._store, self._pepper(), now=self._clock.now())
