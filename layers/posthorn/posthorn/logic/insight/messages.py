"""Messages as a credential sees them: only those sent from its own domains, never another tenant's."""

from __future__ import annotations

from typing import Any

from posthorn.errors import NotFound
from posthorn.models.credentials import Credential
from posthorn.models.messages import MessageRecord
from posthorn.ports import MessageReader


def message_for(
    credential: Credential, message_id: str, messages: MessageReader
) -> tuple[MessageRecord, list[dict[str, Any]]]:
    """The message and its events; `NotFound` alike for an unknown id and for another tenant's message."""
    found = messages.get_message(message_id)
    if found is None or not credential.owns_domain(found[0].domain):
        raise NotFound(f"no message {message_id}")
    return found
