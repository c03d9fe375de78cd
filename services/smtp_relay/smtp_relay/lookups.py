"""The checks a session repeats, answered from memory for a few seconds: a verified credential (so a client
that opens a connection per message does not cost a credential read each time) and a domain's record (so
MAIL FROM and the From: check cost no round trip). Used from the relay's threads, hence the lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from posthorn.logic.credentials import hash_secret, verify_secret
from posthorn.models.credentials import Credential
from posthorn.models.domains import DomainRecord
from posthorn.ports import CredentialStore, SenderDomains

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

    def get(self, key: str, read: Callable[[], Value]) -> Value:
        now = self.clock()
        with self._lock:
            found = self._values.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = read()
        if self.seconds > 0:
            with self._lock:
                if len(self._values) >= self.size:
                    self._values.clear()
                self._values[key] = (now + self.seconds, value)
        return value


class RecentDomains:
    """`SenderDomains` from memory for a few seconds."""

    def __init__(self, domains: SenderDomains, seconds: float) -> None:
        self._domains = domains
        self._recent: Recent[DomainRecord | None] = Recent(seconds)

    def get_domain(self, domain: str) -> DomainRecord | None:
        return self._recent.get(domain, lambda: self._domains.get_domain(domain))


class RecentCredentials:
    """`verify_secret` with its successes kept for a few seconds, keyed by the keyed hash of the pair (a
    wrong secret never matches a kept success; failures are never kept)."""

    def __init__(self, store: CredentialStore, pepper: Callable[[], bytes], seconds: float) -> None:
        self._store = store
        self._pepper = pepper
        self._recent: Recent[Credential] = Recent(seconds)

    def verify(self, username: str, secret: str) -> Credential:
        pepper = self._pepper()
        key = hash_secret(pepper, username, secret)
        return self._recent.get(key, lambda: verify_secret(username, secret, self._store, pepper))
