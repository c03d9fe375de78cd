"""What the logic needs from the outside world. Adapters implement these; tests pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from posthorn.models.credentials import Credential, CredentialStatus
from posthorn.models.domains import DomainRecord
from posthorn.models.messages import MessageRecord


class Clock(Protocol):
    def now(self) -> datetime: ...


class CredentialStore(Protocol):
    def get_credential(self, username: str) -> Credential | None: ...
    def put_credential(self, credential: Credential) -> None: ...
    def list_credentials(self) -> list[Credential]: ...
    def set_credential_status(self, username: str, status: CredentialStatus) -> Credential | None: ...


class DomainStore(Protocol):
    def get_domain(self, domain: str) -> DomainRecord | None: ...
    def put_domain(self, record: DomainRecord) -> None: ...


class MessageStore(Protocol):
    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]: ...
    def create_message(self, record: MessageRecord) -> None: ...
    def mark_sent(self, message_id: str, ses_message_id: str, statuses: dict[str, str]) -> None: ...
    def mark_failed(self, message_id: str, reason: str, emails: Iterable[str] = ()) -> None: ...


@dataclass(frozen=True)
class DeliveryReceipt:
    """SES accepted the message: its id from `250 Ok <id>`, and any recipients it refused at RCPT."""

    ses_message_id: str
    refused: dict[str, str] = field(default_factory=dict)
    # True when an earlier attempt lost its connection after the final "." (SES may have the message twice).
    after_ambiguous_drop: bool = False


class DeliveryRejected(Exception):
    """SES refused the message permanently (a 5xx reply)."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply


class DeliveryUnavailable(Exception):
    """SES could not be reached, or kept answering with transient failures, within the time budget."""


class MailTransport(Protocol):
    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, *, deadline: float) -> DeliveryReceipt: ...


@dataclass(frozen=True)
class IdentityStatus:
    verified: bool
    dkim_tokens: list[str]


class DomainIdentities(Protocol):
    """The email provider's record of a sending domain (SES identities deployed, auto-verified locally)."""

    def create(self, domain: str) -> IdentityStatus: ...
    def status(self, domain: str) -> IdentityStatus: ...
