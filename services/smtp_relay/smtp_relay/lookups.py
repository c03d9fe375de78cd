"""The checks a session repeats, answered from memory for at most a second (`RelaySettings.cache_seconds`),
so a change the API answered is honoured by every relay task within 2 s (docs/api.md, "Guarantees"): a
domain's record (MAIL FROM and the From: check), a small suppression list (RCPT TO) and the session's
credential (every MAIL FROM and end of DATA). Each AUTH reads the credential afresh (`StoredCredentials`).
Each keeps its reads in a `TtlCache` (thread-safe: used from the relay's threads and its event loop); `peek`
answers from memory only, so the event loop can use what is there without a thread hop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from posthorn.errors import Unauthorized
from posthorn.logic.accounts.credentials import hash_secret, require, verify_hash, verify_secret
from posthorn.logic.ttl_cache import TtlCache
from posthorn.models.credentials import Credential, CredentialStatus, Permission
from posthorn.models.domains import DomainRecord
from posthorn.ports import Clock, CredentialStore, SenderDomains, SuppressionSnapshots


class RecentDomains:
    """`SenderDomains` from memory for a few seconds."""

    def __init__(
        self, domains: SenderDomains, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._domains = domains
        self._recent: TtlCache[str, DomainRecord | None] = TtlCache(seconds, clock)

    def get_domain(self, domain: str) -> DomainRecord | None:
        return self._recent.get(domain, lambda: self._domains.get_domain(domain))

    def known(self, domain: str) -> bool:
        return self._recent.peek(domain)[0]


class RecentSuppressions:
    """Is this recipient suppressed for this domain? A domain's whole list is kept for a few seconds when it
    is small (at most `snapshot_limit` addresses): RCPT TO is then answered from memory. Larger lists are
    asked per recipient. A suppression younger than the snapshot is not refused at RCPT; the send worker's
    re-check before SMTP still leaves that recipient out."""

    def __init__(
        self,
        store: SuppressionSnapshots,
        seconds: float,
        snapshot_limit: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._limit = snapshot_limit
        self._recent: TtlCache[str, frozenset[str] | None] = TtlCache(seconds, clock)

    def _snapshot(self, domain: str) -> frozenset[str] | None:
        found = self._store.suppressed_snapshot(domain, limit=self._limit)
        return frozenset(found) if found is not None else None

    def answer_from_memory(self, domain: str, address: str) -> bool | None:
        """True or False when the domain's snapshot is fresh and says so; None when a read is needed."""
        known, snapshot = self._recent.peek(domain)
        if not known or snapshot is None:
            return None
        return address.lower() in snapshot

    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        """`SuppressionLookup` from the same snapshot (the end of DATA's check of the From: domain)."""
        return {email for email in emails if self.suppressed(domain, email)}

    def suppressed(self, domain: str, address: str) -> bool:
        snapshot = self._recent.get(domain, lambda: self._snapshot(domain))
        if snapshot is None:  # too many to keep: ask for this one
            return bool(self._store.suppressed_addresses(domain, [address]))
        return address.lower() in snapshot


class SessionLogin(NamedTuple):
    """What a session keeps of its AUTH to check it again: the username and the secret's keyed hash (never
    the secret)."""

    username: str
    secret_hash: str


class StoredCredentials:
    """`verify_secret` against the store on every AUTH, never from memory; and the same check again, at every
    MAIL FROM and end of DATA of an open session (`current`), from a read at most `seconds` old. So a
    credential revoked, suspended, stripped of `send` or of a domain, or a secret rotated away, stops an open
    session within `seconds` plus the check itself (docs/api.md, "Guarantees": within 2 s), at one
    credential read per credential per `seconds` and relay task, whatever the number of messages."""

    def __init__(
        self,
        store: CredentialStore,
        pepper: Callable[[], bytes],
        clock: Clock,
        seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._pepper = pepper
        self._clock = clock
        self._recent: TtlCache[str, Credential | None] = TtlCache(seconds, monotonic)

    def verify(self, username: str, secret: str) -> tuple[Credential, SessionLogin]:
        credential = verify_secret(username, secret, self._store, self._pepper(), now=self._clock.now())
        return credential, SessionLogin(username, hash_secret(self._pepper(), username, secret))

    def current(self, login: SessionLogin) -> Credential:
        """The session's credential as it stands now (raises as AUTH would; `Forbidden` without `send`)."""
        stored = self.answer_from_memory(login)
        if stored is None:
            stored = self._recent.get(login.username, lambda: self._store.get_credential(login.username))
        return self._checked(stored, login)

    def answer_from_memory(self, login: SessionLogin) -> Credential | None:
        """The credential when a fresh read of it is kept (then checked), else None: never a read."""
        known, stored = self._recent.peek(login.username)
        return self._checked(stored, login) if known else None

    def _checked(self, stored: Credential | None, login: SessionLogin) -> Credential:
        try:
            credential = verify_hash(stored, login.secret_hash, now=self._clock.now())
        except Unauthorized:
            # Stored and not revoked: its secret is no longer this one (rotated); the session is told so.
            if stored is not None and stored.status is not CredentialStatus.REVOKED:
                raise Unauthorized(
                    "the secret this session authenticated with no longer works (rotated)"
                ) from None
            raise
        require(credential, Permission.SEND)
        return credential
