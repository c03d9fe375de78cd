"""What most use cases take: the clock, and the SES configuration set for a message's tracking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports costs a function's cold start nothing
    from datetime import datetime


class Clock(Protocol):
    def now(self) -> datetime: ...


class ConfigurationSets(Protocol):
    """The SES configuration set for a message's tracking choices
    (`ConfigurationSetSettings.configuration_set`)."""

    def __call__(self, *, track_opens: bool, track_clicks: bool) -> str: ...
