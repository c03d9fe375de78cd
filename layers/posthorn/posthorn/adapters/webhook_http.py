"""POSTing a delivery without letting the URL reach what it must not (logic/webhooks/addresses.py says what).

The host is resolved once per attempt, every address it resolves to is checked, and the connection goes to
the address that was checked: urllib3's pool is opened on the IP itself, with the name sent as TLS SNI and
checked against the certificate (`server_hostname`, `assert_hostname`) and as `Host`. A second lookup
between check and connect, which DNS rebinding relies on, never happens.

No redirects (a 3xx is an answer like any other, and tried again), no retries inside (the schedule
retries), 15 s for the whole attempt (in the fast lane 1 s to connect and 1 s to answer, so a slow connect is
given up before anything is sent), and the first 4 KB of the answer kept for the customer, never logged.
Pools are kept per (address, name), so consecutive deliveries to an endpoint reuse its connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError

from posthorn.errors import UndeliverableUrl
from posthorn.logic.webhooks.addresses import check_addresses, check_url, host_literal
from posthorn.models.webhooks import PostResult

BODY_LIMIT = 4096
KEPT_POOLS = 256

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (the system resolver, as any client would ask it)."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class PinnedHttpPoster:
    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        pool_size: int = 4,
        resolver: Resolver = resolve,
        ca_certs: str | None = None,  # tests: a CA of their own; deployed, the system's trust store
    ) -> None:
        self.allow_loopback = allow_loopback
        self.pool_size = pool_size
        self.resolver = resolver
        self.ca_certs = ca_certs
        self._pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def _pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            options = {"maxsize": self.pool_size, "block": False, "retries": False}
            if scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address,
                    port,
                    server_hostname=host,
                    assert_hostname=host,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=self.ca_certs,
                    **options,  # type: ignore[arg-type]
                )
            else:
                pool = urllib3.HTTPConnectionPool(address, port, **options)  # type: ignore[arg-type]
            self._pools[key] = pool
            while len(self._pools) > KEPT_POOLS:
                self._pools.popitem(last=False)[1].close()
            return pool

    def post(
        self,
        url: str,
        headers: dict[str, str],
        body: str,
        *,
        timeout: float,
        answer_within: float | None = None,
    ) -> PostResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            scheme, host, port = check_url(url, allow_loopback=self.allow_loopback)
            literal = host_literal(host)
            addresses = [str(literal)] if literal is not None else self.resolver(host, port)
            address = check_addresses(addresses, allow_loopback=self.allow_loopback)
        except UndeliverableUrl as refused:
            return PostResult(http_status=None, duration_ms=elapsed(), error=f"the URL {refused}")
        except OSError as error:
            return PostResult(http_status=None, duration_ms=elapsed(), error=f"DNS lookup failed ({error})")
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        default_port = 443 if scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        pool = self._pool(scheme, str(address), port, host.strip("[]"))
        try:
            response = pool.urlopen(
                "POST",
                target,
                body=body.encode(),
                headers={**headers, "host": host_header, "user-agent": "Posthorn-Webhooks/1"},
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(total=timeout)
                if answer_within is None
                else urllib3.Timeout(connect=answer_within, read=answer_within),
                preload_content=False,
                assert_same_host=False,
            )
        except (HTTPError, OSError) as error:
            described = _describe(error)
            return PostResult(
                http_status=None, duration_ms=elapsed(), error=described, timed_out=described == TIMED_OUT
            )
        try:
            head = response.read(BODY_LIMIT + 1, decode_content=True)
        except (HTTPError, OSError) as error:
            response.close()
            return PostResult(
                http_status=response.status,
                duration_ms=elapsed(),
                error=f"reading the answer: {_describe(error)}",
            )
        if len(head) > BODY_LIMIT:
            response.close()  # the rest is not read: this connection is not reused
        else:
            response.release_conn()
        return PostResult(
            http_status=response.status,
            duration_ms=elapsed(),
            retry_after=response.headers.get("retry-after"),
            body_head=head[:BODY_LIMIT].decode("utf-8", "replace"),
        )


TIMED_OUT = "no answer within the timeout"


def _describe(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    name = type(reason).__name__
    if "Timeout" in name or isinstance(reason, TimeoutError):
        return TIMED_OUT
    if "SSL" in name:
        return f"TLS failed ({str(reason)[:200]})"
    if "NewConnection" in name or isinstance(reason, ConnectionError):
        return "could not connect"
    return f"{name}: {str(reason)[:200]}"
