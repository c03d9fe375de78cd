"""The relay's listeners: STARTTLS ports (587, 2525), implicit-TLS ports (465), a health endpoint, and a
graceful stop.

aiosmtpd's `SMTP` is subclassed only where API.md's replies or the relay's limits need it:
- replies aiosmtpd words without an enhanced status code get API.md's (`530 5.7.0`, `552 5.3.4`);
- on an implicit-TLS port the connection is TLS from its first byte, which aiosmtpd does not see (it only
  knows STARTTLS), so AUTH would not be offered: there `auth_require_tls` is off, which is safe because
  nothing on that port is ever in the clear;
- DATA is read into one buffer (not a bytearray per line, joined: ~2.8x the message at its peak), reserves
  its bytes from the relay's memory budget before it is read, and counts as a transaction in flight until
  its reply (a graceful stop waits for those);
- a connection over the task's limit is told `421 4.7.0` and closed; a session's credential is released
  when its connection ends;
- the PROXY protocol header's client address outlives STARTTLS, which starts a new aiosmtpd session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr

from aiosmtpd.proxy_protocol import get_proxy
from aiosmtpd.smtp import MISSING, SMTP

from posthorn.logic.mime import MAX_MESSAGE_BYTES
from posthorn.models.credentials import Credential
from smtp_relay.handler import RelayHandler
from smtp_relay.protection import ConnectionGate, MemoryBudget

log = logging.getLogger("smtp_relay")


class _WithoutLoginDataNotice(logging.Filter):
    """aiosmtpd warns that `Session.login_data` is deprecated on every successful AUTH, setting it itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_WithoutLoginDataNotice())

# Room kept for the headers Posthorn adds (SES's stamp, Message-ID, Date): what a client may send.
HEADER_ROOM = 64 * 1024
DATA_LIMIT = MAX_MESSAGE_BYTES - HEADER_ROOM
RESERVE_WAIT_SECONDS = 10.0

_WORDING = {
    "530 Must issue a STARTTLS command first": "530 5.7.0 Must issue a STARTTLS command first",
    "552 Error: Too much mail data": f"552 5.3.4 Message too big: at most {DATA_LIMIT} bytes",
    "552 Error: message size exceeds fixed maximum message size": (
        f"552 5.3.4 Message too big: at most {DATA_LIMIT} bytes"
    ),
    "530 5.7.0 Authentication required": "530 5.7.0 Authentication required",
}
SHUTTING_DOWN = "421 4.3.2 Service shutting down; try again in a moment"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections; try again later"
NO_ROOM = "452 4.3.1 Insufficient system storage just now; try again later"


class Listener:
    """What every connection of the relay shares."""

    def __init__(self, handler: RelayHandler, gate: ConnectionGate, budget: MemoryBudget) -> None:
        self.handler = handler
        self.gate = gate
        self.budget = budget
        self.connections: set[RelaySMTP] = set()
        self.transactions = 0  # DATA being received or answered
        self.stopping = False


class RelaySMTP(SMTP):
    def __init__(self, listener: Listener, *, implicit_tls: bool, **options: Any) -> None:
        super().__init__(listener.handler, **options)
        self.listener = listener
        self.task: asyncio.Task[Any] | None = None
        if implicit_tls:  # TLS from the first byte, which aiosmtpd cannot see: AUTH is safe at once
            self._auth_require_tls = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # STARTTLS starts a new session (RFC 3207); the PROXY header that named the client came before it.
        proxy = self.session.proxy_data if self.session is not None else None
        super().connection_made(transport)
        if proxy is not None and self.session is not None:
            self.session.proxy_data = proxy

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            status = _WORDING.get(status, status)
        await super().push(status)

    async def _handle_client(self) -> None:
        listener = self.listener
        if listener.stopping or not listener.gate.admit():
            await self.push(SHUTTING_DOWN if listener.stopping else TOO_MANY_CONNECTIONS)
            if self.transport is not None:
                self.transport.close()
            return
        listener.connections.add(self)
        self.task = asyncio.current_task()
        try:
            await super()._handle_client()
        finally:
            listener.connections.discard(self)
            listener.gate.leave()
            credential = self.session.auth_data if self.session is not None else None
            if isinstance(credential, Credential):
                listener.gate.part(credential.username)

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading into one buffer: aiosmtpd keeps every line as a bytearray of its own and
        then joins them, ~2.8x the message at its peak; here the message is held once, unstuffed as it
        arrives, and handed on as that same buffer (`logic/relayed_message.py` keeps its body in place)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        listener = self.listener
        declared = _declared_size(self.envelope.mail_options)
        # A client that declared SIZE is held to it (RFC 1870 counts the message unstuffed, as it is read
        # here), so what it reserved bounds what it may send.
        reserve = min(declared + 1024, DATA_LIMIT) if declared else DATA_LIMIT
        if not await listener.budget.reserve(reserve, wait_seconds=RESERVE_WAIT_SECONDS):
            await self.push(NO_ROOM)
            return
        listener.transactions += 1
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            content = await self._read_data(reserve)
            if content is None:
                self._set_post_data_state()
                return
            self.envelope.content = self.envelope.original_content = content  # type: ignore[assignment]
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push("250 OK" if status is MISSING else status)
        finally:
            listener.transactions -= 1
            await listener.budget.release(reserve)

    async def _read_data(self, limit: int) -> bytearray | None:
        """The message up to the lone dot, dot-unstuffed (RFC 5321 4.5.2); None when it broke a limit, its
        reply already sent once the client finished sending (RFC 5321 4.2.5)."""
        data = bytearray()
        size = 0
        too_long = too_much = in_long_line = False
        while self.transport is not None:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.CancelledError:  # the connection broke off during DATA
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as overrun:  # a line over 1,000 octets: drained, not kept
                await self._reader.read(overrun.consumed)
                too_long = in_long_line = True
                data = bytearray()
                continue
            if in_long_line:  # the end of that long line
                in_long_line = False
                continue
            if line == b".\r\n":
                break
            if too_long or too_much:
                continue
            start = 1 if line[:1] == b"." else 0
            size += len(line) - start
            if size > limit:
                too_much = True
                data = bytearray()
                continue
            data += memoryview(line)[start:]
        if too_long:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            return None
        if too_much:
            await self.push("552 Error: Too much mail data")
            return None
        return data


def _declared_size(options: list[str]) -> int:
    for option in options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


class Relay:
    """The running relay: `start()`, then `stop()` (graceful) or `close()`."""

    def __init__(
        self,
        listener: Listener,
        *,
        host: str,
        hostname: str,
        tls: ssl.SSLContext,
        starttls_ports: list[int],
        tls_ports: list[int],
        health_port: int,
        idle_timeout: float,
        proxy_protocol: bool,
    ) -> None:
        self.listener = listener
        self.host = host
        self.hostname = hostname
        self.tls = tls
        self.starttls_ports = starttls_ports
        self.tls_ports = tls_ports
        self.health_port = health_port
        self.idle_timeout = idle_timeout
        self.proxy_protocol = proxy_protocol
        self.servers: list[asyncio.Server] = []
        self.health: asyncio.Server | None = None
        self.ports: dict[str, list[int]] = {"starttls": [], "tls": []}

    def _factory(self, *, implicit_tls: bool) -> Callable[[], RelaySMTP]:
        options: dict[str, Any] = {
            "hostname": self.hostname,
            "ident": "Posthorn SMTP relay",
            "data_size_limit": DATA_LIMIT,
            "timeout": self.idle_timeout,
            "auth_required": True,
            "auth_exclude_mechanism": [],
            "proxy_protocol_timeout": 10 if self.proxy_protocol else None,
        }
        if implicit_tls:
            options.update(tls_context=None, require_starttls=False)
        else:
            options.update(tls_context=self.tls, require_starttls=True)
        return lambda: RelaySMTP(self.listener, implicit_tls=implicit_tls, **options)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for port in self.starttls_ports:
            server = await loop.create_server(self._factory(implicit_tls=False), self.host, port)
            self.servers.append(server)
            self.ports["starttls"].append(server.sockets[0].getsockname()[1])
        for port in self.tls_ports:
            server = await loop.create_server(self._factory(implicit_tls=True), self.host, port, ssl=self.tls)
            self.servers.append(server)
            self.ports["tls"].append(server.sockets[0].getsockname()[1])
        if self.health_port:
            self.health = await asyncio.start_server(self._health, self.host, self.health_port)
        log.info("relay listening", extra={"ports": self.ports, "health_port": self.health_port})

    async def _health(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """`GET /health`: 200 while serving, 503 once stopping. Behind the load balancer its checks start
        with a PROXY protocol header too (the LOCAL form), read and dropped here."""
        with contextlib.suppress(Exception):
            if self.proxy_protocol:
                await asyncio.wait_for(get_proxy(reader), 5)
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        ok = not self.listener.stopping
        body = b"ok\n" if ok else b"stopping\n"
        status = b"200 OK" if ok else b"503 Service Unavailable"
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )  # fmt: skip
        with contextlib.suppress(Exception):
            await writer.drain()
        writer.close()

    async def stop(self, grace_seconds: float) -> None:
        """SIGTERM: stop accepting, let transactions in flight finish (up to `grace_seconds`), then tell the
        idle sessions `421 4.3.2` and close them."""
        self.listener.stopping = True
        for server in self.servers:
            server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        while self.listener.transactions and loop.time() < deadline:
            await asyncio.sleep(0.05)
        remaining = list(self.listener.connections)
        for connection in remaining:
            with contextlib.suppress(Exception):
                await connection.push(SHUTTING_DOWN)
            if connection.transport is not None:
                connection.transport.close()
        tasks = [connection.task for connection in remaining if connection.task is not None]
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=2)
            for connection in remaining:  # a TLS peer that never answers the close: drop it
                transport = connection.transport
                if connection.task in stuck and isinstance(transport, asyncio.WriteTransport):
                    transport.abort()
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=1)
        await self.close()

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        waits: list[Awaitable[None]] = [server.wait_closed() for server in self.servers]
        if self.health is not None:
            self.health.close()
            waits.append(self.health.wait_closed())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*waits), 5)
