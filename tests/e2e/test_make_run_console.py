"""What `make run` shows in its terminal: the banner (again on Enter), one short line per request, and
nothing else: the functions' JSON logs and metrics and the libraries' warnings go to the log file. The banner
points at one UI, the console; `GET /_local/`, where a local page used to be, redirects to it."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "ph_consoleadmin.console-admin-secret-not-for-production-0123"
ACCESS_LINE = re.compile(r"^\d\d:\d\d:\d\d (GET|POST|PATCH|DELETE) \S+ \d{3} \(\d+ ms\)$")


class Console:
    """The stack's process with its stdout read line by line as it comes."""

    def __init__(self, log_file: Path) -> None:
        env = {
            **os.environ,
            "POSTHORN_PORT": "0",
            "POSTHORN_SMTP_PORT": "0",
            "POSTHORN_SMTPS_PORT": "0",
            "POSTHORN_ADMIN_KEY": ADMIN_KEY,
            "POSTHORN_LOG_FILE": str(log_file),
            "PYTHONPATH": os.pathsep.join(
                str(ROOT / part)
                for part in ("layers/posthorn", "functions/send", "functions/bounce", "functions/worker")
            )
            + os.pathsep
            + os.pathsep.join(str(ROOT / part) for part in ("services/smtp_relay", "local", ".")),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "posthorn_local"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, *, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if re.search(pattern, line)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} x{count} not printed; console:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self._reader.join(timeout=5)


def post(url: str, body: Any, api_key: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the stack's loopback URL
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return dict(json.loads(answer.read()))


def redirect(api: str, path: str) -> tuple[int, str | None]:
    """The answer's status and Location, the redirect not followed (urllib would follow it)."""
    address = urlsplit(api)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location")
    finally:
        connection.close()


def test_the_console_shows_the_banner_and_one_line_per_request_and_the_log_file_the_rest(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "posthorn.jsonl"
    console = Console(log_file)
    try:
        [api_line] = console.wait_for(r"^  API +http://")
        api = api_line.split()[-1]
        console.wait_for("Press Enter to show this again")
        [console_line] = console.wait_for(r"^  Console +http://")
        assert console_line.split()[1] == f"{api}/console/"
        assert not [line for line in console.lines if re.search(r"/_local/(\s|\)|$)", line)], "a second UI"
        post(f"{api}/v1/domains", {"domain": "example.com"}, ADMIN_KEY)
        key = post(
            f"{api}/v1/credentials",
            {
                "name": "c",
                "domains": ["example.com"],
                "permissions": ["send", "read"],
                "rate_limit_per_second": 500,
            },
            ADMIN_KEY,
        )["api_key"]
        messages = [
            {
                "from_email": "hello@example.com",
                "to": ["success@simulator.amazonses.com"],
                "subject": f"{i}",
                "body_text": "x",
            }
            for i in range(40)
        ]
        assert post(f"{api}/v1/email/batch", {"messages": messages}, key)["count"] == 40
        [port_line] = console.wait_for(r"port \d+ \(STARTTLS\)")
        starttls_port = int(re.findall(r"port (\d+) \(STARTTLS\)", port_line)[0])
        ca = urllib.request.urlopen(f"{api}/_local/ca.pem").read().decode()  # noqa: S310
        assert redirect(api, "/_local/") == (302, "/console/")
        with smtplib.SMTP("localhost", starttls_port, timeout=30) as smtp:
            smtp.starttls(context=ssl.create_default_context(cadata=ca))
            smtp.login("posthorn", key)
            mail = "From: hello@example.com\r\nTo: success@simulator.amazonses.com\r\nSubject: s\r\n\r\nx\r\n"
            smtp.sendmail("hello@example.com", ["success@simulator.amazonses.com"], mail)
            refused = smtp.mail("hello@other.org")
            assert refused[0] == 550
        username = key.partition(".")[0]
        console.wait_for(rf"^\d\d:\d\d:\d\d SMTP 127\.0\.0\.1 {username} 250 2\.0\.0 msg_\w+$")
        console.wait_for(rf"^\d\d:\d\d:\d\d SMTP 127\.0\.0\.1 {username} 550 5\.7\.1 sender_not_allowed$")
        deadline = time.monotonic() + 60
        while len(json.loads(urllib.request.urlopen(f"{api}/_local/outbox").read())["messages"]) < 41:  # noqa: S310
            assert time.monotonic() < deadline, "the batch did not reach the outbox"
            time.sleep(0.5)
        time.sleep(1.5)  # the events of the last messages
        assert console.process.stdin is not None
        console.process.stdin.write("\n")
        console.process.stdin.flush()
        console.wait_for(r"^  Admin api_key  " + re.escape(ADMIN_KEY), count=2)
    finally:
        console.stop()

    printed = [line for line in console.lines if line.strip()]
    requests = [line for line in printed if ACCESS_LINE.match(line)]
    assert len([line for line in printed if " SMTP " in line and line[:2].isdigit()]) == 2  # no other
    assert [line.split()[1:3] for line in requests] == [
        ["POST", "/v1/domains"], ["POST", "/v1/credentials"], ["POST", "/v1/email/batch"],
        ["GET", "/_local/ca.pem"], ["GET", "/_local/"],
    ] + [["GET", "/_local/outbox"]] * (len(requests) - 5)  # fmt: skip
    assert not [line for line in printed if line.lstrip().startswith("{")], "JSON on the console"
    assert not [
        line for line in printed if "Warning" in line or "Connection pool" in line or "WARNING" in line
    ]

    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(entry.get("message") == "notifications processed" for entry in logged)  # Powertools' logs
    assert any("_aws" in entry for entry in logged)  # EMF metrics
    assert not any("Connection pool is full" in str(entry.get("message")) for entry in logged)
    # The relay's transaction lines, with what an operator needs to answer "why was my mail refused".
    transactions = [entry for entry in logged if entry.get("message") == "smtp transaction"]
    assert [
        (entry["peer"], entry["username"], entry["reply"], entry["error_code"], "message_id" in entry)
        for entry in transactions
    ] == [
        ("127.0.0.1", username, "250 2.0.0", None, True),
        ("127.0.0.1", username, "550 5.7.1", "sender_not_allowed", False),
    ]
