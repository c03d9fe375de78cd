"""The file cache and attachments through the real handler: uploads (raw, JSON, presigned), isolation between
credentials of different domains, expiry, every limit and bad input, and byte-exact round trips through the
local SES (the bytes a recipient decodes are the bytes uploaded)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from posthorn_local.ses_smtp_server import FaultPlan, LocalSes
from posthorn_local.tls import TlsMaterial
from tests.conftest import ADMIN_KEY, SENDER_DOMAIN, SMTP, Stack, moto_stack
from tests.support.api import ApiClient, ApiResponse

OTHER_DOMAIN = "other.org"
PE_PROGRAM = b"MZ" + bytes(58) + b"\x40\x00\x00\x00" + b"PE\x00\x00" + bytes(64)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\r\n.\r\n..\n%%EOF"
TEXT = "Umlaute: äöü, a dot line:\n.\nend\n".encode()


# One stack for the module (as in test_send_email.py): tests only add data, each with its own files.
@pytest.fixture(scope="module")
def local_ses(tls: TlsMaterial) -> Iterator[LocalSes]:
    with LocalSes(username=SMTP.username, password=SMTP.password, tls=tls, faults=FaultPlan(seed=1)) as ses:
        yield ses


@pytest.fixture(scope="module")
def stack(local_ses: LocalSes, tls: TlsMaterial) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch, moto_stack(local_ses, tls, patch) as made:
        yield made


@pytest.fixture(scope="module")
def api(stack: Stack) -> ApiClient:
    return ApiClient()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> str:
    from posthorn import wiring
    from posthorn.logic.accounts.credentials import seed_credential
    from posthorn.models.credentials import Permission

    store, pepper, now = wiring.credentials(), wiring.pepper(), datetime.now(UTC)
    seed_credential(
        store, pepper, ADMIN_KEY, name="admin", permissions=[Permission.ADMIN], domains=[], now=now
    )
    for domain in (SENDER_DOMAIN, OTHER_DOMAIN):
        assert ApiClient().post("/v1/domains", {"domain": domain}, api_key=ADMIN_KEY).status == 201
    return ADMIN_KEY


def credential(api: ApiClient, admin: str, domains: list[str], permissions: list[str]) -> str:
    body = {"name": "app", "domains": domains, "permissions": permissions}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture(scope="module")
def key(api: ApiClient, admin: str) -> str:
    """example.com: send, read, files."""
    return credential(api, admin, [SENDER_DOMAIN], ["send", "read", "files"])


@pytest.fixture(scope="module")
def colleague(api: ApiClient, admin: str) -> str:
    """Another credential of example.com (and of other.org)."""
    return credential(api, admin, [OTHER_DOMAIN, SENDER_DOMAIN], ["send", "files"])


@pytest.fixture(scope="module")
def stranger(api: ApiClient, admin: str) -> str:
    """other.org only: shares no domain with `key`."""
    return credential(api, admin, [OTHER_DOMAIN], ["send", "read", "files"])


@pytest.fixture(autouse=True)
def _fresh_outbox(local_ses: LocalSes) -> None:
    local_ses.outbox.clear()


# --- helpers ------------------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def upload(
    api: ApiClient, api_key: str, data: bytes, name: str, content_type: str = "application/octet-stream"
) -> ApiResponse:
    return api.request(
        "POST", "/v1/files", raw=data, headers={"Content-Type": content_type}, api_key=api_key,
        query=f"name={quote(name)}",
    )  # fmt: skip


def uploaded(api: ApiClient, api_key: str, data: bytes, name: str, content_type: str) -> str:
    response = upload(api, api_key, data, name, content_type)
    assert response.status == 201, response.body
    return str(response.json["file_key"])


def send(api: ApiClient, api_key: str, attachments: list[dict[str, Any]], **fields: Any) -> ApiResponse:
    body = {
        "from_email": f"hello@{SENDER_DOMAIN}",
        "to": ["user@example.net"],
        "subject": "Files",
        "body_text": "See attached",
        "attachments": attachments,
        **fields,
    }
    return api.post("/v1/email", body, api_key=api_key)


def received(local_ses: LocalSes) -> EmailMessage:
    [message] = local_ses.outbox.list()
    return cast(EmailMessage, message_from_bytes(message.raw, policy=policy.default))


def assert_error(response: ApiResponse, status: int, code: str, field: str | None = None) -> None:
    assert response.status == status, response.body
    assert response.error_code == code
    if field is not None:
        assert [d.get("field") for d in response.json["error"].get("details", [])] == [field]


def s3_keys(stack: Stack, prefix: str = "files/") -> list[str]:
    listing = stack.session.client("s3").list_objects_v2(Bucket=stack.ids["FilesBucket"], Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def username(api_key: str) -> str:
    return api_key.partition(".")[0]


class GetObjectCounter:
    """Counts S3 GetObject calls made by the functions' own S3 client."""

    def __init__(self) -> None:
        from posthorn.adapters.aws import client

        self.calls = 0
        client("s3").meta.events.register("before-call.s3.GetObject", self._count)

    def _count(self, **_: Any) -> None:
        self.calls += 1


# --- uploading ----------------------------------------------------------------------------------------
def test_raw_upload_is_201_with_size_sha256_and_expiry(api: ApiClient, key: str) -> None:
    response = upload(api, key, PDF, "invoice.pdf", "application/pdf")
    assert response.status == 201, response.body
    body = response.json
    assert body["file_key"].startswith("fk_")
    assert len(body["file_key"]) == 35
    assert (body["name"], body["content_type"], body["size"]) == ("invoice.pdf", "application/pdf", len(PDF))
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["status"] == "ready"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    fetched = api.get(f"/v1/files/{body['file_key']}", api_key=key)
    assert fetched.status == 200
    assert fetched.json == body


def test_json_upload_is_201_and_infers_the_type_from_the_name(api: ApiClient, key: str) -> None:
    response = api.post("/v1/files", {"name": "logo.png", "content": b64(PNG)}, api_key=key)
    assert response.status == 201, response.body
    assert response.json["content_type"] == "image/png"
    assert response.json["sha256"] == hashlib.sha256(PNG).hexdigest()


def test_raw_upload_with_a_generic_content_type_takes_the_type_from_the_name(
    api: ApiClient, key: str
) -> None:
    response = upload(api, key, PDF, "scan.pdf", "application/x-www-form-urlencoded")
    assert response.status == 201, response.body
    assert response.json["content_type"] == "application/pdf"


def test_raw_text_upload_keeps_its_bytes(api: ApiClient, key: str, local_ses: LocalSes) -> None:
    file_key = uploaded(api, key, TEXT, "notes.txt", "text/plain; charset=utf-8")
    assert send(api, key, [{"file_key": file_key}]).status == 200
    [part] = list(received(local_ses).iter_attachments())
    assert part.get_payload(decode=True) == TEXT


def test_same_bytes_twice_share_one_object_until_both_keys_are_deleted(
    api: ApiClient, admin: str, stack: Stack, local_ses: LocalSes
) -> None:
    owner = credential(api, admin, [SENDER_DOMAIN], ["send", "files"])
    data = PDF + b"shared"
    first = uploaded(api, owner, data, "a.pdf", "application/pdf")
    second = uploaded(api, owner, data, "b.pdf", "application/pdf")
    assert first != second
    prefix = f"files/{username(owner)}/"
    assert s3_keys(stack, prefix) == [prefix + hashlib.sha256(data).hexdigest()]

    assert api.delete(f"/v1/files/{first}", api_key=owner).status == 204
    assert len(s3_keys(stack, prefix)) == 1
    assert send(api, owner, [{"file_key": second}]).status == 200
    [part] = list(received(local_ses).iter_attachments())
    assert (part.get_filename(), part.get_payload(decode=True)) == ("b.pdf", data)

    assert api.delete(f"/v1/files/{second}", api_key=owner).status == 204
    assert s3_keys(stack, prefix) == []


def test_files_routes_need_the_files_permission(api: ApiClient, admin: str) -> None:
    sender = credential(api, admin, [SENDER_DOMAIN], ["send", "read"])
    assert_error(upload(api, sender, PDF, "a.pdf", "application/pdf"), 403, "forbidden")
    assert_error(
        api.post("/v1/files/uploads", {"name": "a.pdf", "size": 9}, api_key=sender), 403, "forbidden"
    )


def test_upload_without_a_credential_is_401_before_the_body_is_looked_at(api: ApiClient) -> None:
    assert_error(upload(api, "", b"", "a.exe"), 401, "unauthorized")


# --- bad uploads ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "name", "content_type", "field"),
    [
        (b"", "empty.pdf", "application/pdf", "body"),
        (PDF, "setup.exe", "application/octet-stream", "name"),
        (PDF, "tool.PS1", "application/octet-stream", "name"),
        (PDF, "../etc/passwd.pdf", "application/pdf", "name"),
        (b"<html>not a png</html>", "logo.png", "image/png", "body"),
        (b"<html>not a png</html>", "logo.png", "application/octet-stream", "body"),
        (PNG, "invoice.pdf", "image/png", "content_type"),
        (b"GIF89a" + bytes(20), "photo.jpg", "image/jpeg", "body"),
        (b"not a zip", "report.docx", "application/octet-stream", "body"),
        (PE_PROGRAM, "invoice.txt", "text/plain", "body"),
        (b"\x7fELF\x02\x01\x01" + bytes(9), "readme", "application/octet-stream", "body"),
        (PDF, "a.pdf", "pdf", "content_type"),
    ],
)  # fmt: skip
def test_bad_raw_upload_is_422_naming_the_field(
    api: ApiClient, key: str, stack: Stack, data: bytes, name: str, content_type: str, field: str
) -> None:
    before = s3_keys(stack)
    assert_error(upload(api, key, data, name, content_type), 422, "validation_error", field)
    assert s3_keys(stack) == before


def test_raw_upload_without_a_name_is_422(api: ApiClient, key: str) -> None:
    response = api.request(
        "POST", "/v1/files", raw=PDF, headers={"Content-Type": "application/pdf"}, api_key=key
    )
    assert_error(response, 422, "validation_error", "name")


def test_multipart_form_upload_is_422_asking_for_the_raw_bytes(api: ApiClient, key: str) -> None:
    form = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.7\r\n--x--\r\n'
    )
    response = upload(api, key, form, "a.pdf", "multipart/form-data; boundary=x")
    assert_error(response, 422, "validation_error", "body")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a.pdf", "content": "not base64!"}, "content"),
        ({"name": "a.pdf", "content": ""}, "content"),
        ({"content": b64(PDF)}, "name"),
        ({"name": "a.bat", "content": b64(PDF)}, "name"),
        ({"name": "a.pdf", "content": b64(PNG), "content_type": "application/pdf"}, "content"),
        ({"name": "a.pdf", "content": b64(PDF), "extra": 1}, "extra"),
    ],
)
def test_bad_json_upload_is_422_naming_the_field(
    api: ApiClient, key: str, body: dict[str, Any], field: str
) -> None:
    assert_error(api.post("/v1/files", body, api_key=key), 422, "validation_error", field)


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'"text"'])
def test_json_upload_that_is_not_a_json_object_is_400(api: ApiClient, key: str, raw: bytes) -> None:
    assert_error(api.request("POST", "/v1/files", raw=raw, api_key=key), 400, "invalid_json")


def test_wrapped_base64_is_accepted(api: ApiClient, key: str) -> None:
    wrapped = base64.encodebytes(PDF).decode()
    assert "\n" in wrapped
    response = api.post("/v1/files", {"name": "a.pdf", "content": wrapped}, api_key=key)
    assert response.status == 201, response.body
    assert response.json["sha256"] == hashlib.sha256(PDF).hexdigest()


def test_file_over_the_largest_attachable_size_is_413(
    api: ApiClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posthorn.logic.files import attachments

    monkeypatch.setattr(attachments, "MAX_FILE_BYTES", len(PDF) - 1)
    assert_error(upload(api, key, PDF, "a.pdf", "application/pdf"), 413, "payload_too_large")


# --- isolation ----------------------------------------------------------------------------------------
def test_a_credential_of_another_domain_gets_404_and_422_never_the_bytes(
    api: ApiClient, key: str, stranger: str, local_ses: LocalSes
) -> None:
    file_key = uploaded(api, key, PDF, "private.pdf", "application/pdf")
    assert_error(api.get(f"/v1/files/{file_key}", api_key=stranger), 404, "not_found")
    assert_error(api.delete(f"/v1/files/{file_key}", api_key=stranger), 404, "not_found")
    response = send(api, stranger, [{"file_key": file_key}], from_email=f"hello@{OTHER_DOMAIN}")
    assert_error(response, 422, "validation_error", "attachments[0].file_key")
    assert b64(PDF)[:40].encode() not in response.body
    assert len(local_ses.outbox) == 0
    # Untouched for its owner.
    assert api.get(f"/v1/files/{file_key}", api_key=key).status == 200


def test_the_foreign_answer_is_the_same_as_for_a_key_that_never_existed(
    api: ApiClient, key: str, stranger: str
) -> None:
    file_key = uploaded(api, key, PDF, "private.pdf", "application/pdf")
    foreign = send(api, stranger, [{"file_key": file_key}], from_email=f"hello@{OTHER_DOMAIN}")
    unknown = send(api, stranger, [{"file_key": "fk_" + "A" * 32}], from_email=f"hello@{OTHER_DOMAIN}")
    assert foreign.json == unknown.json
    assert foreign.json["error"]["message"] == unknown.json["error"]["message"]


def test_a_credential_sharing_a_domain_may_read_and_attach(
    api: ApiClient, key: str, colleague: str, local_ses: LocalSes
) -> None:
    file_key = uploaded(api, key, PDF, "team.pdf", "application/pdf")
    assert api.get(f"/v1/files/{file_key}", api_key=colleague).status == 200
    assert send(api, colleague, [{"file_key": file_key}]).status == 200
    [part] = list(received(local_ses).iter_attachments())
    assert part.get_payload(decode=True) == PDF


def test_deleted_file_is_404_and_its_key_is_422_when_sending(api: ApiClient, key: str, stack: Stack) -> None:
    file_key = uploaded(api, key, PDF + b"deleted", "gone.pdf", "application/pdf")
    assert api.delete(f"/v1/files/{file_key}", api_key=key).status == 204
    assert_error(api.get(f"/v1/files/{file_key}", api_key=key), 404, "not_found")
    assert_error(api.delete(f"/v1/files/{file_key}", api_key=key), 404, "not_found")
    assert_error(send(api, key, [{"file_key": file_key}]), 422, "validation_error", "attachments[0].file_key")


def test_expired_file_is_refused_although_its_object_still_exists(
    api: ApiClient, key: str, stack: Stack, local_ses: LocalSes
) -> None:
    file_key = uploaded(api, key, PDF + b"old", "old.pdf", "application/pdf")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    stack.session.client("dynamodb").update_item(
        TableName=stack.table,
        Key={"pk": {"S": f"FILE#{file_key}"}, "sk": {"S": "FILE"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"S": past}},
    )
    object_key = f"files/{username(key)}/{hashlib.sha256(PDF + b'old').hexdigest()}"
    assert object_key in s3_keys(stack)
    assert_error(api.get(f"/v1/files/{file_key}", api_key=key), 404, "not_found")
    response = send(api, key, [{"file_key": file_key}])
    assert_error(response, 422, "validation_error", "attachments[0].file_key")
    assert "expired" in response.json["error"]["message"]
    assert len(local_ses.outbox) == 0


def test_malformed_file_keys_are_404(api: ApiClient, key: str) -> None:
    for file_key in ("nope", "fk_" + "A" * 31, "fk_" + "A" * 32):
        assert_error(api.get(f"/v1/files/{file_key}", api_key=key), 404, "not_found")


# --- sending: byte-exact round trips -------------------------------------------------------------------
def test_inline_base64_attachment_arrives_byte_exact(api: ApiClient, key: str, local_ses: LocalSes) -> None:
    data = b"%PDF-1.4\n" + os.urandom(70_000)
    attachment = {"name": "report.pdf", "content": b64(data), "content_type": "application/pdf"}
    assert send(api, key, [attachment]).status == 200
    message = received(local_ses)
    assert message.get_content_type() == "multipart/mixed"
    [part] = list(message.iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == ("report.pdf", "application/pdf")
    assert part.get_payload(decode=True) == data


def test_file_key_attachment_arrives_byte_exact(api: ApiClient, key: str, local_ses: LocalSes) -> None:
    data = b"%PDF-1.5\n" + os.urandom(200_000)
    file_key = uploaded(api, key, data, "big.pdf", "application/pdf")
    response = send(api, key, [{"file_key": file_key}])
    assert response.status == 200, response.body
    [part] = list(received(local_ses).iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == ("big.pdf", "application/pdf")
    assert part.get_payload(decode=True) == data


def test_inline_image_from_the_cache_is_related_to_the_html_by_content_id(
    api: ApiClient, key: str, local_ses: LocalSes
) -> None:
    file_key = uploaded(api, key, PNG, "logo.png", "image/png")
    inline = {"file_key": file_key, "content_id": "logo"}
    pdf = {"name": "invoice.pdf", "content": b64(PDF), "content_type": "application/pdf"}
    response = send(api, key, [inline, pdf], body_html='<p><img src="cid:logo"></p>')
    assert response.status == 200, response.body
    message = received(local_ses)
    assert message.get_content_type() == "multipart/mixed"
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    html, image = list(cast(EmailMessage, related).iter_parts())
    assert 'src="cid:logo"' in str(html.get_content())
    assert image["Content-ID"] == "<logo>"
    assert image.get_content_disposition() == "inline"
    assert image.get_payload(decode=True) == PNG
    [attachment] = list(message.iter_attachments())
    assert attachment.get_payload(decode=True) == PDF


def test_inline_base64_image_with_content_id_is_related(
    api: ApiClient, key: str, local_ses: LocalSes
) -> None:
    image = {"name": "pixel.png", "content": b64(PNG), "content_type": "image/png", "content_id": "px"}
    assert send(api, key, [image], body_html='<img src="cid:px">').status == 200
    related = next(p for p in received(local_ses).walk() if p.get_content_type() == "multipart/related")
    [_, part] = list(cast(EmailMessage, related).iter_parts())
    assert (part["Content-ID"], part.get_payload(decode=True)) == ("<px>", PNG)


def test_non_ascii_file_name_is_rfc2231_encoded_and_decodes_exactly(
    api: ApiClient, key: str, local_ses: LocalSes
) -> None:
    name = "Rechnung März \u2013 Zoë.pdf"
    file_key = uploaded(api, key, PDF, name, "application/pdf")
    assert api.get(f"/v1/files/{file_key}", api_key=key).json["name"] == name
    assert send(api, key, [{"file_key": file_key}]).status == 200
    raw = local_ses.outbox.list()[0].raw
    assert raw.isascii()
    assert b"filename*=utf-8''Rechnung%20M%C3%A4rz" in raw
    [part] = list(received(local_ses).iter_attachments())
    assert part.get_filename() == name


def test_file_key_with_a_name_override_is_sent_under_that_name(
    api: ApiClient, key: str, local_ses: LocalSes
) -> None:
    file_key = uploaded(api, key, PDF, "generic.pdf", "application/pdf")
    assert send(api, key, [{"file_key": file_key, "name": "Invoice 42.pdf"}]).status == 200
    [part] = list(received(local_ses).iter_attachments())
    assert (part.get_filename(), part.get_payload(decode=True)) == ("Invoice 42.pdf", PDF)


def test_one_cached_file_in_many_messages_is_read_from_s3_once(
    api: ApiClient, key: str, local_ses: LocalSes
) -> None:
    file_key = uploaded(api, key, PDF + b"many", "many.pdf", "application/pdf")
    counter = GetObjectCounter()
    for _ in range(3):
        assert send(api, key, [{"file_key": file_key}]).status == 200
    assert counter.calls == 1
    assert len(local_ses.outbox) == 3
    for message in local_ses.outbox.list():
        parsed = cast(EmailMessage, message_from_bytes(message.raw, policy=policy.default))
        [part] = list(parsed.iter_attachments())
        assert part.get_payload(decode=True) == PDF + b"many"


# --- sending: bad attachments -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        ({"name": "a.pdf", "content": "", "content_type": "application/pdf"}, "attachments[0].content"),
        ({"name": "a.png", "content": b64(b"GIF89a" + bytes(9))}, "attachments[0].content"),
        ({"name": "a.png", "content": b64(PNG), "content_type": "text/plain"}, "attachments[0].content_type"),
        ({"name": "a.txt", "content": b64(PE_PROGRAM)}, "attachments[0].content"),
        ({"name": "a.docm.js", "content": b64(PDF)}, "attachments[0].name"),
        ({"content": b64(PDF)}, "attachments[0]"),
        ({"file_key": "fk_" + "B" * 32}, "attachments[0].file_key"),
        ({"file_key": "no-such-file"}, "attachments[0].file_key"),
    ],
)  # fmt: skip
def test_bad_attachment_is_422_naming_it_and_nothing_is_sent(
    api: ApiClient, key: str, local_ses: LocalSes, attachment: dict[str, Any], field: str
) -> None:
    assert_error(send(api, key, [attachment]), 422, "validation_error", field)
    assert len(local_ses.outbox) == 0


def test_file_key_renamed_to_a_type_its_bytes_are_not_is_422(api: ApiClient, key: str) -> None:
    file_key = uploaded(api, key, PDF, "doc.pdf", "application/pdf")
    response = send(api, key, [{"file_key": file_key, "name": "photo.png"}])
    assert_error(response, 422, "validation_error", "attachments[0].content_type")


def test_two_attachments_with_one_content_id_is_422(api: ApiClient, key: str) -> None:
    image = {"name": "a.png", "content": b64(PNG), "content_type": "image/png", "content_id": "x"}
    response = send(api, key, [image, {**image, "name": "b.png"}], body_html='<img src="cid:x">')
    assert_error(response, 422, "validation_error", "attachments[1].content_id")


def test_message_over_40_mb_is_413_before_any_file_is_read(
    api: ApiClient, key: str, local_ses: LocalSes
) -> None:
    """Two announced 21 MB uploads: the estimate refuses the message from the sizes alone (no bytes exist)."""
    file_keys = []
    for name in ("a.pdf", "b.pdf"):
        created = api.post("/v1/files/uploads", {"name": name, "size": 21 * 1024 * 1024}, api_key=key)
        assert created.status == 201, created.body
        file_keys.append(created.json["file_key"])
    counter = GetObjectCounter()
    response = send(api, key, [{"file_key": k} for k in file_keys])
    assert_error(response, 413, "payload_too_large")
    assert counter.calls == 0
    assert len(local_ses.outbox) == 0


def test_inline_content_plus_a_cached_file_over_40_mb_is_413(api: ApiClient, key: str) -> None:
    created = api.post("/v1/files/uploads", {"name": "big.pdf", "size": 29 * 1024 * 1024}, api_key=key)
    inline = {"name": "more.pdf", "content": b64(b"%PDF-" + bytes(2 * 1024 * 1024))}
    response = send(api, key, [{"file_key": created.json["file_key"]}, inline])
    assert_error(response, 413, "payload_too_large")


# --- presigned uploads -----------------------------------------------------------------------------------
def presign(api: ApiClient, api_key: str, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/files/uploads", body, api_key=api_key)
    assert response.status == 201, response.body
    return cast(dict[str, Any], response.json)


def bucket_and_key(upload_url: str) -> tuple[str, str]:
    """The object a presigned URL names, virtual-hosted (`<bucket>.s3.amazonaws.com/<key>`) or path style."""
    url = urlsplit(upload_url)
    if url.netloc.endswith(".amazonaws.com") and ".s3." in url.netloc:
        return url.netloc.split(".s3.")[0], url.path.lstrip("/")
    bucket, _, key = url.path.lstrip("/").partition("/")
    return bucket, key


def put_object(stack: Stack, upload: dict[str, Any], data: bytes, content_type: str) -> None:
    """What a client's PUT to upload_url does (in-process moto serves no URLs; tests/e2e PUTs for real)."""
    bucket, object_key = bucket_and_key(upload["upload_url"])
    stack.session.client("s3").put_object(Bucket=bucket, Key=object_key, Body=data, ContentType=content_type)


def test_presigned_upload_signs_type_and_length_under_the_owner_prefix(
    api: ApiClient, key: str, stack: Stack
) -> None:
    upload = presign(api, key, name="scan.pdf", content_type="application/pdf", size=len(PDF))
    url = urlsplit(upload["upload_url"])
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Expires"] == ["3600"]
    assert url.scheme == "https"
    assert bucket_and_key(upload["upload_url"]) == (
        stack.ids["FilesBucket"],
        f"files/{username(key)}/uploads/{upload['file_key']}",
    )
    assert upload["upload_method"] == "PUT"
    assert upload["upload_headers"] == {"Content-Type": "application/pdf", "Content-Length": str(len(PDF))}
    url_expires = datetime.fromisoformat(upload["upload_expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=59) < url_expires <= timedelta(hours=1)
    assert datetime.fromisoformat(upload["expires_at"]) - datetime.now(UTC) > timedelta(days=29)


def test_presigned_upload_is_pending_until_its_bytes_arrive_then_checked_and_sendable(
    api: ApiClient, key: str, stack: Stack, local_ses: LocalSes
) -> None:
    data = PDF + os.urandom(1000)
    upload = presign(api, key, name="scan.pdf", size=len(data))
    file_key = upload["file_key"]
    pending = api.get(f"/v1/files/{file_key}", api_key=key).json
    assert (pending["status"], pending["sha256"], pending["content_type"]) == (
        "pending",
        None,
        "application/pdf",
    )
    response = send(api, key, [{"file_key": file_key}])
    assert_error(response, 422, "validation_error", "attachments[0].file_key")
    assert "not arrived" in response.json["error"]["message"]

    put_object(stack, upload, data, "application/pdf")
    ready = api.get(f"/v1/files/{file_key}", api_key=key).json
    assert (ready["status"], ready["sha256"]) == ("ready", hashlib.sha256(data).hexdigest())
    assert send(api, key, [{"file_key": file_key}]).status == 200
    [part] = list(received(local_ses).iter_attachments())
    assert part.get_payload(decode=True) == data


def test_presigned_upload_checked_by_its_first_send(
    api: ApiClient, key: str, stack: Stack, local_ses: LocalSes
) -> None:
    upload = presign(api, key, name="logo.png", size=len(PNG))
    put_object(stack, upload, PNG, "image/png")
    counter = GetObjectCounter()
    assert send(api, key, [{"file_key": upload["file_key"]}]).status == 200
    assert counter.calls == 1
    assert api.get(f"/v1/files/{upload['file_key']}", api_key=key).json["status"] == "ready"


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        (PNG + b"extra", "image/png", "bytes arrived"),
        (b"<svg/>" + bytes(len(PNG) - 6), "image/png", "not a PNG image"),
        (PNG, "text/html", "uploaded as text/html"),
    ],
)
def test_presigned_upload_that_breaks_its_terms_is_rejected_and_deleted(
    api: ApiClient, key: str, stack: Stack, data: bytes, content_type: str, reason: str
) -> None:
    upload = presign(api, key, name="logo.png", content_type="image/png", size=len(PNG))
    put_object(stack, upload, data, content_type)
    view = api.get(f"/v1/files/{upload['file_key']}", api_key=key).json
    assert view["status"] == "rejected"
    assert reason in view["rejection"]
    assert f"files/{username(key)}/uploads/{upload['file_key']}" not in s3_keys(stack)
    response = send(api, key, [{"file_key": upload["file_key"]}])
    assert_error(response, 422, "validation_error", "attachments[0].file_key")
    assert reason in response.json["error"]["message"]


def test_bytes_replaced_after_the_check_are_never_sent(
    api: ApiClient, key: str, stack: Stack, local_ses: LocalSes
) -> None:
    upload = presign(api, key, name="scan.pdf", size=len(PDF))
    put_object(stack, upload, PDF, "application/pdf")
    assert api.get(f"/v1/files/{upload['file_key']}", api_key=key).json["status"] == "ready"
    put_object(stack, upload, PDF.replace(b"%%EOF", b"EVIL!"), "application/pdf")  # the URL is still valid
    assert_error(
        send(api, key, [{"file_key": upload["file_key"]}]), 422, "validation_error", "attachments[0].file_key"
    )
    assert len(local_ses.outbox) == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "a.pdf", "size": 0}, 422, "size"),
        ({"name": "a.pdf"}, 422, "size"),
        ({"name": "a.exe", "size": 10}, 422, "name"),
        ({"name": "a.pdf", "content_type": "image/png", "size": 10}, 422, "content_type"),
        ({"name": "a.pdf", "size": 64 * 1024 * 1024}, 413, None),
    ],
)
def test_bad_presigned_upload_request_is_refused(
    api: ApiClient, key: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = api.post("/v1/files/uploads", body, api_key=key)
    assert_error(response, status, "validation_error" if status == 422 else "payload_too_large", field)


def test_file_storage_failing_on_send_is_503_and_nothing_is_sent(
    api: ApiClient, key: str, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posthorn.adapters.s3 import S3Objects
    from posthorn.errors import StorageUnavailable
    from posthorn.wiring import file_cache

    file_key = uploaded(api, key, PDF, "report.pdf", "application/pdf")
    file_cache().contents.discard(file_key)  # not read yet by this instance: S3 must be asked

    def slow_down(self: S3Objects, object_key: str) -> None:
        raise StorageUnavailable(f"S3 could not read {object_key}: SlowDown")

    monkeypatch.setattr(S3Objects, "open", slow_down)
    response = send(api, key, [{"file_key": file_key}])

    assert_error(response, 503, "upstream_unavailable")
    assert "files/" not in response.body.decode()  # object keys stay in the log
    assert local_ses.outbox.list() == []
