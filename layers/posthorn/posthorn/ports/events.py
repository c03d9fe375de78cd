"""SES events: recording them on messages, the suppression list they feed, and announcing them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from collections.abc import Iterable

    from posthorn.models.events import RecipientEvent
    from posthorn.models.messages import MessageChange, MessageRecord
    from posthorn.models.suppressions import Suppression


class SuppressionLookup(Protocol):
    def suppressed_addresses(self, domain: str, emails: Iterable[str]) -> set[str]:
        """Which of `emails` (as given) are suppressed for `domain`."""
        ...


class SuppressionSnapshots(SuppressionLookup, Protocol):
    def suppressed_snapshot(self, domain: str, *, limit: int) -> set[str] | None:
        """Every address suppressed for `domain` (lower case), or None when there are more than `limit`."""
        ...


class SuppressionRecorder(Protocol):
    def add_suppression(self, entry: Suppression) -> bool:
        """Suppress an address for a domain; the first reason recorded is kept. True when it is new."""
        ...


class SuppressionStore(SuppressionRecorder, Protocol):
    def get_suppression(self, domain: str, email: str) -> Suppression | None: ...
    def list_suppressions(self, domain: str) -> list[Suppression]: ...
    def delete_suppression(self, domain: str, email: str) -> bool: ...


class EventRecorder(Protocol):
    """Recording what SES says about a message."""

    def message_id_for_ses(self, ses_message_id: str) -> str | None: ...
    def advance_for_event(self, message_id: str, recipient: str, status: str) -> MessageChange | None:
        """Raise the recipient's status (never lower it); None when there is no such message."""
        ...

    def get_message_record(self, message_id: str) -> MessageRecord | None: ...
    def put_event(
        self,
        message_id: str,
        event: RecipientEvent,
        change: MessageChange | None = None,
        counts: dict[str, int] | None = None,
    ) -> bool:
        """Store the event once (False: already stored), with its counts and the message's status item."""
        ...

    def put_unmatched_event(self, event: RecipientEvent, *, now: int) -> bool: ...


class MessageRecords(Protocol):
    """What announcing a message's events reads about the message."""

    def get_message_record(self, message_id: str) -> MessageRecord | None: ...
