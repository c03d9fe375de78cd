"""A real webhook endpoint on loopback, as a customer would write one: it verifies every request with the
`standardwebhooks` and `svix` libraries and records what came. Each path answers from its own script (a
list of statuses, the last repeating; `delay` seconds before answering), so a test can make one endpoint
fail and then succeed, answer 410, or be slow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks
import svix


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    at: float
    verified_by: dict[str, bool]  # library -> whether it verified (with the secret the path expects)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Script:
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    secrets: list[str] = field(default_factory=list)  # the secrets a request must verify with (each)


class WebhookReceiver:
    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                status, delay = receiver._record(self.path, dict(self.headers.items()), body)
                if delay:
                    time.sleep(delay)
                answer = b'{"ok": true}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                if status in (429, 503):
                    self.send_header("retry-after", "1")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *statuses: int, delay: float = 0.0, secrets: list[str] | None = None) -> None:
        self.scripts[path] = Script(list(statuses) or [200], delay, list(secrets or []))

    def expect_secrets(self, path: str, *secrets: str) -> None:
        self.scripts.setdefault(path, Script()).secrets = list(secrets)

    def _record(self, path: str, headers: dict[str, str], body: str) -> tuple[int, float]:
        with self._lock:
            script = self.scripts.setdefault(path, Script())
            verified = {}
            for name, library in (("standardwebhooks", standardwebhooks.Webhook), ("svix", svix.Webhook)):
                try:
                    for secret in script.secrets:
                        library(secret).verify(body, headers)
                    verified[name] = bool(script.secrets)
                except Exception:
                    verified[name] = False
            self.received.append(
                Received(path, {k.lower(): v for k, v in headers.items()}, body, time.time(), verified)
            )
            status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
            return status, script.delay

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.on(path))} of {count} deliveries to {path} within {timeout} s")


@contextmanager
def running_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)


def run_sender(payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook sender's handler, invoked as Lambda would with `payload` (a prompt batch or the sweep)."""
    from posthorn_local.apigw import LambdaContext
    from webhook_sender.handler import lambda_handler

    return dict(lambda_handler(payload, LambdaContext(function_name="webhook-sender")))
