"""A local stand-in for Amazon SES's SMTP endpoint, for tests, `make run` and fault injection.

`LocalSes` is a real SMTP server (aiosmtpd) on loopback that behaves like SES's SMTP interface:
STARTTLS (port 587 style) or implicit TLS (465 style), AUTH PLAIN/LOGIN required before MAIL,
SIZE advertised, and `250 Ok <ses-message-id>` after DATA. Every accepted message is kept in an
`Outbox`; a `FaultPlan` injects SES's transient and permanent replies, dropped connections and
reply latency. Reply texts follow "SMTP response codes returned by Amazon SES" in the SES guide.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, AnyStr, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from posthorn_local.tls import TlsMaterial

logger = logging.getLogger(__name__)

# SES refuses messages over 40 MB; the headroom covers dot-stuffing and line ends counted on the wire.
DEFAULT_MAX_MESSAGE_SIZE = 40 * 1024 * 1024 + 512 * 1024
MAX_RECIPIENTS = 50

# Outcomes a FaultPlan can force: "ok" plus these.
TRANSIENT_REPLIES = {
    "421": "421 Too many concurrent SMTP connections",  # the server closes the connection after it
    "451": "451 Temporary service failure",
    "454": "454 Throttling failure: Maximum sending rate exceeded",
}
PERMANENT_REPLY = "554 Transaction failed: Message rejected by the local SES fault plan."
DROP = "drop"
# SES's ambiguous window: the message is accepted, then the connection drops before the 250 reaches us.
ACCEPTED_DROP = "accept_drop"
OUTCOMES = frozenset({"ok", DROP, ACCEPTED_DROP, "554", *TRANSIENT_REPLIES})

_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")


@dataclass(frozen=True)
class OutboxMessage:
    """One message accepted by the local SES, exactly as received after DATA (dot-unstuffed)."""

    id: str
    ses_message_id: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    received_at: datetime
    raw: bytes
    # The fault plan hung up after keeping it and before the 250 ("accept_drop"): SES's ambiguous window,
    # where its client cannot know SES has the message and a second copy is allowed.
    reply_dropped: bool = False

    @classmethod
    def create(cls, mail_from: str, rcpt_to: tuple[str, ...], raw: bytes) -> OutboxMessage:
        return cls(
            id=uuid.uuid4().hex[:12],
            ses_message_id=new_ses_message_id(),
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            received_at=datetime.now(UTC),
            raw=raw,
        )

    @property
    def size(self) -> int:
        return len(self.raw)

    def to_summary(self) -> dict[str, Any]:
        """The item `GET /_local/outbox` lists."""
        return {
            "id": self.id,
            "ses_message_id": self.ses_message_id,
            "mail_from": self.mail_from,
            "rcpt_to": list(self.rcpt_to),
            "received_at": self.received_at.isoformat(),
            "size": self.size,
        }


def new_ses_message_id() -> str:
    """An id shaped like SES's: `0100` + 12 hex digits of epoch milliseconds + `-<uuid4>-000000`."""
    millis = time.time_ns() // 1_000_000
    return f"0100{millis:012x}-{uuid.uuid4()}-000000"


class Outbox:
    """Thread-safe store of accepted messages."""

    def __init__(self) -> None:
        self._messages: dict[str, OutboxMessage] = {}
        self._changed = threading.Condition()

    def add(self, message: OutboxMessage) -> None:
        with self._changed:
            self._messages[message.id] = message
            self._changed.notify_all()

    def get(self, message_id: str) -> OutboxMessage | None:
        with self._changed:
            return self._messages.get(message_id)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[OutboxMessage]:
        """Block until at least `count` messages are stored; newest first. Raises TimeoutError."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"outbox holds {len(self._messages)} messages, expected {count}")
            return self._newest_first()

    def _newest_first(self) -> list[OutboxMessage]:
        return list(reversed(self._messages.values()))

    # Last in the class: once `list` is defined here, the name means this method in the class body.
    def list(self) -> list[OutboxMessage]:
        """All messages, newest first."""
        with self._changed:
            return self._newest_first()


@dataclass
class FaultPlan:
    """What the local SES does to each transaction's DATA reply; mutable while the server runs.

    `script` entries ("ok", "421", "451", "454", "554", "drop", "accept_drop") are consumed one per
    transaction before the random rates apply. Rates are probabilities drawn from a seeded `random.Random`.
    "drop" hangs up before the message is accepted; "accept_drop" keeps the message and then hangs up
    before the 250 reply: the client cannot know SES has it (the one ambiguous window).
    `reply_delay` seconds are waited before every reply (once per multi-line reply).
    """

    transient_rate: float = 0.0
    permanent_rate: float = 0.0
    drop_rate: float = 0.0
    accepted_drop_rate: float = 0.0
    reply_delay: float = 0.0
    seed: int | None = None
    script: list[str] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter, init=False)
    rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        _check_outcomes(self.script)
        rates = (self.transient_rate, self.permanent_rate, self.drop_rate, self.accepted_drop_rate)
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates) > 1.0:
            raise ValueError("fault rates must be within 0..1 and add up to at most 1")

    def force(self, *outcomes: str) -> None:
        """Queue outcomes for the next transactions, in order."""
        _check_outcomes(outcomes)
        with self._lock:
            self.script.extend(outcomes)

    def next_outcome(self) -> str:
        """Decide the next transaction's outcome and count it if it is a fault."""
        with self._lock:
            if self.script:
                outcome = self.script.pop(0)
                _check_outcomes([outcome])
            else:
                outcome = self._draw()
            if outcome != "ok":
                self.injected[outcome] += 1
            return outcome

    def _draw(self) -> str:
        draw = self.rng.random()
        if draw < self.drop_rate:
            return DROP
        if draw < self.drop_rate + self.permanent_rate:
            return "554"
        if draw < self.drop_rate + self.permanent_rate + self.transient_rate:
            return self.rng.choice(sorted(TRANSIENT_REPLIES))
        if draw < self.drop_rate + self.permanent_rate + self.transient_rate + self.accepted_drop_rate:
            return ACCEPTED_DROP
        return "ok"


def _check_outcomes(outcomes: Any) -> None:
    unknown = [outcome for outcome in outcomes if outcome not in OUTCOMES]
    if unknown:
        raise ValueError(f"unknown fault outcome(s) {unknown}; expected one of {sorted(OUTCOMES)}")


class _Session(Session):
    """aiosmtpd's session without its deprecated `login_data`, which logs a warning on every AUTH."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SesSMTP(SMTP):
    """aiosmtpd's protocol plus reply latency and the ability to hang up instead of (or after) replying."""

    def __init__(
        self, handler: _SesHandler, faults: FaultPlan, connections: set[_SesSMTP], **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._faults = faults
        self._connections = connections
        self._in_multiline_reply = False
        self._hang_up_instead = False
        self._hang_up_after = False
        self._after_reply: Callable[[], None] | None = None

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._connections.discard(self)
        super().connection_lost(error)

    def abort(self) -> None:
        """Close the socket at once (the plain one under STARTTLS), so nothing outlives the loop."""
        transport = self._original_transport or self.transport
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()

    def hang_up_instead_of_replying(self) -> None:
        self._hang_up_instead = True

    def hang_up_after_replying(self) -> None:
        self._hang_up_after = True

    def call_after_reply(self, callback: Callable[[], None]) -> None:
        self._after_reply = callback

    async def push(self, status: AnyStr) -> None:
        after_reply, self._after_reply = self._after_reply, None
        try:
            if self._hang_up_instead:
                self._hang_up()
                return
            delay = self._faults.reply_delay
            if delay > 0 and not self._in_multiline_reply:
                await asyncio.sleep(delay)
            line = status if isinstance(status, str) else status.decode("ascii", "replace")
            self._in_multiline_reply = line[3:4] == "-"
            await super().push(status)
            if self._hang_up_after:
                self._hang_up()
        finally:
            if after_reply is not None:
                after_reply()

    def _hang_up(self) -> None:
        # The same steps aiosmtpd's QUIT takes: stop reading, then close the transport.
        self._hang_up_instead = self._hang_up_after = False
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()
        if self.transport is not None:
            self.transport.close()


class _SesHandler:
    """aiosmtpd hooks: SES's replies for MAIL, RCPT and DATA; storage; fault injection."""

    def __init__(self, ses: LocalSes) -> None:
        self._ses = ses

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user_ok = hmac.compare_digest(auth_data.login, self._ses.username.encode())
        password_ok = hmac.compare_digest(auth_data.password, self._ses.password.encode())
        if user_ok and password_ok:
            return AuthResult(success=True, auth_data=auth_data, message="235 Authentication successful.")
        return AuthResult(success=False, handled=False, message="535 Authentication Credentials Invalid")

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 Authentication required"
        if not _ADDRESS.fullmatch(address):
            return "501 Invalid MAIL FROM address provided"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not _ADDRESS.fullmatch(address):
            return "501 Invalid RCPT TO address provided"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 Ok"

    async def handle_DATA(self, server: _SesSMTP, session: Session, envelope: Envelope) -> str:
        # SES checks the recipient count when the message is submitted, so the whole message fails.
        if len(envelope.rcpt_tos) > MAX_RECIPIENTS:
            return f"554 Transaction failed: Recipient count exceeds {MAX_RECIPIENTS}."
        outcome = self._ses.faults.next_outcome()
        if outcome == DROP:
            server.hang_up_instead_of_replying()
            return "421 (never sent)"
        if outcome == "554":
            return PERMANENT_REPLY
        if outcome in TRANSIENT_REPLIES:
            if outcome == "421":
                server.hang_up_after_replying()
            return TRANSIENT_REPLIES[outcome]

        assert envelope.mail_from is not None
        assert envelope.original_content is not None
        message = OutboxMessage.create(
            envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content)
        )
        if outcome == ACCEPTED_DROP:
            message = replace(message, reply_dropped=True)
        self._ses.outbox.add(message)
        server.call_after_reply(lambda: self._ses.notify(message))
        if outcome == ACCEPTED_DROP:
            server.hang_up_instead_of_replying()
        return f"250 Ok {message.ses_message_id}"


class _Controller(Controller):
    """aiosmtpd's threaded Controller, building our protocol and learning the port bound for port 0."""

    def __init__(
        self, make_smtp: Callable[[asyncio.AbstractEventLoop, set[_SesSMTP]], SMTP], **kwargs: Any
    ) -> None:
        super().__init__(handler=None, **kwargs)
        self._make_smtp = make_smtp
        self.connections: set[_SesSMTP] = set()

    def factory(self) -> SMTP:
        return self._make_smtp(self.loop, self.connections)

    def cancel_tasks(self, stop_loop: bool = True) -> None:
        # stop() runs this in the loop; aiosmtpd leaves open connections' sockets unclosed.
        for connection in list(self.connections):
            connection.abort()
        super().cancel_tasks(stop_loop)

    def _trigger_server(self) -> None:
        # start() opens a connection to (hostname, port) to initialise the protocol; with port 0 it
        # must first learn which port the listener got.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LocalSes:
    """SES's SMTP interface on loopback. `start()`/`stop()` or use as a context manager.

    mode "starttls": plain connection, STARTTLS required before AUTH (SES port 587).
    mode "tls": implicit TLS from the first byte (SES port 465).
    `on_message` runs in a worker thread after the 250 reply is sent, one message at a time;
    its exceptions are logged.
    """

    def __init__(
        self,
        *,
        username: str,
        password: str,
        tls: TlsMaterial,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: Literal["starttls", "tls"] = "starttls",
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        outbox: Outbox | None = None,
        faults: FaultPlan | None = None,
        on_message: Callable[[OutboxMessage], None] | None = None,
        server_hostname: str = "localhost",
    ) -> None:
        if mode not in ("starttls", "tls"):
            raise ValueError(f"mode must be 'starttls' or 'tls', not {mode!r}")
        self.username = username
        self.password = password
        self.tls = tls
        self.host = host
        self.port = port
        self.mode = mode
        self.max_message_size = max_message_size
        self.outbox = outbox if outbox is not None else Outbox()
        self.faults = faults if faults is not None else FaultPlan()
        self.on_message = on_message
        self.server_hostname = server_hostname
        self._controller: _Controller | None = None
        self._callbacks: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("LocalSes is already running")
        handler = _SesHandler(self)
        starttls = self.mode == "starttls"

        def make_smtp(loop: asyncio.AbstractEventLoop, connections: set[_SesSMTP]) -> SMTP:
            return _SesSMTP(
                handler,
                self.faults,
                connections,
                loop=loop,
                hostname=self.server_hostname,
                ident="ESMTP Posthorn local SES",
                data_size_limit=self.max_message_size,
                decode_data=False,
                enable_SMTPUTF8=False,
                tls_context=self.tls.server_context if starttls else None,
                require_starttls=starttls,
                # With implicit TLS aiosmtpd does not know the channel is encrypted, so it would
                # refuse AUTH; handle_MAIL enforces AUTH in both modes instead of auth_required.
                auth_require_tls=starttls,
                authenticator=handler.authenticate,
            )

        self._callbacks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-ses-on-message")
        controller = _Controller(
            make_smtp,
            hostname=self.host,
            port=self.port,
            ssl_context=None if starttls else self.tls.server_context,
            ready_timeout=10.0,
        )
        try:
            controller.start()
        except BaseException:
            self._callbacks.shutdown(wait=False)
            self._callbacks = None
            raise
        self._controller = controller
        self.port = controller.port
        logger.info("local SES listening on %s:%d (%s)", self.host, self.port, self.mode)

    def stop(self) -> None:
        """Stop listening, then wait for pending `on_message` calls."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        callbacks, self._callbacks = self._callbacks, None
        if callbacks is not None:
            callbacks.shutdown(wait=True)

    def __enter__(self) -> LocalSes:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for_callbacks(self, timeout: float = 5.0) -> None:
        """Block until every `on_message` call queued so far has finished."""
        if self._callbacks is not None:
            self._callbacks.submit(lambda: None).result(timeout)

    def notify(self, message: OutboxMessage) -> None:
        """Queue `on_message` for an accepted message (called by the server after its 250 reply)."""
        if self.on_message is None or self._callbacks is None:
            return
        self._callbacks.submit(self._run_on_message, self.on_message, message)

    @staticmethod
    def _run_on_message(callback: Callable[[OutboxMessage], None], message: OutboxMessage) -> None:
        try:
            callback(message)
        except Exception:
            logger.exception("on_message failed for outbox message %s", message.id)
