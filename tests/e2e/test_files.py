"""The file cache over HTTP against the local stack, written from docs/api.md: a presigned upload PUT to the
embedded AWS (moto server) for real, raw binary uploads through the local API Gateway, the request size
limits, and the bytes a recipient decodes from the local SES's outbox."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any, cast

import pytest

from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http

pytestmark = pytest.mark.e2e

RECIPIENT = "success@simulator.amazonses.com"


@pytest.fixture(scope="module")
def files_key(http: Http, sender_key: str) -> str:
    """A send+read+files credential for example.com (the domain is registered by `sender_key`)."""
    created = http.post(
        "/v1/credentials",
        {"name": "e2e files", "domains": [SENDER_DOMAIN], "permissions": ["send", "read", "files"]},
        api_key=ADMIN_KEY,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def put(url: str, data: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 - the local moto server
            return int(answer.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)


def send_with(http: Http, key: str, attachments: list[dict[str, Any]]) -> str:
    body = {
        "from_email": f"hello@{SENDER_DOMAIN}",
        "to": [RECIPIENT],
        "subject": "Files",
        "body_text": "See attached",
        "attachments": attachments,
    }
    response = http.post("/v1/email", body, api_key=key)
    assert response.status == 200, response.body
    return str(response.json["message_id"])


def attachments_of(http: Http, message_id: str) -> list[EmailMessage]:
    for summary in http.get("/_local/outbox").json["messages"]:
        raw = http.get(f"/_local/outbox/{summary['id']}/raw").body
        parsed = cast(EmailMessage, BytesParser(policy=default).parsebytes(raw))
        if message_id in str(parsed.get("X-SES-MESSAGE-TAGS", "")):
            return list(parsed.iter_attachments())
    raise AssertionError(f"{message_id} is not in the outbox")


def test_presigned_upload_put_to_the_embedded_s3_then_attached(http: Http, files_key: str) -> None:
    data = b"%PDF-1.7\n" + os.urandom(12 * 1024 * 1024)  # over API Gateway's 10 MB
    created = http.post(
        "/v1/files/uploads", {"name": "large.pdf", "content_type": "application/pdf", "size": len(data)},
        api_key=files_key,
    )  # fmt: skip
    assert created.status == 201, created.body
    upload = created.json
    assert upload["upload_url"].startswith("http://127.0.0.1:")
    assert http.get(f"/v1/files/{upload['file_key']}", api_key=files_key).json["status"] == "pending"

    assert put(upload["upload_url"], data, upload["upload_headers"]) == 200
    view = http.get(f"/v1/files/{upload['file_key']}", api_key=files_key).json
    assert (view["status"], view["size"]) == ("ready", len(data))
    assert view["sha256"] == hashlib.sha256(data).hexdigest()

    message_id = send_with(http, files_key, [{"file_key": upload["file_key"]}])
    [part] = attachments_of(http, message_id)
    assert (part.get_filename(), part.get_payload(decode=True)) == ("large.pdf", data)


def test_presigned_upload_of_other_bytes_is_rejected_on_first_use(http: Http, files_key: str) -> None:
    created = http.post("/v1/files/uploads", {"name": "logo.png", "size": 100}, api_key=files_key)
    upload = created.json
    assert put(upload["upload_url"], b"<script>" + bytes(92), upload["upload_headers"]) == 200
    view = http.get(f"/v1/files/{upload['file_key']}", api_key=files_key).json
    assert view["status"] == "rejected"
    assert "not a PNG image" in view["rejection"]


def test_raw_binary_upload_round_trips_byte_exact(http: Http, files_key: str) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64 + os.urandom(4096)
    response = http.post(
        "/v1/files?name=Gr%C3%BC%C3%9Fe.png", data, api_key=files_key, headers={"Content-Type": "image/png"}
    )
    assert response.status == 201, response.body
    assert (response.json["name"], response.json["sha256"]) == ("Grüße.png", hashlib.sha256(data).hexdigest())
    message_id = send_with(http, files_key, [{"file_key": response.json["file_key"]}])
    [part] = attachments_of(http, message_id)
    assert (part.get_filename(), part.get_payload(decode=True)) == ("Grüße.png", data)


def test_raw_upload_over_10_mb_is_413_pointing_to_presigned_uploads(http: Http, files_key: str) -> None:
    data = b"%PDF-" + bytes(10 * 1024 * 1024)
    response = http.post(
        "/v1/files?name=big.pdf", data, api_key=files_key, headers={"Content-Type": "application/pdf"}
    )
    assert response.status == 413
    assert response.error_code == "payload_too_large"
    assert "/v1/files/uploads" in response.json["error"]["message"]


def test_raw_upload_over_lambdas_event_limit_is_413(http: Http, files_key: str) -> None:
    data = b"%PDF-" + bytes(5 * 1024 * 1024)  # under 10 MB, but base64 in the event is over 6 MB
    response = http.post(
        "/v1/files?name=big.pdf", data, api_key=files_key, headers={"Content-Type": "application/pdf"}
    )
    assert response.status == 413
    assert "/v1/files/uploads" in response.json["error"]["message"]
