"""The SMTP relay as the local stack and the tests run it: the same `build_relay` the container runs, on an
event loop of its own in a background thread, on loopback ports (0: any free one)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from posthorn.settings import Settings, hold, running
from smtp_relay.__main__ import build_relay
from smtp_relay.server import Relay
from smtp_relay.settings import RelaySettings
from smtp_relay.tls import Certificates, from_files

HOST = "127.0.0.1"


class LocalRelay:
    """`start()` / `stop()`, or use as a context manager. Its adapters come from `posthorn.wiring`, so the
    environment must point at the stack's AWS before it starts. Its send path reads `send_settings` on every
    thread of its own (the local stack's: the relay task's environment), else the process's environment."""

    def __init__(
        self,
        *,
        cert_file: Path,
        key_file: Path,
        starttls_port: int = 0,
        tls_port: int = 0,
        send_settings: Settings | None = None,
        **settings: Any,
    ) -> None:
        self.send_settings = send_settings
        self.settings = RelaySettings.model_validate(
            {
                "hostname": "localhost",
                "host": HOST,
                "starttls_ports": [starttls_port],
                "tls_ports": [tls_port],
                "health_port": 0,  # none: the local stack has no load balancer
                "tls_cert_file": str(cert_file),
                "tls_key_file": str(key_file),
                **settings,
            }
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="smtp-relay", daemon=True)
        self._threads = ThreadPoolExecutor(
            self.settings.threads, "relay", initializer=hold, initargs=(send_settings,)
        )
        self._writes = ThreadPoolExecutor(
            self.settings.threads * 4, "relay-w", initializer=hold, initargs=(send_settings,)
        )
        self.relay: Relay | None = None

    @property
    def starttls_port(self) -> int:
        assert self.relay is not None, "the relay is not running"
        return self.relay.ports["starttls"][0]

    @property
    def tls_port(self) -> int:
        assert self.relay is not None, "the relay is not running"
        return self.relay.ports["tls"][0]

    def _run_loop(self) -> None:
        hold(self.send_settings)
        self._loop.run_forever()

    def start(self) -> LocalRelay:
        certs = Certificates(from_files(self.settings.tls_cert_file, self.settings.tls_key_file))
        self._thread.start()
        # The relay's tasks and callbacks copy the context they are started from: this one.
        with running(self.send_settings):
            self.relay = build_relay(self.settings, certs, self._threads, self._writes)
            asyncio.run_coroutine_threadsafe(self.relay.start(), self._loop).result(timeout=10)
        return self

    def stop(self, grace_seconds: float = 5.0) -> None:
        if self.relay is not None:
            stopping = asyncio.run_coroutine_threadsafe(self.relay.stop(grace_seconds), self._loop)
            stopping.result(timeout=grace_seconds + 10)
            self.relay = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        self._threads.shutdown(wait=True)
        self._writes.shutdown(wait=True)

    def __enter__(self) -> LocalRelay:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
