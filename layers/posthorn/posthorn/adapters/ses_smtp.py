"""Where SMTP is spoken: Amazon SES's SMTP interface (or the local stand-in for it).

- TLS always: STARTTLS on 587/25/2587, implicit TLS on 465/2465; certificates verified.
- Connections are pooled and reused across warm invocations. SES closes idle connections after about
  ten seconds, so one idle longer than `max_idle` is replaced, and one idle more than a second is checked
  with NOOP. A connection found dead before DATA is replaced and the transaction restarted: nothing was sent.
- Nagle's algorithm is off (TCP_NODELAY): the message and its end of data go out as two writes, and
  with Nagle on the second waits for the server's delayed ACK of the first, about 40 ms per message.
- 4xx replies, dropped connections and timeouts are retried with capped exponential backoff while the
  caller's deadline allows; every socket wait is also bounded by what is left of it. A 5xx is final.
- SES refusing our SMTP credentials (535) is our configuration, not the message: DeliveryUnavailable.
- A new process's first connection is opened while its SMTP secret is read (`transport_from_settings`):
  TCP, greeting, EHLO, STARTTLS and EHLO again (five waits for SES) do not wait for Secrets Manager; only
  AUTH does. The first send takes that connection (`open_ahead`).
- The one ambiguous moment: the connection drops after the final "." and before SES's reply. SES may
  have accepted the message. The transaction is retried (at-least-once): a rare duplicate is preferred
  to a lost message. The receipt says so (`after_ambiguous_drop`).
"""

from __future__ import annotations

import contextlib
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from posthorn.errors import DeliveryRejected, DeliveryUnavailable
from posthorn.models.raw_message import Base64Body, RawMessage
from posthorn.models.send_queue import DeliveryReceipt

if TYPE_CHECKING:
    from posthorn.settings import SesSmtpSettings

_SES_ID = re.compile(rb"^Ok\s+(\S+)", re.IGNORECASE)
_BARE_LF = re.compile(rb"(?<!\r)\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _smtp_data(raw: RawMessage) -> Iterator[Base64Body]:
    """The message as DATA wants it, piece by piece: CRLF line ends, a line starting with "." doubled, and
    the final ".". A piece is copied only if it needs a fix; base64 bodies (`raw.base64_bodies`) cannot, and
    are not even scanned. A piece's first character is fixed in the context of the previous piece's last."""
    last = b"\n"  # the character before the piece ("\n": a line starts here)
    for index, piece in enumerate(raw.pieces):
        if not piece:
            continue
        if index not in raw.base64_bodies and not _clean(piece, at_line_start=last == b"\n"):
            # One character of context (CRLF for a line start) so that the regexes see where the piece
            # starts; it is cut off again afterwards.
            context = {b"\n": b"\r\n", b"\r": b"\r"}.get(last, b"-")
            piece = _LEADING_DOT.sub(b"..", _BARE_LF.sub(b"\r\n", context + piece))[len(context) :]
        yield piece
        last = bytes(piece[-1:])
    yield b".\r\n" if last == b"\n" else b"\r\n.\r\n"


def _clean(piece: Base64Body, *, at_line_start: bool) -> bool:
    """No bare LF and no line starting with "." (`count`/`find` scan at memchr speed, far faster than a
    regex)."""
    return (
        piece.count(b"\n") == piece.count(b"\r\n")
        and b"\n." not in piece
        and not (at_line_start and piece.startswith(b"."))
    )


class _Transient(Exception):
    def __init__(self, reason: str, *, drop_connection: bool, ambiguous: bool = False) -> None:
        super().__init__(reason)
        self.drop_connection = drop_connection
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    tls: Literal["starttls", "tls"] = "starttls"
    ca_file: str | None = None
    timeout: float = 10.0
    local_hostname: str = "posthorn"  # never let smtplib resolve our own FQDN on a cold start


class _Connection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.last_used = time.monotonic()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.smtp.close()


class PendingCredentials:
    """The SMTP username and password, given once they are read: `__call__` waits for them (AUTH is the
    only step that needs them)."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: tuple[str, str] | None = None

    def give(self, username: str, password: str) -> None:
        self._value = (username, password)
        self._ready.set()

    def withdraw(self) -> None:
        """They could not be read: whoever waits gives up."""
        self._ready.set()

    def __call__(self) -> tuple[str, str]:
        self._ready.wait()
        if self._value is None:
            raise DeliveryUnavailable("the SES SMTP secret could not be read")
        return self._value


def _close_opened(opening: Future[_Connection]) -> None:
    """A connection opened ahead that no send took."""
    if opening.exception() is None:
        opening.result().close()


class SesSmtpTransport:
    """A pool of authenticated SMTP connections to SES, safe to share between threads."""

    max_idle = 8.0
    check_after_idle = 1.0
    backoff_base = 0.2
    backoff_cap = 2.0
    max_pooled = 8

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        credentials: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        # What AUTH sends: the settings' username and password, or a `PendingCredentials` still being read.
        self._credentials = credentials or (lambda: (settings.username, settings.password))
        self._idle: list[_Connection] = []
        self._ahead: Future[_Connection] | None = None
        self._lock = threading.Lock()
        self._context = ssl.create_default_context(cafile=settings.ca_file)
        self.connections_opened = 0

    def open_ahead(self) -> None:
        """Open a connection on a thread of its own, for the next send to take (waiting for it if it is
        still opening). If it fails, that send opens its own as usual and meets the failure itself."""
        opening: Future[_Connection] = Future()
        with self._lock:
            if self._ahead is not None or self._idle:
                return
            self._ahead = opening

        def run() -> None:
            try:
                connection = self._open(self.settings.timeout)
            except BaseException as error:  # handed to the send that takes the connection
                opening.set_exception(error)
                return
            connection.last_used = self._clock()
            opening.set_result(connection)

        threading.Thread(target=run, name="smtp-ahead", daemon=True).start()

    # --- public ------------------------------------------------------------------------------------
    def send(
        self, mail_from: str, rcpt_to: list[str], raw: RawMessage, *, deadline: float
    ) -> DeliveryReceipt:
        attempt = 0
        ambiguous = False
        while True:
            connection: _Connection | None = None
            timeout = max(0.5, min(self.settings.timeout, deadline - self._clock()))
            try:
                connection = self._acquire(timeout)
                receipt = self._transaction(connection, mail_from, rcpt_to, raw)
            except _Transient as failure:
                ambiguous = ambiguous or failure.ambiguous
                if connection is not None:
                    self._discard(connection) if failure.drop_connection else self._release(connection)
                delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)
                if self._clock() + delay >= deadline:
                    raise DeliveryUnavailable(str(failure)) from None
                self._sleep(delay)
                attempt += 1
                continue
            except DeliveryRejected:
                if connection is not None:
                    self._release(connection)
                raise
            self._release(connection)
            return receipt._replace(after_ambiguous_drop=ambiguous)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.add_done_callback(_close_opened)
        for connection in idle:
            try:
                connection.smtp.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    # --- the pool ----------------------------------------------------------------------------------
    def _acquire(self, timeout: float) -> _Connection:
        """A live connection whose socket waits at most `timeout` seconds for any reply."""
        with self._lock:
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            # Waited for as long as any reply; one that failed (or is that slow) is opened again below,
            # where the failure counts and the deadline applies.
            try:
                failed = ahead.exception(timeout=timeout)
            except TimeoutError:
                ahead.add_done_callback(_close_opened)
            else:
                if failed is None:
                    with self._lock:
                        self._idle.append(ahead.result())  # checked below like any idle connection
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._open(timeout)
            if connection.smtp.sock is not None:
                connection.smtp.sock.settimeout(timeout)
            idle_for = self._clock() - connection.last_used
            if idle_for > self.max_idle:
                connection.close()
                continue
            if idle_for > self.check_after_idle and not self._alive(connection):
                connection.close()
                continue
            return connection

    def _release(self, connection: _Connection) -> None:
        connection.last_used = self._clock()
        with self._lock:
            if len(self._idle) < self.max_pooled:
                self._idle.append(connection)
                return
        connection.close()

    def _discard(self, connection: _Connection) -> None:
        connection.close()

    @staticmethod
    def _alive(connection: _Connection) -> bool:
        try:
            return connection.smtp.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _open(self, timeout: float) -> _Connection:
        opened: list[smtplib.SMTP] = []
        try:
            smtp = self._connect(opened, timeout)
        except BaseException:
            for half_open in opened:  # failed STARTTLS or AUTH: close the socket, never leak it
                _Connection(half_open).close()
            raise
        self.connections_opened += 1
        return _Connection(smtp)

    def _connect(self, opened: list[smtplib.SMTP], timeout: float) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.tls == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=s.local_hostname, timeout=timeout, context=self._context
                )
                opened.append(smtp)
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=timeout)
                opened.append(smtp)
                smtp.ehlo()
                smtp.starttls(context=self._context)
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            username, password = self._credentials()
            smtp.login(username, password)
        except smtplib.SMTPAuthenticationError as error:
            if error.smtp_code < 500:  # e.g. 454 Temporary authentication failure: retry
                raise _Transient(
                    f"{error.smtp_code} {_text(error.smtp_error)} (after AUTH)", drop_connection=True
                ) from None
            raise DeliveryUnavailable(
                f"SES refused Posthorn's SMTP credentials ({error.smtp_code} {_text(error.smtp_error)}): "
                "check the SES SMTP secret"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise DeliveryUnavailable(f"the SMTP server's certificate did not verify: {error}") from None
        except smtplib.SMTPResponseException as error:
            raise _Transient(f"{error.smtp_code} {_text(error.smtp_error)}", drop_connection=True) from None
        except (smtplib.SMTPException, OSError) as error:
            raise _Transient(f"cannot connect to {s.host}:{s.port}: {error}", drop_connection=True) from None
        return smtp

    # --- one transaction ---------------------------------------------------------------------------
    def _transaction(
        self, connection: _Connection, mail_from: str, rcpt_to: list[str], raw: RawMessage
    ) -> DeliveryReceipt:
        smtp = connection.smtp
        data = list(_smtp_data(raw))
        size = sum(len(piece) for piece in data) - 3  # SIZE counts the message, not the final ".\r\n"
        advertised = smtp.esmtp_features.get("size", "") if smtp.has_extn("size") else ""
        if advertised.isdigit() and 0 < int(advertised) < size:
            raise DeliveryRejected(552, f"the message is {size} bytes; the server takes at most {advertised}")
        phase = "MAIL"
        try:
            options = [f"SIZE={size}"] if smtp.has_extn("size") else []
            _expect(smtp.mail(mail_from, options), "MAIL FROM", smtp)
            phase = "RCPT"
            refused: dict[str, str] = {}
            for recipient in rcpt_to:
                code, reply = smtp.rcpt(recipient)
                if code >= 500:
                    refused[recipient] = f"{code} {_text(reply)}"
                elif code not in (250, 251):
                    _expect((code, reply), "RCPT TO", smtp)
            if len(refused) == len(rcpt_to):
                smtp.rset()
                first = next(iter(refused.values()))
                raise DeliveryRejected(int(first[:3]), f"every recipient was refused: {first[4:]}")
            phase = "DATA"
            _expect(smtp.docmd("DATA"), "DATA", smtp, wanted=354)
            phase = "content"
            for piece in data:
                smtp.send(piece)
            phase = "final reply"
            code, reply = smtp.getreply()
        except smtplib.SMTPServerDisconnected as error:
            raise _Transient(
                f"connection lost during {phase}: {error}",
                drop_connection=True,
                ambiguous=phase == "final reply",
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise _Transient(
                f"{phase} failed: {error}", drop_connection=True, ambiguous=phase == "final reply"
            ) from None
        if code != 250:
            _raise_for(code, reply, "end of DATA", smtp)
        match = _SES_ID.match(reply)
        if match is None:
            raise DeliveryRejected(code, f"unexpected reply to DATA, no SES message id: {_text(reply)}")
        return DeliveryReceipt(ses_message_id=match.group(1).decode("ascii"), refused=refused)


def _expect(reply: tuple[int, bytes], command: str, smtp: smtplib.SMTP, wanted: int = 250) -> None:
    code, text = reply
    if code != wanted:
        _raise_for(code, text, command, smtp)


def _raise_for(code: int, text: bytes, command: str, smtp: smtplib.SMTP) -> None:
    message = f"{code} {_text(text)} (after {command})"
    if 400 <= code < 500:
        # 421 means SES is closing the connection; others leave it usable after RSET.
        if code != 421:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                raise _Transient(message, drop_connection=True) from None
        raise _Transient(message, drop_connection=code == 421)
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()
    raise DeliveryRejected(code, f"{_text(text)} (after {command})")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def transport_from_settings(settings: SesSmtpSettings) -> SesSmtpTransport:
    """The transport the settings describe, with the SMTP credentials from Secrets Manager; its first
    connection opening while they are read. If the read fails, so does this (as before the connection
    ahead): the connection gives up at AUTH."""
    from posthorn.adapters.secrets import secret_json

    credentials = PendingCredentials()
    transport = SesSmtpTransport(
        SmtpSettings(
            host=settings.ses_smtp_host,
            port=settings.ses_smtp_port,
            tls=settings.ses_smtp_tls,
            username="",
            password="",
            ca_file=settings.ses_smtp_ca_file,
            timeout=settings.ses_smtp_timeout_seconds,
        ),
        credentials=credentials,
    )
    transport.open_ahead()
    try:
        secret = secret_json(settings.ses_smtp_secret_id)
    except BaseException:
        credentials.withdraw()
        raise
    credentials.give(secret["username"], secret["password"])
    return transport
