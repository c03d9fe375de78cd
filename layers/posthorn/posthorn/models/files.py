"""The file cache: attachment names and media types, the stored file, and the API's requests and views.

The name and type rules here are shared by `attachments[]` in `POST /v1/email` and by the upload routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from posthorn.models.addresses import header_text
from posthorn.models.numbers import WholeNumber

# "Unsupported attachment types" in the Amazon SES developer guide: SES refuses messages carrying these.
BLOCKED_EXTENSIONS = frozenset(
    {
        "ade", "adp", "app", "asp", "bas", "bat", "cer", "chm", "cmd", "com", "cpl", "crt", "csh", "der",
        "exe", "fxp", "gadget", "hlp", "hta", "inf", "ins", "isp", "its", "js", "jse", "ksh", "lib", "lnk",
        "mad", "maf", "mag", "mam", "maq", "mar", "mas", "mat", "mau", "mav", "maw", "mda", "mdb", "mde",
        "mdt", "mdw", "mdz", "msc", "msh", "msh1", "msh2", "mshxml", "msh1xml", "msh2xml", "msi", "msp",
        "mst", "ops", "pcd", "pif", "plg", "prf", "prg", "reg", "scf", "scr", "sct", "shb", "shs", "sys",
        "ps1", "ps1xml", "ps2", "ps2xml", "psc1", "psc2", "tmp", "url", "vb", "vbe", "vbs", "vps",
        "vsmacros", "vss", "vst", "vsw", "vxd", "ws", "wsc", "wsf", "wsh", "xnk",
    }
)  # fmt: skip

# type/subtype, RFC 2045 tokens, no parameters; multipart/* and message/* would break the MIME structure.
_MEDIA_TYPE = re.compile(
    r"^(?!multipart/|message/)[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*$", re.ASCII | re.IGNORECASE
)
MAX_NAME_LENGTH = 255


def extension_of(name: str) -> str:
    """The lower-cased extension; trailing dots and spaces are dropped as Windows does ("a.exe.": exe)."""
    _, dot, extension = name.rstrip(". ").rpartition(".")
    return extension.lower() if dot else ""


def _file_name(name: str) -> str:
    if "/" in name or "\\" in name:
        raise ValueError("must be a file name, not a path")
    if not name.strip(". "):
        raise ValueError("must be a file name such as invoice.pdf")
    extension = extension_of(name)
    if extension in BLOCKED_EXTENSIONS:
        raise ValueError(f"SES does not accept .{extension} attachments")
    return name


def _media_type(value: str) -> str:
    if not _MEDIA_TYPE.match(value):
        raise ValueError("must be a media type such as application/pdf (no parameters, not multipart)")
    return value.lower()


FileName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(header_text),
    AfterValidator(_file_name),
]
MediaType = Annotated[str, StringConstraints(max_length=255), AfterValidator(_media_type)]
FileStatus = Literal["ready", "pending", "rejected"]


class FileRecord(BaseModel):
    """A cached file as stored. `pending`: a presigned upload not checked yet; `rejected`: it failed."""

    file_key: str
    name: str
    content_type: str
    size: int
    sha256: str | None = None
    owner: str  # the uploading credential's username
    domains: list[str]  # the uploader's domains: who else may use the file
    object_key: str
    shared: bool = False  # the object is shared by this owner's uploads of the same bytes (keyed by sha256)
    status: FileStatus = "ready"
    rejection: str | None = None
    created_at: datetime
    expires_at: datetime


# The file routes' models are built on first use (`defer_build`; see models/credentials.py). `FileRecord`
# is read by every send that attaches a cached file: built at import.
class UploadFileRequest(BaseModel):
    """`POST /v1/files` with a JSON body."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: FileName
    content: str = Field(description="The file's bytes, base64")
    content_type: MediaType | None = Field(default=None, description="Inferred from the name when omitted")


class RawUploadParameters(BaseModel):
    """`POST /v1/files?name=...` with the raw bytes as the body."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: FileName
    content_type: MediaType | None = None


class CreateUploadRequest(BaseModel):
    """`POST /v1/files/uploads`: a presigned PUT for a file of exactly `size` bytes of `content_type`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: FileName
    content_type: MediaType | None = Field(default=None, description="Inferred from the name when omitted")
    size: WholeNumber = Field(ge=1, description="The exact number of bytes that will be PUT")


class FileView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    file_key: str
    name: str
    content_type: str
    size: int
    sha256: str | None = Field(
        description="Hex SHA-256 of the bytes; null until a presigned upload is checked"
    )
    status: FileStatus
    expires_at: datetime
    rejection: str | None = None

    @classmethod
    def of(cls, record: FileRecord) -> FileView:
        return cls(
            file_key=record.file_key,
            name=record.name,
            content_type=record.content_type,
            size=record.size,
            sha256=record.sha256,
            status=record.status,
            expires_at=record.expires_at,
            rejection=record.rejection,
        )


class UploadView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    file_key: str
    upload_url: str = Field(description="PUT the bytes here, with exactly the headers in upload_headers")
    upload_method: Literal["PUT"] = "PUT"
    upload_headers: dict[str, str]
    upload_expires_at: datetime
    expires_at: datetime = Field(description="When the file expires from the cache")


class StoredObject(NamedTuple):
    """An object being read: `chunks` streams it; `close()` when done, read to the end or not."""

    content_type: str
    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None]


class FileContent(NamedTuple):
    """A cached file ready to attach: its base64 MIME body (encoded once), and its first bytes for checks."""

    base64_body: bytes | bytearray  # never modified: shared by every message that attaches the file
    head: bytes
    size: int
    sha256: str


class PresignedUpload(NamedTuple):
    record: FileRecord
    url: str
    headers: dict[str, str]
    url_expires_at: datetime
