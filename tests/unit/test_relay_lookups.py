"""What the relay answers from memory (smtp_relay/lookups.py): a small suppression list whole, a large one per
recipient; recent domain records; a verified credential, never a failed one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from posthorn.errors import CredentialSuspended, Forbidden, Unauthorized
from posthorn.logic.accounts.credentials import hash_secret
from posthorn.models.credentials import CredentialStatus, Permission
from smtp_relay.lookups import RecentDomains, RecentSuppressions, StoredCredentials
from tests.support.fakes import FakeCredentialStore, FixedClock
from tests.support.records import credential

PEPPER = b"pepper"


@dataclass
class Snapshots:
    listed: dict[str, set[str]]
    limit_seen: list[int] = field(default_factory=list)
    single: list[str] = field(default_factory=list)

    def suppressed_snapshot(self, domain: str, *, limit: int) -> set[str] | None:
        self.limit_seen.append(limit)
        found = self.listed.get(domain, set())
        return None if len(found) > limit else set(found)

    def suppressed_addresses(self, domain: str, emails: object) -> set[str]:
        wanted = list(emails)  # type: ignore[call-overload]
        self.single.extend(wanted)
        return {email for email in wanted if email.lower() in self.listed.get(domain, set())}


def test_a_small_list_is_read_once_and_answered_from_memory() -> None:
    store = Snapshots({"example.com": {"gone@example.net"}})
    recent = RecentSuppressions(store, seconds=60, snapshot_limit=10)
    assert recent.answer_from_memory("example.com", "gone@example.net") is None  # nothing read yet
    assert recent.suppressed("example.com", "Gone@example.net")
    assert recent.answer_from_memory("example.com", "gone@EXAMPLE.net") is True
    assert recent.answer_from_memory("example.com", "here@example.net") is False
    assert store.limit_seen == [10]
    assert store.single == []


def test_a_large_list_is_asked_per_recipient() -> None:
    store = Snapshots({"example.com": {f"u{i}@example.net" for i in range(20)}})
    recent = RecentSuppressions(store, seconds=60, snapshot_limit=10)
    assert recent.suppressed("example.com", "u3@example.net")
    assert not recent.suppressed("example.com", "other@example.net")
    assert recent.answer_from_memory("example.com", "u3@example.net") is None
    assert store.single == ["u3@example.net", "other@example.net"]


def test_a_domain_record_is_read_again_once_its_seconds_are_over() -> None:
    now = [0.0]
    reads: list[str] = []

    class Domains:
        def get_domain(self, domain: str) -> None:
            reads.append(domain)

    recent = RecentDomains(Domains(), seconds=1.5, clock=lambda: now[0])
    recent.get_domain("example.com")
    now[0] = 1.4
    recent.get_domain("example.com")
    assert recent.known("example.com")
    now[0] = 1.5
    assert not recent.known("example.com")
    recent.get_domain("example.com")
    assert reads == ["example.com", "example.com"]


def test_every_auth_reads_the_credential_so_a_revocation_counts_on_the_next_connection() -> None:
    stored = credential("ph_app").model_copy(update={"secret_hash": hash_secret(PEPPER, "ph_app", "right")})
    store = FakeCredentialStore({"ph_app": stored})
    check = StoredCredentials(store, lambda: PEPPER, FixedClock(), seconds=1.0)
    assert check.verify("ph_app", "right")[0].username == "ph_app"
    with pytest.raises(Unauthorized):
        check.verify("ph_app", "wrong")
    store.credentials["ph_app"] = stored.model_copy(update={"status": CredentialStatus.REVOKED})
    with pytest.raises(Unauthorized):
        check.verify("ph_app", "right")
    assert store.lookups == ["ph_app", "ph_app", "ph_app"]


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"status": CredentialStatus.REVOKED}, Unauthorized),
        ({"status": CredentialStatus.SUSPENDED}, CredentialSuspended),
        ({"permissions": [Permission.READ]}, Forbidden),
        ({"secret_hash": "hmac-sha256$rotated"}, Unauthorized),
    ],
)
def test_an_open_session_is_checked_again_against_what_the_store_says_now(
    change: dict[str, object], refusal: type[Exception]
) -> None:
    stored = credential("ph_app").model_copy(update={"secret_hash": hash_secret(PEPPER, "ph_app", "right")})
    store = FakeCredentialStore({"ph_app": stored})
    check = StoredCredentials(store, lambda: PEPPER, FixedClock(), seconds=0)  # every check reads
    _, login = check.verify("ph_app", "right")
    assert "right" not in repr(login)  # the session keeps the keyed hash, never the secret
    assert check.current(login).username == "ph_app"
    store.credentials["ph_app"] = stored.model_copy(update=change)
    with pytest.raises(refusal):
        check.current(login)


def test_an_open_session_reads_its_credential_at_most_once_per_cache_period() -> None:
    stored = credential("ph_app").model_copy(update={"secret_hash": hash_secret(PEPPER, "ph_app", "right")})
    store = FakeCredentialStore({"ph_app": stored})
    check = StoredCredentials(store, lambda: PEPPER, FixedClock(), seconds=60)
    _, login = check.verify("ph_app", "right")
    store.lookups.clear()
    for _ in range(5):
        check.current(login)
    assert store.lookups == ["ph_app"]
    assert check.answer_from_memory(login) is not None


def test_a_rotation_with_overlap_keeps_the_old_secret_s_sessions_until_it_ends() -> None:
    clock = FixedClock()
    old = hash_secret(PEPPER, "ph_app", "old")
    stored = credential("ph_app").model_copy(update={"secret_hash": old})
    store = FakeCredentialStore({"ph_app": stored})
    check = StoredCredentials(store, lambda: PEPPER, clock, seconds=0)
    _, login = check.verify("ph_app", "old")
    rotated = {
        "secret_hash": hash_secret(PEPPER, "ph_app", "new"),
        "previous_secret_hash": old,
        "previous_secret_expires_at": clock.now() + timedelta(seconds=60),
    }
    store.credentials["ph_app"] = stored.model_copy(update=rotated)
    assert check.current(login).username == "ph_app"
    store.credentials["ph_app"] = stored.model_copy(
        update={**rotated, "previous_secret_expires_at": clock.now() - timedelta(seconds=1)}
    )
    with pytest.raises(Unauthorized, match="rotated"):
        check.current(login)
