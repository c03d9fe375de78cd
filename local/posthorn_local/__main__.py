"""`make run`: start the local stack on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM.

Environment: `POSTHORN_PORT` (default 3000), `POSTHORN_SMTP_PORT` (the SMTP relay with STARTTLS, default
2587), `POSTHORN_SMTPS_PORT` (the relay with implicit TLS, default 2465), `POSTHORN_ADMIN_KEY`
(`<username>.<secret>`; generated when unset), `POSTHORN_SES_MAX_SEND_RATE` (the send worker's pace;
default the template's SesMaxSendRate).
The functions' packages come from PYTHONPATH, which the Makefile sets
(`layers/posthorn:functions/send:functions/bounce:functions/worker:local`).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import threading
from types import FrameType

from posthorn_local.stack import LocalStack

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def banner(stack: LocalStack) -> str:
    api, admin, relay = stack.api_url, shlex.quote(stack.admin_key or ""), stack.relay
    rate = stack.function_environment.get("SES_MAX_SEND_RATE", "?")
    origin = (
        "generated; set POSTHORN_ADMIN_KEY to choose it"
        if stack.admin_key_generated
        else "POSTHORN_ADMIN_KEY"
    )
    json_header = "-H 'Content-Type: application/json'"
    return f"""
Posthorn local stack is running (development only).
  API            {api}
  Local pages    {api}/_local/   (outbox: {api}/_local/outbox)
  Admin api_key  {stack.admin_key}   ({origin})
  SMTP relay     host {stack.smtp_host}
                 port {relay.starttls_port} (STARTTLS) or {relay.tls_port} (implicit TLS), AUTH PLAIN or LOGIN
                 username: a credential's username, password: its secret
                 (or username "posthorn", password: the whole api_key)
                 CA: {api}/_local/ca.pem (also {stack.ca_file})
  Local SES      {stack.smtp_host}:{stack.ses.port}   (SMTP, STARTTLS + AUTH; CA {stack.ca_file})
  AWS (moto)     {stack.moto_url}
  Send worker    drains the send queue at {rate} messages/s (POSTHORN_SES_MAX_SEND_RATE)

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
  swaks --server {stack.smtp_host}:{relay.starttls_port} --tls --tls-ca-path posthorn-ca.pem \\
    --auth PLAIN --auth-user posthorn --auth-password "$KEY" \\
    --from hello@example.com --to success@simulator.amazonses.com --header "Subject: Hello over SMTP"

Press Ctrl-C to stop.
""".rstrip()


def _configure_logging() -> None:
    formatter = logging.Formatter(LOG_FORMAT)
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    # The stack's own lines get a handler of their own: Powertools filters the root handlers so they drop
    # every logger whose name contains its service name ("posthorn"), which includes "posthorn_local".
    own = logging.getLogger("posthorn_local")
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    own.addHandler(handler)
    own.setLevel(logging.INFO)
    own.propagate = False
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every address at INFO


def main() -> int:
    _configure_logging()

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C forces the exit

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        stack = LocalStack(
            port=_port(),
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
        print(banner(stack), flush=True)
        while not stopping.wait(1.0):
            pass
        print("\nStopping…", flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
