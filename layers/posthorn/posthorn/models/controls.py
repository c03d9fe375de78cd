"""What a message's control headers set (SMTP relay): the API's own fields, with the API's rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from posthorn.models.email import (
    MAX_METADATA,
    MAX_TAGS,
    ClientReference,
    ListUnsubscribe,
    Metadata,
    Tags,
    has_one_click,
)
from posthorn.models.files import FileName

FileKey = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class FileAttachment(BaseModel):
    """A file-cache key to attach, with the name to give it (else the file's own)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    file_key: FileKey
    name: FileName | None = None


class MessageControls(BaseModel):
    # Built on first use: only the relay uses it.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    tags: Tags = Field(default_factory=list, max_length=MAX_TAGS)
    metadata: Metadata = Field(default_factory=dict, max_length=MAX_METADATA)
    client_reference: ClientReference | None = None
    track_opens: bool = False
    track_clicks: bool = False
    file_keys: list[FileAttachment] = Field(default_factory=list, max_length=20)
    list_unsubscribe: ListUnsubscribe | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None

    @property
    def has_one_click_unsubscribe(self) -> bool:
        return has_one_click(self.list_unsubscribe)
