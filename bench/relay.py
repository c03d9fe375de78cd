"""Figures 6 and 7, the SMTP relay: its throughput against the floor for a durable `250`, and its memory with
20 large messages in flight at once.

The relay is `posthorn_local.relay.LocalRelay` (the container's `build_relay`, on loopback) in a process of
its own, its store and queue replaced through `posthorn.wiring` by `InMemoryStore`: state in memory, every
call answered after STORE_LATENCY (an in-region DynamoDB or SQS round trip, as the worker's figure assumes),
waiting without the interpreter lock, as on a socket. The relay's own caches (domain records, small
suppression lists, an open session's credential) keep their deployed default (`RelaySettings.cache_seconds`,
at most 1 s); a credential is also read at every AUTH, once per connection. The clients are smtplib
connections on threads of this process, every one as `smtplib.sendmail` talks (EHLO, STARTTLS, EHLO, AUTH
PLAIN once; then MAIL with SIZE, RCPT, DATA per message), timed from the moment all are ready until the last
has sent QUIT.

- 6, throughput: MESSAGES small messages (about 1 KB, one recipient, a Message-ID of their own) over
  CONNECTIONS connections. Baseline, the floor: the same clients and messages against a bare aiosmtpd sink
  in a process of its own, with the relay's TLS context (same certificate) and AUTH, whose DATA handler waits
  one STORE_LATENCY (`asyncio.sleep`) before its 250: the least a 250 that waits for one durable write
  costs. The sink without the wait is in the details (context), with the time from the end of DATA to the
  250 (p50/p99; the message and its final "." go in one write, timed from that write to the reply).
- 7, memory: MEMORY_CLIENTS clients, connected and authenticated, each send one MEMORY_MESSAGE_BYTES message
  (a base64 attachment in 76-character lines, as mail clients write them) at once, to a fresh relay process
  warmed by one small message. Peak: the relay process's VmHWM, reset at idle (`clear_refs`), over its idle
  VmRSS; against the bytes in flight (MEMORY_CLIENTS x the message). The queue stand-in keeps only each
  message's size, so what is measured is what the relay itself holds.
Alone: `python bench/relay.py` (`--json` for bench/run.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import smtplib
import ssl
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.report import Row, run
from bench.services import kib, reset_peak, service

MESSAGES = 1000
CONNECTIONS = 8
ROUNDS = int(os.environ.get("BENCH_RELAY_ROUNDS", "3"))
# A conditional write or SendMessage in-region: single-digit milliseconds (the worker's figure's too).
STORE_LATENCY = 0.006
# Two rounds of store calls per message since the guarantees (issue 18): the claim, the rate and the record,
# then the queue message; against a floor of one round.
THROUGHPUT_TARGET = 0.5
MEMORY_CLIENTS = 20
MEMORY_MESSAGE_BYTES = 10 * 2**20
MEMORY_TARGET = 2.0

USERNAME = "ph_bench"
SECRET = "bench-relay-secret"
PEPPER = b"bench-relay-pepper"
SENDER = "hello@example.com"
# What `posthorn.settings.SubmissionSettings` requires of the relay's environment; nothing here is called.
RELAY_ENVIRONMENT = {
    "TABLE_NAME": "bench-relay",
    "BUCKET_NAME": "bench-relay-files",
    "SEND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-relay",
    "PEPPER_SECRET_ID": "bench-relay-pepper",
    **{
        f"CONFIGURATION_SET_{kind}": f"bench-relay-{kind.lower()}"
        for kind in ("PLAIN", "OPENS", "CLICKS", "OPENS_CLICKS")
    },
}
SMALL_BODY = "".join(
    f"Line {n} of your receipt: one item, one price, one line of text to read.\n" for n in range(14)
)


class InMemoryStore:
    """Every store and queue port the relay calls through `posthorn.wiring` (credentials, domains,
    suppressions, rate limits, idempotency, messages, the send queue), as network services: state in
    memory, every call answered after `latency` seconds. The queue keeps each message's size, not its
    bytes. Nobody is suppressed and the rate always admits."""

    def __init__(self, latency: float) -> None:
        from posthorn.logic.accounts.credentials import hash_secret
        from posthorn.models.credentials import Credential, CredentialStatus, Permission
        from posthorn.models.domains import DomainRecord, DomainStatus

        created = datetime(2026, 1, 1, tzinfo=UTC)
        self.latency = latency
        self.credentials = {
            USERNAME: Credential(
                username=USERNAME,
                secret_hash=hash_secret(PEPPER, USERNAME, SECRET),
                name="bench",
                domains=["example.com"],
                permissions=[Permission.SEND],
                status=CredentialStatus.ACTIVE,
                created_at=created,
            )
        }
        self.domains = {
            "example.com": DomainRecord(
                domain="example.com", status=DomainStatus.VERIFIED, dns_records=[], created_at=created
            )
        }
        self.claims: dict[str, Any] = {}  # scope -> IdempotencyRecord
        self.records: dict[str, Any] = {}  # message id -> MessageRecord
        self.queued: dict[str, int] = {}  # message id -> bytes
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _call(self, name: str) -> None:
        time.sleep(self.latency)
        with self._lock:
            self.calls[name] += 1

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "records": len(self.records),
                "queued": len(self.queued),
                "queued_bytes": sum(self.queued.values()),
                "calls": dict(self.calls),
            }

    # CredentialStore, SenderDomains, SuppressionLookup
    def get_credential(self, username: str) -> Any:
        self._call("get_credential")
        return self.credentials.get(username)

    def get_domain(self, domain: str) -> Any:
        self._call("get_domain")
        return self.domains.get(domain)

    def suppressed_addresses(self, domain: str, emails: Any) -> set[str]:
        self._call("suppressed_addresses")
        return set()

    def suppressed_snapshot(self, domain: str, *, limit: int) -> set[str] | None:
        self._call("suppressed_snapshot")
        return set()

    # RateStore
    def advance(
        self, key: str, *, now_us: int, cost_us: int, latest_start_us: int | None
    ) -> tuple[bool, int]:
        self._call("advance")
        return True, now_us + cost_us

    # IdempotencyStore
    def claim(
        self, scope_key: str, fingerprint: str, *, now: int, lease_seconds: int, ttl_seconds: int
    ) -> Any:
        from posthorn.models.idempotency import IdempotencyRecord

        self._call("claim")
        with self._lock:
            found = self.claims.get(scope_key)
            if found is None:
                self.claims[scope_key] = IdempotencyRecord(fingerprint, None)
            return found

    def complete(self, scope_key: str, response: Any, *, expires_at: int) -> None:
        self._call("complete")
        with self._lock:
            self.claims[scope_key] = self.claims[scope_key]._replace(response=response)

    def release(self, scope_key: str) -> None:
        self._call("release")
        with self._lock:
            self.claims.pop(scope_key, None)

    # MessageRecorder, SendQueue
    def create_message(self, record: Any) -> None:
        self._call("create_message")
        with self._lock:
            self.records[record.message_id] = record

    def discard_message(self, message_id: str) -> None:
        self._call("discard_message")
        with self._lock:
            self.records.pop(message_id, None)

    def mark_failed(self, message_id: str, reason: str, emails: Any = ()) -> None:
        self._call("mark_failed")
        with self._lock:
            self.records[message_id] = self.records[message_id].model_copy(update={"error": reason})

    def withdraw(self, message_id: str, reason: str) -> bool:
        self._call("withdraw")
        return True

    def enqueue(self, messages: list[Any]) -> set[str]:
        self._call("enqueue")
        with self._lock:
            for queued in messages:
                self.queued[queued.message_id] = len(queued.raw)
        return set()


# --- the services, each in a process of its own ----------------------------------------------------------
def _serve_relay(commands: Connection, cert_file: str, key_file: str, latency: float) -> None:
    """The relay with `InMemoryStore` behind every port. Commands: `idle` (collect, note VmRSS, reset the
    peak: answers the idle KiB), `report` (RSS, peak and the store's counts), `stop`."""
    os.environ.update(RELAY_ENVIRONMENT)
    import gc

    from posthorn import wiring
    from posthorn_local.relay import LocalRelay

    store = InMemoryStore(latency)
    for factory in (
        wiring.credentials,
        wiring.domains,
        wiring.suppressions,
        wiring.rate_limits,
        wiring.idempotency,
        wiring.messages,
        wiring.send_queue,
    ):
        wiring.override(factory, store)
    wiring.override(wiring.pepper, PEPPER)
    wiring.override(wiring.file_cache, None)  # no message names a cached file
    with LocalRelay(cert_file=Path(cert_file), key_file=Path(key_file)) as relay:
        commands.send(relay.starttls_port)
        while True:
            command = commands.recv()
            if command == "stop":
                return
            if command == "idle":
                gc.collect()
                idle = kib("VmRSS")
                reset_peak()
                commands.send(idle)
            elif command == "report":
                commands.send({"rss_kib": kib("VmRSS"), "peak_kib": kib("VmHWM"), **store.report()})


class _Sink:
    """A bare aiosmtpd handler: each message is counted and answered 250, after `wait` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.wait:
            await asyncio.sleep(self.wait)
        self.received += 1
        return "250 2.0.0 Ok: queued"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    login, password = getattr(auth_data, "login", b""), getattr(auth_data, "password", b"")
    return AuthResult(success=(login, password) == (USERNAME.encode(), SECRET.encode()))


def _serve_sink(commands: Connection, cert_file: str, key_file: str, wait: float) -> None:
    """The sink on loopback: the relay's TLS context (same certificate and settings), STARTTLS required,
    AUTH PLAIN and LOGIN after it. Commands: `count`, `stop`."""
    asyncio.run(_sink(commands, cert_file, key_file, wait))


async def _sink(commands: Connection, cert_file: str, key_file: str, wait: float) -> None:
    import logging

    from aiosmtpd.smtp import SMTP

    from smtp_relay.tls import Certificates, from_files

    mail_log = logging.getLogger("mail.log")  # aiosmtpd's: every command's arguments at INFO
    mail_log.setLevel(logging.WARNING)
    # ... and at every successful AUTH that `Session.login_data`, which it sets itself, is deprecated.
    mail_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    context = Certificates(from_files(cert_file, key_file)).context
    handler = _Sink(wait)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            authenticator=_authenticator,
        ),
        "127.0.0.1",
        0,
    )
    commands.send(server.sockets[0].getsockname()[1])
    while True:
        command = await loop.run_in_executor(None, commands.recv)
        if command == "stop":
            break
        if command == "count":
            commands.send(handler.received)
    server.close()
    await server.wait_closed()


# --- the clients ------------------------------------------------------------------------------------------
def _quoted(raw: bytes) -> bytes:
    """DATA's bytes as smtplib sends them: a leading dot doubled, ending <CRLF>.<CRLF>."""
    data = re.sub(rb"(?m)^\.", b"..", raw)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def small_message(index: int, round_: int) -> tuple[str, list[bytes]]:
    recipient = f"user{index}@example.net"
    mail = EmailMessage()
    mail["From"] = f"App <{SENDER}>"
    mail["To"] = recipient
    mail["Subject"] = f"Your receipt {index}"
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = f"<bench-{round_}-{index}-{os.getpid()}@example.com>"
    mail.set_content(SMALL_BODY)
    return recipient, [_quoted(mail.as_bytes(policy=SMTP_POLICY))]


def large_body(size: int) -> tuple[str, bytes]:
    """The header fields shared by the large messages (MIME) and their body: a short text part and a
    random attachment in base64 lines, about `size` bytes in all."""
    boundary = "bench-relay-boundary"
    attachment = os.urandom((size - 1024) * 57 // 78)
    encoded = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour report is attached.\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="report.pdf"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + encoded
    body += f"--{boundary}--\r\n".encode()
    return f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n', body


def large_message(index: int, fields: str, quoted_body: bytes) -> tuple[str, list[bytes]]:
    recipient = f"reader{index}@example.net"
    head = (
        f"From: App <{SENDER}>\r\nTo: {recipient}\r\nSubject: Report {index}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <bench-large-{index}-{os.getpid()}@example.com>\r\n{fields}\r\n"
    )
    return recipient, [head.encode(), quoted_body]


@contextlib.contextmanager
def connected(port: int, ca_file: str) -> Iterator[smtplib.SMTP]:
    context = ssl.create_default_context(cafile=ca_file)
    with smtplib.SMTP("localhost", port, local_hostname="bench", timeout=120) as smtp:
        smtp.starttls(context=context)
        smtp.login(USERNAME, SECRET)
        yield smtp


def transaction(smtp: smtplib.SMTP, recipient: str, data: Sequence[bytes]) -> float:
    """MAIL (with SIZE), RCPT, DATA and the message, as `smtplib.sendmail` sends them; the seconds from
    writing the last piece (which ends with the final ".") to the reply, which must be 250."""
    size = sum(len(piece) for piece in data) - len(b".\r\n")  # as written (no line here starts with a dot)
    for command in (lambda: smtp.mail(SENDER, [f"SIZE={size}"]), lambda: smtp.rcpt(recipient)):
        code, reply = command()
        if code != 250:
            raise RuntimeError(f"{code} {reply!r}")
    code, reply = smtp.docmd("data")
    if code != 354:
        raise RuntimeError(f"DATA: {code} {reply!r}")
    for piece in data[:-1]:
        smtp.send(piece)
    started = time.perf_counter()
    smtp.send(data[-1])
    code, reply = smtp.getreply()
    waited = time.perf_counter() - started
    if code != 250:
        raise RuntimeError(f"end of DATA: {code} {reply!r}")
    return waited


def in_threads(
    port: int, ca_file: str, shares: Sequence[Sequence[tuple[str, list[bytes]]]], *, connect_first: bool
) -> tuple[float, list[float]]:
    """One connection per share, each on a thread, sending its share; the seconds from the moment all are
    ready (connected and authenticated first, if told) until the last has quit, and every end-of-DATA wait."""
    ready = threading.Barrier(len(shares) + 1)
    waits: list[list[float]] = [[] for _ in shares]
    ends = [0.0] * len(shares)
    failures: list[Exception] = []

    def connection(index: int) -> None:
        try:
            if not connect_first:
                ready.wait()
            with connected(port, ca_file) as smtp:
                if connect_first:
                    ready.wait()
                for recipient, data in shares[index]:
                    waits[index].append(transaction(smtp, recipient, data))
        except Exception as failure:
            failures.append(failure)
            ready.abort()
        ends[index] = time.perf_counter()

    threads = [threading.Thread(target=connection, args=(index,)) for index in range(len(shares))]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: raised below
        ready.wait(timeout=120)
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"a client failed: {failures[0]!r}") from failures[0]
    return max(ends) - started, [wait for share in waits for wait in share]


# --- the figures ------------------------------------------------------------------------------------------
def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values, 0.5) * 1000, 1),
        "p99": round(_percentile(values, 0.99) * 1000, 1),
    }


def throughput(tls: Any) -> Row:
    cert, key, ca = str(tls.cert_file), str(tls.key_file), str(tls.ca_file)
    seconds: dict[str, list[float]] = {"relay": [], "floor": [], "sink": []}
    waits: dict[str, list[float]] = {"relay": [], "floor": [], "sink": []}
    checks: list[tuple[int, int]] = []  # per round: records stored, messages queued
    calls: list[Counter[str]] = []  # per round: the relay's store calls
    with (
        service("the relay", _serve_relay, cert, key, STORE_LATENCY) as (relay, relay_port),
        service("the sink", _serve_sink, cert, key, STORE_LATENCY) as (floor, floor_port),
        service("the sink without wait", _serve_sink, cert, key, 0.0) as (sink, sink_port),
    ):
        ports = {"relay": relay_port, "floor": floor_port, "sink": sink_port}
        for round_ in range(ROUNDS):
            messages = [small_message(index, round_) for index in range(MESSAGES)]
            shares = [messages[i::CONNECTIONS] for i in range(CONNECTIONS)]
            relay.send("report")
            before = relay.recv()
            for name, port in ports.items():
                took, waited = in_threads(port, ca, shares, connect_first=False)
                seconds[name].append(took)
                waits[name] += waited
            relay.send("report")
            after = relay.recv()
            calls.append(Counter(after["calls"]))
            calls[-1].subtract(before["calls"])
            checks.append((after["records"] - before["records"], after["queued"] - before["queued"]))
        received = {}
        for name, commands in (("floor", floor), ("sink", sink)):
            commands.send("count")
            received[name] = commands.recv()

    rates = {name: MESSAGES / statistics.median(values) for name, values in seconds.items()}
    ratio = rates["relay"] / rates["floor"]
    complete = all(check == (MESSAGES, MESSAGES) for check in checks) and all(
        count == ROUNDS * MESSAGES for count in received.values()
    )
    return Row(
        figure=f"6. relay throughput: {MESSAGES:,} messages over {CONNECTIONS} connections",
        ours=round(rates["relay"], 1),
        baseline=round(rates["floor"], 1),
        unit="msg/s",
        ratio=round(ratio, 2),
        target=f">= {THROUGHPUT_TARGET}x a sink waiting {STORE_LATENCY * 1000:.0f} ms",
        passed=complete and ratio >= THROUGHPUT_TARGET,
        details={
            "relay_s": [round(s, 2) for s in seconds["relay"]],
            "floor_s": [round(s, 2) for s in seconds["floor"]],
            "sink_without_wait_msg_s": round(rates["sink"], 1),
            "relay_end_of_data_to_250_ms": _ms(waits["relay"]),
            "floor_end_of_data_to_250_ms": _ms(waits["floor"]),
            "store_latency_ms": STORE_LATENCY * 1000,
            "relay_recorded_queued": checks,
            "relay_store_calls_per_message": {k: round(v / MESSAGES, 2) for k, v in calls[-1].items() if v},
            "sinks_received": received,
        },
    )


def memory(tls: Any) -> Row:
    cert, key, ca = str(tls.cert_file), str(tls.key_file), str(tls.ca_file)
    fields, body = large_body(MEMORY_MESSAGE_BYTES)
    quoted = _quoted(body)
    messages = [large_message(index, fields, quoted) for index in range(MEMORY_CLIENTS)]
    message_bytes = statistics.mean(len(pieces[0]) + len(body) for _, pieces in messages)
    in_flight = MEMORY_CLIENTS * message_bytes
    with service("the relay", _serve_relay, cert, key, STORE_LATENCY) as (relay, port):
        in_threads(port, ca, [[small_message(0, -1)]], connect_first=False)  # warm: TLS, AUTH, a message
        relay.send("idle")
        idle_kib = relay.recv()
        took, waited = in_threads(port, ca, [[message] for message in messages], connect_first=True)
        relay.send("report")
        report = relay.recv()
    peak = (report["peak_kib"] - idle_kib) * 1024
    ratio = peak / in_flight
    complete = report["queued"] == MEMORY_CLIENTS + 1 and len(waited) == MEMORY_CLIENTS
    return Row(
        figure=f"7. memory: relay receives {MEMORY_CLIENTS} messages of 10 MB at once (peak over idle)",
        ours=round(peak / 2**20, 1),
        baseline=round(in_flight / 2**20, 1),
        unit="MiB",
        ratio=round(ratio, 2),
        target=f"<= {MEMORY_TARGET:.0f}x in flight",
        passed=complete and ratio <= MEMORY_TARGET,
        details={
            "idle_mib": round(idle_kib / 1024, 1),
            "peak_mib": round(report["peak_kib"] / 1024, 1),
            "after_mib": round(report["rss_kib"] / 1024, 1),
            "message_bytes": round(message_bytes),
            "seconds": round(took, 1),
            "queued": report["queued"],
        },
    )


def main() -> list[Row]:
    from posthorn_local.tls import make_tls_material

    with tempfile.TemporaryDirectory(prefix="bench-relay-") as name:
        tls = make_tls_material(Path(name))
        return [throughput(tls), memory(tls)]


if __name__ == "__main__":
    run(main)
