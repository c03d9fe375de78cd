"""The relay's own DATA reader (`RelaySMTP.smtp_DATA`, smtp_relay/server.py) against aiosmtpd's tests of
its `smtp_DATA`, ported: aiosmtpd 1.4.6's aiosmtpd/tests/test_smtpsmuggling.py (SMTP smuggling, added in
1.4.5) and the DATA tests of aiosmtpd/tests/test_smtp.py (github.com/aio-libs/aiosmtpd). Each test names the
upstream test it ports; where the relay answers otherwise on purpose, it says so and why.

The relay runs on loopback with a handler that keeps what DATA passes on (upstream's `ReceivingHandler`),
without TLS or AUTH (aiosmtpd's own checks, which the relay keeps). A client writes its bytes as they are,
then NOOP: the two replies it reads are the DATA's and the NOOP's, so a reply sent before the client ended
DATA, or a fake end of data that let what follows be read as commands, shows as another reply in between.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from smtp_relay import server
from smtp_relay.protection import ConnectionGate, MemoryBudget
from smtp_relay.server import (
    BARE_LINE_END,
    COPIES,
    NO_ROOM,
    OVER_DECLARED_SIZE,
    RESERVE_STEP,
    TOO_BIG,
    Listener,
    RelaySMTP,
)

LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
NOOP = "250 OK"


class Receiving:
    """Upstream's `aiosmtpd.testing.helpers.ReceivingHandler`: every message DATA passes on, as bytes."""

    def __init__(self) -> None:
        self.box: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.box.append(bytes(envelope.original_content or b""))
        return "250 OK"


async def _reply(reader: asyncio.StreamReader) -> str:
    lines = []
    while True:
        line = (await reader.readuntil(b"\r\n")).decode()
        lines.append(line[:-2])
        if line[3:4] != "-":
            return "\n".join(lines)


async def _converse(data: bytes, size: int | None, budget: MemoryBudget) -> tuple[list[str], list[bytes]]:
    handler = Receiving()
    listener = Listener(handler, ConnectionGate(10, 10), budget)  # type: ignore[arg-type]
    relay = await asyncio.get_running_loop().create_server(
        lambda: RelaySMTP(listener, implicit_tls=False, hostname="relay.test", auth_required=False),
        "127.0.0.1",
        0,
    )
    port = relay.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await _reply(reader)).startswith("220")
        mail = "MAIL FROM:<anne@example.com>" + (f" SIZE={size}" if size is not None else "")
        for command in ("EHLO client.test", mail, "RCPT TO:<bart@example.com>"):
            writer.write(command.encode() + b"\r\n")
            assert (await _reply(reader)).startswith("250"), command
        writer.write(b"DATA\r\n")
        replies = [await _reply(reader)]
        if replies[0].startswith("354"):
            writer.write(data)
            replies = [await _reply(reader)]
        writer.write(b"NOOP\r\n")
        replies.append(await _reply(reader))
        writer.write(b"QUIT\r\n")
        assert (await _reply(reader)).startswith("221")
    finally:
        writer.close()
        relay.close()
        await relay.wait_closed()
    return replies, handler.box


def data(
    payload: bytes, *, size: int | None = None, budget: MemoryBudget | None = None
) -> tuple[list[str], list[bytes]]:
    """DATA's bytes as the client writes them (its final "." line included), then NOOP: the replies to both
    (to DATA itself when it is refused before 354), and what DATA passed on."""
    budget = budget or MemoryBudget(2**30)
    return asyncio.run(asyncio.wait_for(_converse(payload, size, budget), 30))


def stuffed(mail: bytes) -> bytes:
    """As smtplib's `data()` sends a CRLF message: leading dots doubled, ended by CRLF "." CRLF."""
    lines = [b"." + line if line.startswith(b".") else line for line in mail.split(b"\r\n")]
    return b"\r\n".join(lines) + b"\r\n.\r\n"


@pytest.fixture
def data_size_limit(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Upstream's `@controller_data(data_size_limit=n)`: the relay's limit for a client that declares no
    SIZE (its answer names the real limit)."""
    return lambda limit: monkeypatch.setattr(server, "DATA_LIMIT", limit)


# --- aiosmtpd/tests/test_smtpsmuggling.py ----------------------------------------------------------------
def test_smtp_smuggling() -> None:
    """Upstream `TestSmuggling.test_smtp_smuggling`, byte for byte: `\\n.\\r\\n` must not end DATA. Upstream
    keeps "NO SMUGGLING" in the message; the relay refuses the message for its bare LFs (the next hop could
    read them as line ends, and the fake end with them), after the real end."""
    message = (
        b"From: Anne Person <anne@example.com>\r\nTo: Bart Person <bart@example.com>\r\n"
        b"Subject: A test\r\nMessage-ID: <ant>\r\n\r\nTesting\n.\r\nNO SMUGGLING\n\r\n.\r\n"
    )
    assert data(message) == ([BARE_LINE_END, NOOP], [])


@pytest.mark.parametrize(
    "fake_end",
    [b"\n.\r\n", b"\r.\r\n", b"\n.\n", b"\r.\n", b"\r\n.\r", b"\r\n.\n"],
    ids=["LF.CRLF", "CR.CRLF", "LF.LF", "CR.LF", "CRLF.CR", "CRLF.LF"],
)
def test_smtp_smuggling_with_each_fake_end_of_data(fake_end: bytes) -> None:
    """Upstream's test with the other fake ends of the SMTP smuggling report (SEC Consult, 2023), each
    followed by the commands a smuggler would want read: none ends DATA, none is passed on."""
    smuggled = (
        b"MAIL FROM:<anne@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
        b"Subject: smuggled\r\n\r\nsmuggled\r\n"
    )
    assert data(b"Subject: A test\r\n\r\nTesting" + fake_end + smuggled + b".\r\n") == (
        [BARE_LINE_END, NOOP],
        [],
    )


# --- aiosmtpd/tests/test_smtp.py -------------------------------------------------------------------------
def test_honors_mail_delimiters() -> None:
    """Upstream `TestProtocol.test_honors_mail_delimiters` passes `test\\r\\nmail\\rdelimiters\\nsaved\\r\\n`
    on unchanged; the relay refuses a bare CR or LF anywhere (its module docstring says why)."""
    assert data(b"test\r\nmail\rdelimiters\nsaved\r\n.\r\n") == ([BARE_LINE_END, NOOP], [])


def test_empty_email() -> None:
    """Upstream `TestProtocol.test_empty_email`."""
    assert data(b".\r\n") == (["250 OK", NOOP], [b""])


def test_dots_escaped() -> None:
    """Upstream `TestSMTPWithController.test_dots_escaped`: a stuffed lone dot arrives as one dot."""
    mail = b"Test\r\n.\r\nmail"
    assert data(stuffed(mail)) == (["250 OK", NOOP], [mail + b"\r\n"])


def test_too_long_message_body(data_size_limit: Any) -> None:
    """Upstream `TestSMTPWithController.test_too_long_message_body` (552; the relay's names the API code)."""
    data_size_limit(100)
    assert data(stuffed(b"\r\n".join([b"z" * 20] * 10))) == ([TOO_BIG, NOOP], [])


def test_too_long_message_body_over_the_declared_size() -> None:
    """The same against the SIZE the client declared at MAIL FROM (RFC 1870), which the relay holds it to."""
    assert data(stuffed(b"\r\n".join([b"z" * 76] * 40)), size=100) == ([OVER_DECLARED_SIZE, NOOP], [])


def test_data_line_too_long() -> None:
    """Upstream `TestSMTPWithController.test_data_line_too_long`."""
    assert data(stuffed(b"\r\n".join([b"a" * 5555] * 3))) == ([LINE_TOO_LONG, NOOP], [])


def test_long_line_double_count(data_size_limit: Any) -> None:
    """Upstream `TestSMTPWithController.test_long_line_double_count`: a line over the reader's limit is
    counted once, so it is too long, not too much."""
    data_size_limit(10000)
    assert data(stuffed(b"z" * 9998)) == ([LINE_TOO_LONG, NOOP], [])


def test_too_long_body_delay_error(data_size_limit: Any) -> None:
    """Upstream `TestSMTPWithController.test_too_long_body_delay_error`: the 552 comes once the client ended
    DATA (RFC 5321 4.2.5), not while it sends (upstream watches the socket for 0.1 s; here the NOOP's reply
    must follow it)."""
    data_size_limit(20)
    assert data(b"a" * 23 + b"\r\n" + b"\r\n.\r\n") == ([TOO_BIG, NOOP], [])


def test_too_long_line_delay_error() -> None:
    """Upstream `TestSMTPWithController.test_too_long_line_delay_error`: likewise for a long line."""
    assert data(b"a" * (SMTP.line_length_limit + 3) + b"\r\n.\r\n") == ([LINE_TOO_LONG, NOOP], [])


def test_too_long_body_then_too_long_lines(data_size_limit: Any) -> None:
    """Upstream `TestSMTPWithController.test_too_long_body_then_too_long_lines` answers 552, the limit it met
    first; the relay names a line over 1,000 octets before the size (SES would refuse that line, whatever
    the size), as it names a bare line end before either."""
    data_size_limit(700)
    mail = b"\r\n".join([b"z" * 76] * 10 + [b"a" * 1100] * 2)
    assert data(stuffed(mail)) == ([LINE_TOO_LONG, NOOP], [])


def test_too_long_lines_then_too_long_body(data_size_limit: Any) -> None:
    """Upstream `TestSMTPWithController.test_too_long_lines_then_too_long_body`."""
    data_size_limit(2000)
    assert data(stuffed(b"\r\n".join([b"z" * 1999] * 2))) == ([LINE_TOO_LONG, NOOP], [])


# --- the relay's own: the memory budget ------------------------------------------------------------------
@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "RESERVE_WAIT_SECONDS", 0.01)


@pytest.mark.usefixtures("short_wait")
def test_a_message_that_outgrows_the_memory_budget_is_452_once_the_client_ended_it() -> None:
    """Room for one step of message (`RESERVE_STEP`) and no more: the next step is refused, the message's
    bytes stop being kept, and the 452 follows the client's end of DATA."""
    budget = MemoryBudget(RESERVE_STEP * COPIES)
    mail = b"\r\n".join([b"z" * 76] * (RESERVE_STEP // 78 + 100))
    assert data(stuffed(mail), budget=budget) == ([NO_ROOM, NOOP], [])
    assert budget.used == 0  # given back whole


@pytest.mark.usefixtures("short_wait")
def test_data_is_452_before_354_when_the_budget_has_no_room_for_the_declared_size() -> None:
    budget = MemoryBudget(RESERVE_STEP * COPIES)
    asyncio.run(budget.reserve(RESERVE_STEP * COPIES, wait_seconds=0))
    assert data(stuffed(b"Hello"), size=100, budget=budget) == ([NO_ROOM, NOOP], [])
