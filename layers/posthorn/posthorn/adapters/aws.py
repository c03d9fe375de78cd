"""boto3 clients, created on first use and kept for warm invocations. `AWS_ENDPOINT_URL` (set by the local
stack and tests) points them at moto; deployed, they reach AWS.

All of a process's clients come from one botocore session, so the endpoint and service data each client
needs is read and parsed once, not once per client: a cold instance's later clients cost a fraction of the
first (measured in `make bench`, figure 1; the API makes four). A session is not thread-safe, so clients
are created under a lock (the send worker uses them from several threads); the clients themselves are.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from posthorn.tracing import trace_aws_calls

_creating = threading.Lock()
# Connections kept open per client. botocore keeps 10; a process calling from more threads at once opens
# more and throws them away ("Connection pool is full, discarding connection"), a new TLS handshake each
# time: the SMTP relay calls from its 32 store threads and their writes, the local stack runs every
# function and the relay in one process. Connections are only opened when used, so a Lambda instance
# (one invocation at a time, up to 10 side-by-side calls) keeps as few as before.
MAX_POOL_CONNECTIONS = 128


@cache
def _session() -> Any:
    trace_aws_calls()  # where X-Ray is on: patched here, when botocore is first needed, not at init
    import boto3

    return boto3.session.Session()


def client(service: str) -> Any:
    with _creating:
        return _client(service)


@cache
def _client(service: str) -> Any:
    from botocore.config import Config

    # S3: SigV4 everywhere, so presigned URLs sign their Content-Type and Content-Length headers.
    signing = {"signature_version": "s3v4"} if service == "s3" else {}
    return _session().client(
        service,
        config=Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=3,
            read_timeout=10,
            max_pool_connections=MAX_POOL_CONNECTIONS,
            **signing,
        ),
    )


@cache
def side_by_side() -> ThreadPoolExecutor:
    """Threads for AWS calls made several at a time (a batch's BatchWriteItem and SendMessageBatch calls),
    started once per warm instance rather than per request: starting threads per batch request was a
    measurable share of a batch's time (`make bench`, figure 3). Tasks must not submit to it themselves."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="aws")


def reset_clients() -> None:
    """Forget the session and its clients (the environment changed)."""
    with _creating:
        _client.cache_clear()
        _session.cache_clear()
