"""The file cache's logic with in-memory stores: ownership, expiry, shared storage, presigned uploads checked
on first use, and the bounded content cache that lets many messages share one read."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from posthorn.errors import FileUnavailable, NotFound, PayloadTooLarge, ValidationFailed
from posthorn.logic.files.cache import FILE_KEY, ContentCache, FileCache, new_file_key
from posthorn.models.credentials import Credential, CredentialStatus, Permission
from posthorn.models.files import FileContent
from posthorn.models.raw_message import encode_base64_body
from tests.support.fakes import FakeFileStore, FakeObjectStore, FixedClock

PDF = b"%PDF-1.7\n" + bytes(range(256))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


def credential(username: str, *domains: str) -> Credential:
    return Credential(
        username=username,
        secret_hash="x",
        name=username,
        domains=list(domains),
        permissions=[Permission.FILES, Permission.SEND],
        status=CredentialStatus.ACTIVE,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


OWNER = credential("ph_owner", "example.com")
COLLEAGUE = credential("ph_colleague", "other.org", "example.com")
STRANGER = credential("ph_stranger", "other.org")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def cache(clock: FixedClock) -> FileCache:
    return FileCache(
        files=FakeFileStore(), objects=FakeObjectStore(), clock=clock, retention_days=30,
        contents=ContentCache(10_000),
    )  # fmt: skip


def stores(cache: FileCache) -> tuple[FakeFileStore, FakeObjectStore]:
    assert isinstance(cache.files, FakeFileStore)
    assert isinstance(cache.objects, FakeObjectStore)
    return cache.files, cache.objects


def test_file_keys_are_random_and_well_formed() -> None:
    keys = {new_file_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(FILE_KEY.match(key) for key in keys)


def test_upload_stores_the_object_under_the_owner_and_the_sha256(cache: FileCache, clock: FixedClock) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    sha256 = hashlib.sha256(PDF).hexdigest()
    _, objects = stores(cache)
    assert objects.objects == {f"files/ph_owner/{sha256}": (PDF, "application/pdf")}
    assert (record.sha256, record.size, record.domains, record.status) == (
        sha256,
        len(PDF),
        ["example.com"],
        "ready",
    )
    assert record.expires_at == clock.at + timedelta(days=30)


def test_bad_upload_names_its_field_as_the_caller_asks(cache: FileCache) -> None:
    with pytest.raises(ValidationFailed) as caught:
        cache.upload(OWNER, "a.pdf", None, b"", fields={"content": "body"})
    assert caught.value.details == [{"field": "body", "message": "the file is empty"}]
    assert stores(cache)[1].objects == {}


def test_only_credentials_sharing_a_domain_see_a_file(cache: FileCache) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    assert cache.get(COLLEAGUE, record.file_key) == record
    assert cache.usable(record.file_key, COLLEAGUE, cache.clock.now()) == record
    with pytest.raises(NotFound):
        cache.get(STRANGER, record.file_key)
    with pytest.raises(NotFound):
        cache.delete(STRANGER, record.file_key)
    with pytest.raises(FileUnavailable, match="unknown file_key"):
        cache.usable(record.file_key, STRANGER, cache.clock.now())
    assert cache.get(OWNER, record.file_key) == record


def test_the_uploader_sees_its_file_even_without_domains(cache: FileCache) -> None:
    lonely = credential("ph_lonely")
    record = cache.upload(lonely, "a.pdf", None, PDF)
    assert cache.get(lonely, record.file_key) == record
    with pytest.raises(NotFound):
        cache.get(credential("ph_other"), record.file_key)


def test_expired_file_is_refused_while_its_object_exists(cache: FileCache, clock: FixedClock) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    clock.at += timedelta(days=30)
    assert record.object_key in stores(cache)[1].objects
    with pytest.raises(NotFound):
        cache.get(OWNER, record.file_key)
    with pytest.raises(FileUnavailable, match="expired"):
        cache.usable(record.file_key, OWNER, clock.at)


def test_shared_object_is_deleted_with_its_last_key(cache: FileCache) -> None:
    first = cache.upload(OWNER, "a.pdf", None, PDF)
    second = cache.upload(OWNER, "b.pdf", None, PDF)
    other_owner = cache.upload(COLLEAGUE, "a.pdf", None, PDF)
    files, objects = stores(cache)
    assert first.object_key == second.object_key != other_owner.object_key
    cache.delete(OWNER, first.file_key)
    assert first.object_key in objects.objects
    cache.delete(OWNER, second.file_key)
    assert first.object_key not in objects.objects
    assert other_owner.object_key in objects.objects
    assert files.blobs == {("ph_colleague", hashlib.sha256(PDF).hexdigest()): 1}


def test_a_colleague_may_delete_and_the_key_is_gone_for_everyone(cache: FileCache) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    cache.delete(COLLEAGUE, record.file_key)
    with pytest.raises(NotFound):
        cache.get(OWNER, record.file_key)


def test_content_is_read_once_and_shared(cache: FileCache) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    _, objects = stores(cache)
    contents = [cache.content(record) for _ in range(5)]
    assert objects.reads == 1
    assert all(content is contents[0] for content in contents)
    assert contents[0].base64_body == encode_base64_body(PDF)


def test_content_whose_bytes_changed_is_refused(cache: FileCache) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    stores(cache)[1].objects[record.object_key] = (PDF + b"!", "application/pdf")
    with pytest.raises(FileUnavailable, match="changed"):
        cache.content(record)


def test_deleting_a_file_drops_its_cached_content(cache: FileCache) -> None:
    record = cache.upload(OWNER, "a.pdf", None, PDF)
    cache.content(record)
    assert len(cache.contents) == 1
    cache.delete(OWNER, record.file_key)
    assert len(cache.contents) == 0


# --- presigned uploads -------------------------------------------------------------------------------
def test_presigned_upload_is_pending_and_binds_type_and_size(cache: FileCache) -> None:
    upload = cache.create_upload(OWNER, "scan.pdf", None, 1234)
    assert upload.record.status == "pending"
    assert upload.record.object_key == f"files/ph_owner/uploads/{upload.record.file_key}"
    assert upload.headers == {"Content-Type": "application/pdf", "Content-Length": "1234"}
    assert "type=application/pdf&size=1234&expires=3600" in upload.url


def test_presigned_upload_over_the_largest_file_is_413(cache: FileCache) -> None:
    with pytest.raises(PayloadTooLarge):
        cache.create_upload(OWNER, "scan.pdf", None, 31 * 1024 * 1024)


def test_pending_upload_stays_pending_until_the_bytes_arrive_then_is_ready(cache: FileCache) -> None:
    upload = cache.create_upload(OWNER, "scan.pdf", None, len(PDF))
    key = upload.record.file_key
    assert cache.get(OWNER, key).status == "pending"
    with pytest.raises(FileUnavailable, match="not arrived"):
        cache.content(cache.usable(key, OWNER, cache.clock.now()))
    stores(cache)[1].put(upload.record.object_key, PDF, "application/pdf")
    ready = cache.get(OWNER, key)
    assert (ready.status, ready.sha256) == ("ready", hashlib.sha256(PDF).hexdigest())


def test_pending_upload_is_checked_by_its_first_use_with_one_read(cache: FileCache) -> None:
    upload = cache.create_upload(OWNER, "logo.png", None, len(PNG))
    _, objects = stores(cache)
    objects.put(upload.record.object_key, PNG, "image/png")
    content = cache.content(cache.usable(upload.record.file_key, OWNER, cache.clock.now()))
    assert isinstance(content, FileContent)
    assert objects.reads == 1
    assert cache.get(OWNER, upload.record.file_key).status == "ready"


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        (PNG[:-1], "image/png", "bytes arrived"),
        (PDF[: len(PNG)], "image/png", "not a PNG image"),
        (PNG, "application/pdf", "uploaded as application/pdf"),
    ],
)
def test_upload_that_breaks_its_terms_is_rejected_and_its_object_deleted(
    cache: FileCache, data: bytes, content_type: str, reason: str
) -> None:
    upload = cache.create_upload(OWNER, "logo.png", "image/png", len(PNG))
    _, objects = stores(cache)
    objects.put(upload.record.object_key, data, content_type)
    view = cache.get(OWNER, upload.record.file_key)
    assert view.status == "rejected"
    assert view.rejection is not None
    assert reason in view.rejection
    assert upload.record.object_key not in objects.objects
    with pytest.raises(FileUnavailable, match=reason):
        cache.usable(upload.record.file_key, OWNER, cache.clock.now())


# --- the bounded content cache ---------------------------------------------------------------------
def content(size: int, sha: str = "s") -> FileContent:
    return FileContent(base64_body=bytes(size), head=b"", size=size, sha256=sha)


def test_content_cache_evicts_the_least_recently_used_beyond_its_size() -> None:
    contents = ContentCache(max_bytes=250)
    contents.put("a", content(100))
    contents.put("b", content(100))
    assert contents.get("a", "s") is not None  # a is now the most recent
    contents.put("c", content(100))
    assert contents.get("b", "s") is None
    assert contents.get("a", "s") is not None
    assert contents.get("c", "s") is not None


def test_content_cache_skips_what_could_never_fit_and_keys_by_sha256() -> None:
    contents = ContentCache(max_bytes=100)
    contents.put("huge", content(101))
    assert len(contents) == 0
    contents.put("a", content(10, "one"))
    assert contents.get("a", "two") is None
    contents.put("a", content(10, "two"))
    assert len(contents) == 1
