"""`make run`: start the local stack on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM.

Environment: `POSTHORN_PORT` (default 3000), `POSTHORN_SMTP_PORT` (the SMTP relay with STARTTLS, default
2587), `POSTHORN_SMTPS_PORT` (the relay with implicit TLS, default 2465), `POSTHORN_ADMIN_KEY`
(`<username>.<secret>`; generated when unset), `POSTHORN_SES_MAX_SEND_RATE` (the send worker's pace;
default the template's SesMaxSendRate), `POSTHORN_GUARD_*` (the deliverability guard) and
`POSTHORN_MESSAGE_RETENTION_DAYS` (days a message is kept; default the template's MessageRetentionDays).
The functions' packages come from PYTHONPATH, which the Makefile sets
(`layers/posthorn:functions/send:functions/bounce:functions/worker:local`).

The console shows the banner and one short line per request; the functions' JSON logs and metrics (what
CloudWatch would hold), library warnings included, go to `.local/logs/posthorn-<port>.jsonl` (the
project's ignored folder; `POSTHORN_LOG_FILE` chooses another file). Enter shows the banner again.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import IO, TextIO

from posthorn_local.stack import SEND_WORKER_FUNCTION, LocalStack

LOG_DIR = Path(__file__).resolve().parents[2] / ".local" / "logs"  # .gitignore'd


def _port(name: str = "POSTHORN_PORT", default: int = 3000) -> int:
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) > 65535:
        raise SystemExit(f"{name} must be a port number (0-65535), not {text!r}")
    return int(text)


def _send_rate() -> float | None:
    """`POSTHORN_SES_MAX_SEND_RATE`: the send worker's pace (default: the template's SesMaxSendRate)."""
    text = os.environ.get("POSTHORN_SES_MAX_SEND_RATE", "").strip()
    if not text:
        return None
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if rate <= 0:
        raise SystemExit(f"POSTHORN_SES_MAX_SEND_RATE must be a positive number, not {text!r}")
    return rate


def banner(stack: LocalStack, log_file: Path | None = None) -> str:
    api, admin, relay = stack.api_url, shlex.quote(stack.admin_key or ""), stack.relay
    rate = stack.environments[SEND_WORKER_FUNCTION].get("SES_MAX_SEND_RATE", "?")
    origin = (
        "generated; set POSTHORN_ADMIN_KEY to choose it"
        if stack.admin_key_generated
        else "POSTHORN_ADMIN_KEY"
    )
    json_header = "-H 'Content-Type: application/json'"
    logs = f"  Logs           {log_file}   (the functions' JSON logs and metrics)\n" if log_file else ""
    return f"""
Posthorn local stack is running (development only).
  API            {api}
  Console        {api}/console/   (sign in with the admin api_key for its "Local outbox" view:
                 message bodies, Open/Click simulation, this connection; JSON: {api}/_local/outbox)
  Admin api_key  {stack.admin_key}   ({origin})
  SMTP relay     host {stack.smtp_host}
                 port {relay.starttls_port} (STARTTLS) or {relay.tls_port} (implicit TLS), AUTH PLAIN or LOGIN
                 username: a credential's username, password: its secret
                 (or any username, e.g. "posthorn", with the whole api_key as password)
                 CA: {api}/_local/ca.pem (also {stack.ca_file})
  Local SES      {stack.smtp_host}:{stack.ses.port}   (SMTP, STARTTLS + AUTH; CA {stack.ca_file})
  AWS (moto)     {stack.moto_url}
  Send worker    drains the send queue at {rate} messages/s (POSTHORN_SES_MAX_SEND_RATE)
{logs}
Try it:
  API={api}
  ADMIN={admin}
  curl -sS -X POST "$API/v1/domains" -H "Authorization: Bearer $ADMIN" {json_header} \\
    -d '{{"domain": "example.com"}}'
  KEY=$(curl -sS -X POST "$API/v1/credentials" -H "Authorization: Bearer $ADMIN" {json_header} \\
    -d '{{"name": "app", "domains": ["example.com"], "permissions": ["send", "read"]}}' \\
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')
  curl -sS -X POST "$API/v1/email" -H "Authorization: Bearer $KEY" {json_header} \\
    -d '{{"from_email": "hello@example.com", "to": ["success@simulator.amazonses.com"],
         "subject": "Hello", "body_text": "It works."}}'
  curl -sS "$API/_local/ca.pem" -o posthorn-ca.pem
  swaks --server {stack.smtp_host}:{relay.starttls_port} --tls --tls-verify --tls-ca-path posthorn-ca.pem \\
    --auth PLAIN --auth-user posthorn --auth-password "$KEY" \\
    --from hello@example.com --to success@simulator.amazonses.com --header "Subject: Hello over SMTP"

Press Enter to show this again (the console's Local outbox view has it too), Ctrl-C to stop.
""".rstrip()


# What every LogRecord carries; anything else on a record came as `extra=` and goes into its line.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    """A library's log record as one JSON line, beside the functions' own (Powertools writes JSON), with
    the fields it was given (`extra=`), as Powertools' formatter writes them where the relay is deployed."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{name: value for name, value in vars(record).items() if name not in _RECORD_FIELDS},
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ConsoleLines(logging.Formatter):
    """`12:00:01 POST /v1/email 200 (41 ms)`: the time and the message, the level only when it matters."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname} " if record.levelno >= logging.WARNING else ""
        text = f"{self.formatTime(record, self.datefmt)} {level}{record.getMessage()}"
        return f"{text}\n{self.formatException(record.exc_info)}" if record.exc_info else text


class SmtpTransactionLines(ConsoleLines):
    """`12:00:02 SMTP 127.0.0.1 ph_app 250 2.0.0 msg_01...` or `... 451 4.7.1 rate_limited`: the relay's
    line per transaction (`smtp_relay.handler`), as the console shows one per HTTP request."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() == "smtp transaction"

    def format(self, record: logging.LogRecord) -> str:
        fields = vars(record)
        outcome = fields.get("message_id") or fields.get("error_code") or ""
        replayed = " (a resend: the first id)" if fields.get("replayed") else ""
        who = f"{fields.get('peer', '-')} {fields.get('username') or '-'}"
        line = f"SMTP {who} {fields.get('reply', '')} {outcome}{replayed}"
        return f"{self.formatTime(record, self.datefmt)} {line}"


def log_file_path(port: int) -> Path:
    chosen = os.environ.get("POSTHORN_LOG_FILE", "").strip()
    return Path(chosen) if chosen else LOG_DIR / f"posthorn-{port or os.getpid()}.jsonl"


def configure_logging(console: TextIO, log: IO[str]) -> None:
    """The stack's own lines (`posthorn_local`: access lines, start-up) to the console, everything else
    to `log`: the root logger (libraries: botocore, urllib3, moto) and Python warnings as JSON lines. The
    functions' Powertools loggers write to `sys.stdout`, which `main` points at `log` before they exist."""
    to_file = logging.StreamHandler(log)
    to_file.setFormatter(JsonLines())
    logging.basicConfig(level=logging.WARNING, handlers=[to_file], force=True)
    logging.captureWarnings(True)  # e.g. Powertools' "No application metrics to publish" UserWarning
    # The stack's own lines get a handler of their own: Powertools filters the root handlers so they drop
    # every logger whose name contains its service name ("posthorn"), which includes "posthorn_local".
    own = logging.getLogger("posthorn_local")
    to_console = logging.StreamHandler(console)
    to_console.setFormatter(ConsoleLines())
    own.handlers[:] = [to_console]
    own.setLevel(logging.INFO)
    own.propagate = False
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every address at INFO
    # The relay's transaction lines to the console too (and, as INFO, to the file with the rest of its log).
    transactions = logging.StreamHandler(console)
    lines = SmtpTransactionLines()
    transactions.setFormatter(lines)
    transactions.addFilter(lines)
    relay = logging.getLogger("smtp_relay")
    relay.handlers[:] = [transactions]
    relay.setLevel(logging.INFO)


def show_banner_on_enter(text: str, console: TextIO, stopping: threading.Event) -> threading.Thread:
    """Print the banner again each time Enter is pressed (a terminal's stdin; nothing when there is none)."""

    def read() -> None:
        for _ in sys.stdin:
            if stopping.is_set():
                return
            print(text, file=console, flush=True)

    thread = threading.Thread(target=read, name="banner-on-enter", daemon=True)
    thread.start()
    return thread


def main() -> int:
    port = _port()
    console = sys.stdout
    log_path = log_file_path(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a", encoding="utf-8", buffering=1)
    # What the functions print (Powertools' JSON logs, EMF metrics) is what CloudWatch would hold: the file.
    sys.stdout = log
    configure_logging(console, log)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C forces the exit

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        stack = LocalStack(
            port=port,
            relay_port=_port("POSTHORN_SMTP_PORT", 2587),
            relay_tls_port=_port("POSTHORN_SMTPS_PORT", 2465),
            admin_key=os.environ.get("POSTHORN_ADMIN_KEY") or None,
            ses_max_send_rate=_send_rate(),
        )
        stack.start()
    except ValueError as error:
        print(f"posthorn-local: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(
            f"posthorn-local: {error}; run it with `make run`, or with "
            "PYTHONPATH=layers/posthorn:functions/send:functions/bounce:functions/worker:local",
            file=sys.stderr,
        )
        return 1
    except OSError as error:
        print(
            f"posthorn-local: cannot start: {error} "
            "(POSTHORN_PORT, POSTHORN_SMTP_PORT and POSTHORN_SMTPS_PORT set the ports)",
            file=sys.stderr,
        )
        return 1
    try:
        text = banner(stack, log_path)
        print(text, file=console, flush=True)
        show_banner_on_enter(text, console, stopping)
        while not stopping.wait(1.0):
            pass
        print("\nStopping…", file=console, flush=True)
    finally:
        stack.stop()
        sys.stdout = console
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
