"""The adapters the routes use, built on first use and kept for warm invocations."""

from __future__ import annotations

from functools import cache

from posthorn.adapters import reset_adapters
from posthorn.adapters.clock import SystemClock
from posthorn.adapters.dynamodb import DynamoFileStore, DynamoStore
from posthorn.adapters.s3 import S3Objects
from posthorn.adapters.secrets import secret_string
from posthorn.adapters.send_queue import SqsSendQueue
from posthorn.adapters.ses_identities import AutoVerifiedIdentities, SesIdentities
from posthorn.adapters.ses_smtp import SesSmtpTransport, transport_from_settings
from posthorn.logic.file_bodies import ContentCache
from posthorn.logic.file_cache import FileCache
from posthorn.logic.ports import DomainIdentities
from posthorn.settings import Settings, get_settings

clock = SystemClock()


def settings() -> Settings:
    return get_settings()


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


@cache
def pepper() -> bytes:
    return secret_string(settings().pepper_secret_id).encode()


@cache
def transport() -> SesSmtpTransport:
    return transport_from_settings(settings())


@cache
def send_queue() -> SqsSendQueue:
    return SqsSendQueue(settings().send_queue_url, settings().bucket_name)


@cache
def identities() -> DomainIdentities:
    return AutoVerifiedIdentities() if settings().auto_verify_domains else SesIdentities()


@cache
def file_cache() -> FileCache:
    """One per process: its content cache is what lets many messages share one read of a cached file."""
    s = settings()
    return FileCache(
        files=DynamoFileStore(s.table_name),
        objects=S3Objects(s.bucket_name),
        clock=clock,
        retention_days=s.file_retention_days,
        upload_url_seconds=s.file_upload_url_seconds,
        contents=ContentCache(s.file_cache_max_bytes),
    )


def reset() -> None:
    """Forget every cached adapter and client (tests and the local stack change the environment)."""
    for cached in (store, pepper, transport, send_queue, identities, file_cache):
        cached.cache_clear()
    reset_adapters()
