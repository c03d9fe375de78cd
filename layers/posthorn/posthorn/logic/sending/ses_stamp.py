"""What Posthorn tells SES in every message's headers, whichever way the message came in: the
configuration set (tracking, and where SES publishes its events) and the message tags, among them
`posthorn_message_id`, by which every event finds its way back to the record."""

from __future__ import annotations

from typing import NamedTuple

from posthorn.models.email import RESERVED_TAG

CONFIGURATION_SET_HEADER = "X-SES-CONFIGURATION-SET"
MESSAGE_TAGS_HEADER = "X-SES-MESSAGE-TAGS"


class SesStamp(NamedTuple):
    message_id: str
    tags: tuple[str, ...] = ()
    configuration_set: str | None = None

    def headers(self) -> list[tuple[str, str]]:
        """The `X-SES-*` headers, in the order they are written."""
        tags = {RESERVED_TAG: self.message_id, **dict.fromkeys(self.tags, "true")}
        headers = [(MESSAGE_TAGS_HEADER, ", ".join(f"{key}={value}" for key, value in tags.items()))]
        if self.configuration_set:
            headers.append((CONFIGURATION_SET_HEADER, self.configuration_set))
        return headers
