"""Where S3 is read and written: the file cache's objects (the template's FilesBucket).

Objects are private and encrypted by the bucket's defaults, and expire by its lifecycle rule. The function
may only get, put and delete objects (no ListBucket), so S3 answers a missing key with 403, not 404: both
mean "no such object" here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from posthorn.adapters.aws import client
from posthorn.errors import StorageUnavailable
from posthorn.models.files import StoredObject

_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "403", "AccessDenied"})
CHUNK_BYTES = 1024 * 1024


# How a body's stream breaks off: botocore's IncompleteReadError/ResponseStreamingError, the socket, or
# urllib3 reading from a connection it already closed (ValueError).
_BROKEN_OFF = (BotoCoreError, OSError, ValueError)


def _chunks(key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except _BROKEN_OFF as error:
        raise StorageUnavailable(f"reading {key} broke off: {error!r}") from None


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class S3Objects:
    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._client = s3

    @property
    def s3(self) -> Any:
        if self._client is None:
            self._client = client("s3")
        return self._client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def open(self, key: str) -> StoredObject | None:
        response = self._get(key)
        if response is None:
            return None
        body = response["Body"]
        return StoredObject(
            content_type=str(response.get("ContentType", "")),
            size=int(response["ContentLength"]),
            chunks=_chunks(key, body.iter_chunks(CHUNK_BYTES)),
            close=body.close,
        )

    def _get(self, key: str) -> dict[str, Any] | None:
        """GetObject: None for a missing object; StorageUnavailable when S3 fails (throttling, 5xx)."""
        try:
            return dict(self.s3.get_object(Bucket=self.bucket, Key=key))
        except ClientError as error:
            if _missing(error):
                return None
            raise StorageUnavailable(f"S3 could not read {key}: {error}") from None
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 could not read {key}: {error}") from None

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str:
        """A PUT URL whose signature covers Content-Type and Content-Length: S3 refuses other values.
        Signed with the function's temporary role credentials, it stops working when they expire, if that
        comes before `expires_in`."""
        return str(
            self.s3.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ContentType": content_type,
                    "ContentLength": size,
                },
                ExpiresIn=expires_in,
                HttpMethod="PUT",
            )
        )
