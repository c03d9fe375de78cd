"""The relay's listeners: STARTTLS ports (587, 2525), implicit-TLS ports (465), a health endpoint, and a
graceful stop.

aiosmtpd's `SMTP` is subclassed only where the relay's replies (docs/api.md, "SMTP relay") or limits need it:
- replies aiosmtpd words without an enhanced status code get the contract's (`530 5.7.0`, `552 5.3.4` naming
  `payload_too_large`);
- on an implicit-TLS port the connection is TLS from its first byte, which aiosmtpd does not see (it only
  knows STARTTLS), so AUTH would not be offered: there `auth_require_tls` is off, which is safe because
  nothing on that port is ever in the clear;
- DATA is read by a loop of our own, as aiosmtpd's `smtp_DATA` has no hook inside its loop: into one buffer
  (aiosmtpd keeps a bytearray per line, then joins them: several times the message at its peak, more than
  the memory budget counts; README's bench figure 7), reserving its bytes from the relay's memory budget as
  they arrive (`_Reservation`), resetting the idle timer as lines come, and counting as a transaction in
  flight until its reply (a graceful stop waits for those). What it takes from aiosmtpd is fenced
  (`AIOSMTPD_UNDOCUMENTED`);
- DATA is passed on only as CRLF lines: a bare CR or LF anywhere refuses the message (`550 5.6.0`), because
  the next hop may read it as a line end, so that `<LF>.<CR><LF>` and its kin end DATA there and what
  follows is read as commands (SMTP smuggling). Only CRLF "." CRLF ends DATA here;
- a connection over the task's limit is told `421 4.7.0` and closed; a session's credential is released
  when its connection ends; a second STARTTLS is refused (aiosmtpd would start a new session inside TLS);
- the PROXY protocol header's client address outlives STARTTLS, which starts a new aiosmtpd session. Only
  the STARTTLS ports expect that header: on an implicit-TLS port TLS starts with the client's first byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr

from aiosmtpd.proxy_protocol import V2_SIGNATURE
from aiosmtpd.smtp import MISSING, SMTP

from posthorn.models.credentials import Credential
from posthorn.models.raw_message import MAX_MESSAGE_BYTES
from smtp_relay.handler import RelayHandler, log_transaction
from smtp_relay.protection import ConnectionGate, MemoryBudget

log = logging.getLogger("smtp_relay")


class _WithoutNoise(logging.Filter):
    """aiosmtpd warns that `Session.login_data` is deprecated on every successful AUTH, setting it itself, and
    that AUTH without TLS is unsafe on every implicit-TLS connection, whose TLS it does not see."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "login_data is deprecated" not in message and "auth_require_tls == False" not in message


logging.getLogger("mail.log").addFilter(_WithoutNoise())
warnings.filterwarnings(
    "ignore", "Requiring AUTH while not requiring TLS", category=UserWarning, module=r"aiosmtpd\.smtp"
)

# aiosmtpd's (1.4.6) undocumented members RelaySMTP relies on, every one: DATA is read here (aiosmtpd's own
# holds several times the message, with no hook inside its loop), and the connections are counted for the
# limits and a graceful stop. tests/unit/test_relay_aiosmtpd_fence.py fails when the installed aiosmtpd is not
# the pinned one, when the source of these or of the methods RelaySMTP overrides changed, or when server.py
# uses one not listed: re-check each use against the new source, then record it there. Used and documented:
# `push`, `smtp_<COMMAND>`, `_create_envelope`, `event_handler`, `session`, `envelope`, `transport`, the
# constructor's options, `MISSING`.
AIOSMTPD_UNDOCUMENTED = {
    "_handle_client": "overridden: the session's coroutine, wrapped to admit the connection, track it for a "
    "graceful stop and release its credential; aiosmtpd's runs inside",
    "_reader": "the connection's StreamReader (limit: `line_length_limit`), read line by line in DATA",
    "_reset_timeout": "restarts the idle timer while a large DATA arrives (aiosmtpd resets it per command)",
    "check_helo_needed": "DATA's first check, as aiosmtpd's `smtp_DATA` makes it (503 before HELO/EHLO)",
    "check_auth_needed": "DATA's second check, as aiosmtpd's `smtp_DATA` makes it (530 before AUTH)",
}

# Room kept for the headers Posthorn adds (SES's stamp, Message-ID, Date): what a client may send.
HEADER_ROOM = 64 * 1024
DATA_LIMIT = MAX_MESSAGE_BYTES - HEADER_ROOM
RESERVE_WAIT_SECONDS = 10.0
RESERVE_STEP = 1024 * 1024
COPIES = 4

# docs/api.md, "SMTP relay": a refusal that matches one of the API's error codes names it.
TOO_BIG = f"552 5.3.4 payload_too_large: message too big: at most {DATA_LIMIT} bytes"
_WORDING = {
    "530 Must issue a STARTTLS command first": "530 5.7.0 Must issue a STARTTLS command first",
    "552 Error: Too much mail data": TOO_BIG,
    "552 Error: message size exceeds fixed maximum message size": TOO_BIG,
    "530 5.7.0 Authentication required": "530 5.7.0 Authentication required",
}
SHUTTING_DOWN = "421 4.3.2 Service shutting down; try again in a moment"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections; try again later"
NO_ROOM = "452 4.3.1 Insufficient system storage just now; try again later"
OVER_DECLARED_SIZE = "552 5.3.4 payload_too_large: more data than the SIZE declared at MAIL FROM"
BARE_LINE_END = "550 5.6.0 validation_error: the message has a bare CR or LF; send CRLF line endings only"


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
        # On an implicit-TLS port TLS starts with the first byte, unseen by aiosmtpd: AUTH is safe at once.
        super().__init__(listener.handler, auth_require_tls=not implicit_tls, **options)
        self.listener = listener
        self.task: asyncio.Task[Any] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # STARTTLS starts a new session (RFC 3207); the PROXY header that named the client came before it.
        proxy = self.session.proxy_data if self.session is not None else None
        super().connection_made(transport)
        if proxy is not None and self.session is not None:
            self.session.proxy_data = proxy

    async def smtp_STARTTLS(self, arg: str) -> None:
        # aiosmtpd would start TLS again inside TLS, and the new session would forget the credential. (Only
        # STARTTLS sets `session.ssl`: on an implicit-TLS port aiosmtpd answers 454, having no TLS context.)
        if self.session is not None and self.session.ssl is not None:
            await self.push("503 5.5.1 TLS is already active")
            return
        await super().smtp_STARTTLS(arg)

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            status = _WORDING.get(status, status)
        await super().push(status)
        # 421: the service closes the connection (RFC 5321 4.2.2), whoever chose the reply.
        if status[:3] in ("421", b"421") and self.transport is not None:
            self.transport.close()

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
        """aiosmtpd's DATA (`SMTP.smtp_DATA`: its checks, replies and end of data), reading into one buffer:
        aiosmtpd keeps every line as a bytearray of its own and then joins them, several times the message
        at its peak; here the message is held once, unstuffed as it arrives, and handed on as that same
        buffer (`logic/submission/relayed_message.py` keeps its body in place)."""
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
        # here); one that did not may send up to the limit, reserving memory as its bytes arrive.
        limit = min(declared + 1024, DATA_LIMIT) if declared else DATA_LIMIT
        reservation = _Reservation(listener.budget)
        if not await reservation.cover(declared or RESERVE_STEP):
            await self.push(NO_ROOM)
            return
        listener.transactions += 1
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            content = await self._read_data(limit, reservation)
            if content is None:
                self.envelope = self._create_envelope()
                return
            self.envelope.content = self.envelope.original_content = content  # type: ignore[assignment]
            hook = getattr(self.event_handler, "handle_DATA", None)
            status = MISSING if hook is None else await hook(self, self.session, self.envelope)
            self.envelope = self._create_envelope()
            await self.push("250 OK" if status is MISSING else status)
        finally:
            listener.transactions -= 1
            await reservation.release()

    async def _read_data(self, limit: int, reservation: _Reservation) -> bytearray | None:
        """The message up to the lone dot, dot-unstuffed (RFC 5321 4.5.2); None when it broke a limit or had a
        bare CR or LF, its reply already sent once the client finished sending (RFC 5321 4.2.5). Lines end
        only at CRLF, so a CR or LF inside one is bare. The idle timer is reset as lines arrive: a slow client
        sending a large message is not idle."""
        data = bytearray()
        size = lines = 0
        bare = too_long = too_much = no_room = in_long_line = False
        while self.transport is not None:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.CancelledError:  # the connection broke off during DATA
                if self.transport is not None:
                    self.transport.close()
                raise
            except asyncio.LimitOverrunError as overrun:  # a line over 1,000 octets: drained, not kept
                # `consumed` stops short of a CRLF, even of a CR that a LF may follow: its CR or LF is bare.
                drained = await self._reader.read(overrun.consumed)
                bare = bare or b"\r" in drained or b"\n" in drained
                too_long = in_long_line = True
                data = bytearray()
                continue
            if _has_bare_line_end(line):
                bare = True
                data = bytearray()
            if in_long_line:  # the end of that long line
                in_long_line = False
                continue
            if len(line) > MAX_LINE_OCTETS:  # under the reader's limit, over what SES takes
                too_long = True
                data = bytearray()
                continue
            if line == b".\r\n":
                break
            lines += 1
            if lines % 1000 == 0:
                self._reset_timeout()
            if bare or too_long or too_much or no_room:
                continue
            start = 1 if line[:1] == b"." else 0
            size += len(line) - start
            if size > limit:
                too_much = True
                data = bytearray()
                continue
            if not await reservation.cover(size):
                no_room = True
                data = bytearray()
                continue
            data += memoryview(line)[start:]
        if bare:  # first: a client that writes bare line ends may see its lines counted as one long line
            await self._refused(BARE_LINE_END, "validation_error")
        elif too_long:
            await self._refused("500 Line too long (see RFC5321 4.5.3.1.6)", "validation_error")
        elif too_much:
            await self._refused(TOO_BIG if limit >= DATA_LIMIT else OVER_DECLARED_SIZE, "payload_too_large")
        elif no_room:
            await self._refused(NO_ROOM, "relay_busy")
        else:
            return data
        return None

    async def _refused(self, reply: str, code: str) -> None:
        """A DATA the reader refused: its reply, and the transaction's one log line."""
        await self.push(reply)
        if self.session is not None:
            log_transaction(self.session, _WORDING.get(reply, reply), code)


# RFC 5321 4.5.3.1.6: a line is at most 1,000 octets with its CRLF, as SES enforces (aiosmtpd's reader lets
# a few more through); one longer would be accepted here and refused by SES after the 250.
MAX_LINE_OCTETS = 1000


def _has_bare_line_end(line: bytes) -> bool:
    """A CR or LF in a line other than its final CRLF."""
    return line.find(b"\r") != len(line) - 2 or line.find(b"\n") != len(line) - 1


class _Reservation:
    """What one DATA holds of the memory budget: `COPIES` bytes per byte of message (the DATA buffer, then,
    while it is accepted, the queue message's text, its JSON and the bytes sent), taken a step at a time as
    the message grows, so a client that declared no SIZE holds what it sent, not the largest message."""

    def __init__(self, budget: MemoryBudget) -> None:
        self.budget = budget
        self.bytes = 0  # of message covered

    async def cover(self, size: int) -> bool:
        if size <= self.bytes:
            return True
        step = max(size - self.bytes, RESERVE_STEP)
        if not await self.budget.reserve(step * COPIES, wait_seconds=RESERVE_WAIT_SECONDS):
            return False
        self.bytes += step
        return True

    async def release(self) -> None:
        if self.bytes:
            await self.budget.release(self.bytes * COPIES)
            self.bytes = 0


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
            # Behind the NLB only the STARTTLS ports carry a PROXY header: on 465 TLS starts with the first
            # byte, so its target group preserves the client's address instead (template.yaml).
            "proxy_protocol_timeout": 10 if self.proxy_protocol and not implicit_tls else None,
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
        """`GET /health`: 200 while serving, 503 once stopping. Behind the load balancer the checks of the
        target groups with PROXY protocol start with its header (the LOCAL form), the others do not."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_skip_proxy_header(reader), 5)
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


async def _skip_proxy_header(reader: asyncio.StreamReader) -> None:
    """Read a PROXY protocol header (v1 or v2) if the connection starts with one, and leave the rest."""
    head = await reader.readexactly(5)
    if head == b"PROXY":
        await reader.readuntil(b"\r\n")
    elif head == V2_SIGNATURE[:5]:
        rest = await reader.readexactly(len(V2_SIGNATURE) - 5 + 4)  # signature, version, family, length
        await reader.readexactly(int.from_bytes(rest[-2:], "big"))
    elif not head.startswith((b"GET", b"HEAD")):
        raise ValueError("neither a PROXY header nor an HTTP request")
    # An HTTP request: its first five bytes are read, the headers end it.
