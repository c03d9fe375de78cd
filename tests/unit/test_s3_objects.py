"""The S3 adapter's failures (adapters/s3.py), with botocore's Stubber: a missing object is None, S3 failing
or a body breaking off is StorageUnavailable (a retry may succeed), never a botocore error."""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from posthorn.adapters.s3 import S3Objects
from posthorn.errors import StorageUnavailable

BUCKET = "files"
KEY = "files/ph_owner/abc"


@pytest.fixture
def stubbed() -> Iterator[tuple[S3Objects, Stubber]]:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(s3) as stubber:
        yield S3Objects(BUCKET, s3), stubber


def answer(stubber: Stubber, data: bytes, *, length: int) -> None:
    body = StreamingBody(io.BytesIO(data), length)
    stubber.add_response(
        "get_object",
        {"Body": body, "ContentLength": length, "ContentType": "application/pdf"},
        {"Bucket": BUCKET, "Key": KEY},
    )


@pytest.mark.parametrize("code", ["NoSuchKey", "AccessDenied"])
def test_a_missing_object_is_none(stubbed: tuple[S3Objects, Stubber], code: str) -> None:
    objects, stubber = stubbed
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=404)
    assert objects.open(KEY) is None


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500)])
def test_s3_failing_is_storage_unavailable(
    stubbed: tuple[S3Objects, Stubber], code: str, status: int
) -> None:
    objects, stubber = stubbed
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    with pytest.raises(StorageUnavailable, match=code):
        objects.open(KEY)


def test_a_body_that_breaks_off_is_storage_unavailable(stubbed: tuple[S3Objects, Stubber]) -> None:
    objects, stubber = stubbed
    answer(stubber, b"x" * 1000, length=2000)  # the connection ends after half the announced bytes
    stored = objects.open(KEY)
    assert stored is not None
    with pytest.raises(StorageUnavailable, match="broke off"):
        b"".join(stored.chunks)


def test_a_whole_body_is_read(stubbed: tuple[S3Objects, Stubber]) -> None:
    objects, stubber = stubbed
    answer(stubber, b"%PDF" * 10, length=40)
    stored = objects.open(KEY)
    assert stored is not None
    assert (b"".join(stored.chunks), stored.content_type, stored.size) == (
        b"%PDF" * 10,
        "application/pdf",
        40,
    )
