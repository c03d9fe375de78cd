"""The services a benchmark talks to, each in a process of its own, as they are when deployed (SES and AWS
are elsewhere): their work does not share the measured process's interpreter lock or memory.

- `local_ses(...)`: the local SES (a real SMTP server with STARTTLS and AUTH, `posthorn_local`), with a
  reply delay standing in for the network round trip to SES.
- `moto_server()`: AWS as the moto server; the measured process points `AWS_ENDPOINT_URL` at it.
- `service(...)`: any other service a benchmark defines (the SMTP relay, a bare SMTP sink), the same way.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

_SPAWN = multiprocessing.get_context("spawn")


@dataclass
class SesProcess:
    port: int
    ca_file: Path
    username: str
    password: str
    _commands: Connection

    def outbox_count(self) -> int:
        self._commands.send("count")
        return int(self._commands.recv())

    def clear(self) -> None:
        self._commands.send("clear")
        self._commands.recv()


def _serve_ses(commands: Connection, directory: str, username: str, password: str, delay: float) -> None:
    from posthorn_local.ses_smtp_server import FaultPlan, LocalSes
    from posthorn_local.tls import make_tls_material

    tls = make_tls_material(Path(directory))
    faults = FaultPlan(reply_delay=delay)
    with LocalSes(username=username, password=password, tls=tls, mode="starttls", faults=faults) as ses:
        commands.send((ses.port, str(tls.ca_file)))
        while True:
            command = commands.recv()
            if command == "stop":
                return
            if command == "count":
                commands.send(len(ses.outbox))
            elif command == "clear":
                ses.outbox.clear()
                commands.send(None)


@contextmanager
def local_ses(directory: Path, *, reply_delay: float) -> Iterator[SesProcess]:
    username, password = "AKIABENCHSMTPUSER", "bench-smtp-password"
    with _served("the local SES", _serve_ses, str(directory), username, password, reply_delay) as (
        commands,
        (port, ca_file),
    ):
        yield SesProcess(int(port), Path(ca_file), username, password, commands)


def _serve_moto(commands: Connection) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    commands.send(server.get_host_and_port())
    commands.recv()  # until told to stop
    server.stop()


@contextmanager
def moto_server() -> Iterator[str]:
    """The moto server's URL, for AWS_ENDPOINT_URL."""
    with _served("the moto server", _serve_moto) as (_, (host, port)):
        yield f"http://{host}:{port}"


@contextmanager
def service(what: str, serve: Callable[..., None], *args: Any) -> Iterator[tuple[Connection, Any]]:
    """A benchmark's own service: `serve(commands, *args)` in a process of its own (a module-level function,
    for spawn), as `_served` runs the ones above: its command pipe and the first thing it sends."""
    with _served(what, serve, *args) as served:
        yield served


@contextmanager
def _served(what: str, serve: Callable[..., None], *args: Any) -> Iterator[tuple[Connection, Any]]:
    """`serve(commands, *args)` in a process of its own: the command pipe and the first thing it sends (where
    it listens) once it is ready; told to stop afterwards, killed if it does not."""
    ours, theirs = _SPAWN.Pipe()
    process = _SPAWN.Process(target=serve, args=(theirs, *args), daemon=True)
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError(f"{what} did not start")
        yield ours, ours.recv()
        ours.send("stop")
        process.join(timeout=10)
    finally:
        if process.is_alive():
            process.kill()
            process.join()


def kib(field: str) -> int:
    """VmRSS (current) or VmHWM (peak) of this process, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
