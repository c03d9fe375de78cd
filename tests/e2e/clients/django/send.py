"""Sends one message with Django's SMTP email backend, configured the way Django's docs (and the Postmark,
Resend, ZeptoMail and MailPace Django guides) show it: EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS (STARTTLS) or
EMAIL_USE_SSL (implicit TLS), EMAIL_HOST_USER and EMAIL_HOST_PASSWORD.

Django verifies the server with `ssl.create_default_context()` (EMAIL_SSL_CERTFILE is a client certificate,
not a CA), so a private CA is trusted the way a Django deployment does it: SSL_CERT_FILE in the environment
(the test sets it).

    python send.py '<json>'

<json>: {"host", "port", "security": "starttls" | "tls", "user", "pass",
         "message": {"from": {"email", "name"}, "to": [...], "cc": [...], "bcc": [...], "subject", "text",
                     "html", "headers": {...}, "attachments": [{"path", "content_type"}]}}
Prints one JSON object: {"sent": <what send() returned>}, or {"error"} with exit status 1.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from django.conf import settings

config = json.loads(sys.argv[1] if len(sys.argv) > 1 else os.environ["POSTHORN_SMTP_CLIENT_CONFIG"])
settings.configure(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST=config["host"],
    EMAIL_PORT=config["port"],
    EMAIL_USE_TLS=config["security"] == "starttls",
    EMAIL_USE_SSL=config["security"] == "tls",
    EMAIL_HOST_USER=config["user"],
    EMAIL_HOST_PASSWORD=config["pass"],
    EMAIL_TIMEOUT=10,
)

from django.core.mail import EmailMultiAlternatives  # noqa: E402  (needs the settings above)


def mailbox(entry: dict[str, Any]) -> str:
    name = str(entry.get("name") or "").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{entry["email"]}>' if name else str(entry["email"])


def main() -> int:
    message = config["message"]
    mail = EmailMultiAlternatives(
        subject=message["subject"],
        body=message["text"],
        from_email=mailbox(message["from"]),
        to=[mailbox(entry) for entry in message.get("to", [])],
        cc=[mailbox(entry) for entry in message.get("cc", [])],
        bcc=[mailbox(entry) for entry in message.get("bcc", [])],
        headers=message.get("headers") or {},
    )
    mail.attach_alternative(message["html"], "text/html")
    for file in message.get("attachments", []):
        mail.attach_file(file["path"], file["content_type"])
    try:
        sent = mail.send()
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps({"sent": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
