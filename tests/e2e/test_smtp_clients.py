"""Real SMTP clients nobody here wrote send through the relay of a running local stack: Nodemailer,
PHPMailer, Symfony Mailer (Laravel's mailer) and Django's SMTP email backend, each configured exactly the
way its own docs (and Postmark's, Resend's, ZeptoMail's and MailPace's guides) show it. The clients are
small scripts in `tests/e2e/clients/`, run as subprocesses; `make smtp-clients` installs them.

What matters is checked once the worker delivered the message: the 250 named the message id, the local
SES received one copy for the right envelope recipients (Bcc in the envelope only), subject, names,
bodies and attachment bytes arrived intact, Posthorn's `X-SES-MESSAGE-TAGS` carries the id, no control
header is left, and `GET /v1/messages/{id}` shows it delivered with `source: "smtp"`.

Python's smtplib speaks to the relay in `tests/integration/test_smtp_relay.py` with `mail()`/`data()`; the
one smtplib test here uses `send_message()`, which (like Django, which calls `sendmail()`) declares the
message's SIZE in MAIL FROM."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import smtplib
import ssl
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest

from posthorn_local.ses_smtp_server import OutboxMessage
from posthorn_local.stack import LocalStack
from tests.e2e.conftest import Http

pytestmark = pytest.mark.e2e

CLIENTS = Path(__file__).resolve().parent / "clients"
NODEMAILER_DIR = CLIENTS / "nodemailer"
PHPMAILER_AUTOLOAD = Path("/usr/share/php/libphp-phpmailer/autoload.php")
SYMFONY_MAILER_AUTOLOAD = Path("/usr/share/php/Symfony/Component/Mailer/autoload.php")
INSTALL = "run `make smtp-clients`"
WAIT_SECONDS = 15

QUEUED = re.compile(r"250[ -]2\.0\.0 Ok: queued as (msg_\S+)")
# The control headers (docs/api.md, "SMTP relay") (and any X-SES-* a client wrote): none may reach SES.
CONTROL_HEADER = re.compile(
    r"X-Posthorn-|X-PM-|X-TM-|X-MailPace-|X-OMS-|X-OhMySMTP-|X-List-Unsubscribe$", re.IGNORECASE
)
POSTHORN_SES_HEADERS = {"x-ses-message-tags", "x-ses-configuration-set"}

FROM = {"email": "hello@example.com", "name": "Zoë's Café"}
TO = {"email": "juergen@example.net", "name": "Müller, Jürgen"}
CC = {"email": "team@example.net", "name": "Ærøskøbing Team"}
BCC = {"email": "hidden@example.org", "name": "Heimlich Hörer"}
# Lines starting with a dot are dot-stuffed by the client and must come out unstuffed.
TEXT = "Hallo Jürgen,\n.a line that starts with a dot\n..and one with two\nschöne Grüße ✉\n"
TEXT_WITHOUT_DOT_LINES = "Hallo Jürgen,\nno line of this text starts with a dot.\nschöne Grüße ✉\n"
INLINE_CID = "logo@posthorn.test"


# ------------------------------------------------------------------------------------- what is sent
@dataclass(frozen=True)
class Attachment:
    path: Path
    content_type: str
    cid: str | None = None

    @property
    def filename(self) -> str:
        return self.path.name

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "path": str(self.path),
            "filename": self.filename,
            "content_type": self.content_type,
        }
        if self.cid:
            entry["cid"] = self.cid
        return entry


def png() -> bytes:
    """A real 2x2 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([200, 30, 30] * 2) for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def report(tmp_path: Path) -> Attachment:
    """A binary attachment with a UTF-8 file name; its bytes hold every byte value and `\\r\\n.\\r\\n`."""
    path = tmp_path / "Rechnung März.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n.\r\n" + random.Random(7).randbytes(3000))
    return Attachment(path, "application/pdf")


@pytest.fixture
def logo(tmp_path: Path) -> Attachment:
    path = tmp_path / "logo.png"
    path.write_bytes(png())
    return Attachment(path, "image/png", cid=INLINE_CID)


def message(
    client: str, attachments: list[Attachment], headers: dict[str, str] | None = None, text: str = TEXT
) -> dict[str, Any]:
    """The message every client is told to send, with a unique subject; HTML shows the inline image."""
    inline = "".join(f'<img src="cid:{a.cid}" alt="logo">' for a in attachments if a.cid)
    return {
        "from": FROM,
        "to": [TO],
        "cc": [CC],
        "bcc": [BCC],
        # Long enough that every client folds it into several encoded words.
        "subject": f"Grüße aus Köln — ✉ naïve Zoë über {client}, langer Betreff {uuid.uuid4().hex[:10]}",
        "text": text,
        "html": f"<p>Hallo Jürgen, <b>schöne</b> Grüße.</p>{inline}",
        "headers": headers or {},
        "attachments": [a.to_json() for a in attachments],
    }


def login(api_key: str) -> tuple[str, str]:
    """A credential's SMTP username and password: its username and its secret."""
    username, _, secret = api_key.partition(".")
    return username, secret


def port_of(stack: LocalStack, security: str) -> int:
    return stack.relay.tls_port if security == "tls" else stack.relay.starttls_port


# ------------------------------------------------------------------------------- running the clients
def require(what: str, installed: bool) -> None:
    """A client that is not installed fails the test in CI and skips it, saying why, elsewhere."""
    if installed:
        return
    reason = f"{what} is not installed: {INSTALL}"
    if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
        pytest.fail(reason)
    pytest.skip(reason)


def run(argv: list[str], config: dict[str, Any], *, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """Run a client script with its JSON config as the argument; what it printed (one JSON object).
    A failed send raises with everything the client printed, its SMTP transcript included."""
    done = subprocess.run(  # noqa: S603 (our own scripts, fixed interpreters)
        [*argv, json.dumps(config)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    try:
        printed = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        printed = None
    if done.returncode != 0 or not isinstance(printed, dict) or "error" in printed:
        raise AssertionError(
            f"{Path(argv[-1]).parent.name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return printed


def nodemailer(
    stack: LocalStack, *, security: str, auth_method: str, user: str, password: str, mail: dict[str, Any]
) -> dict[str, Any]:
    """Nodemailer: `secure: true` for implicit TLS, else `requireTLS: true`; prints `info` and the
    transcript."""
    require(
        "nodemailer", bool(shutil.which("node")) and (NODEMAILER_DIR / "node_modules/nodemailer").is_dir()
    )
    config = {
        "host": stack.smtp_host,
        "port": port_of(stack, security),
        "security": security,
        "user": user,
        "pass": password,
        "auth_method": auth_method,
        "ca_file": str(stack.ca_file),
        "message": mail,
    }
    return cast(dict[str, Any], run(["node", str(NODEMAILER_DIR / "send.js")], config, cwd=NODEMAILER_DIR))


def phpmailer(
    stack: LocalStack, *, security: str, auth_method: str, user: str, password: str, mail: dict[str, Any]
) -> dict[str, Any]:
    """PHPMailer: ENCRYPTION_STARTTLS or ENCRYPTION_SMTPS, AuthType, the CA in SMTPOptions; prints the
    transaction id it parsed from the 250 and the transcript (SMTPDebug = DEBUG_SERVER)."""
    require(
        "PHPMailer (php-cli, libphp-phpmailer)", bool(shutil.which("php")) and PHPMAILER_AUTOLOAD.is_file()
    )
    config = {
        "host": stack.smtp_host,
        "port": port_of(stack, security),
        "security": security,
        "user": user,
        "pass": password,
        "auth_method": auth_method,
        "ca_file": str(stack.ca_file),
        "message": mail,
    }
    script = CLIENTS / "phpmailer" / "send.php"
    return cast(dict[str, Any], run(["php", str(script)], config, cwd=script.parent))


def symfony_mailer(
    stack: LocalStack, *, scheme: str, user: str, password: str, mail: dict[str, Any]
) -> dict[str, Any]:
    """Symfony Mailer from a DSN, `smtp://` (STARTTLS, automatic) or `smtps://` (implicit TLS); prints
    `SentMessage::getDebug()`, the transcript."""
    require(
        "Symfony Mailer (php-cli, php-symfony-mailer)",
        bool(shutil.which("php")) and SYMFONY_MAILER_AUTOLOAD.is_file(),
    )
    port = port_of(stack, "tls" if scheme == "smtps" else "starttls")
    dsn = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{stack.smtp_host}:{port}"
    config = {"dsn": dsn, "ca_file": str(stack.ca_file), "message": mail}
    script = CLIENTS / "symfony" / "send.php"
    return cast(dict[str, Any], run(["php", str(script)], config, cwd=script.parent))


def django_backend(
    stack: LocalStack, *, security: str, user: str, password: str, mail: dict[str, Any]
) -> dict[str, Any]:
    """Django's SMTP backend: EMAIL_USE_TLS or EMAIL_USE_SSL, the CA trusted through SSL_CERT_FILE; prints
    what `send()` returned (the count: Django shows no reply)."""
    require("Django (the dev extras)", importlib.util.find_spec("django") is not None)
    config = {
        "host": stack.smtp_host,
        "port": port_of(stack, security),
        "security": security,
        "user": user,
        "pass": password,
        "message": mail,
    }
    script = CLIENTS / "django" / "send.py"
    env = {"SSL_CERT_FILE": str(stack.ca_file)}
    return cast(dict[str, Any], run([sys.executable, str(script)], config, cwd=script.parent, env=env))


def smtplib_send_message(
    stack: LocalStack, *, user: str, password: str, mail: dict[str, Any], attachments: list[Attachment]
) -> dict[str, Any]:
    """Python's smtplib over implicit TLS: `send_message()` takes the envelope from the headers (the Bcc
    too), leaves the Bcc header out, and declares SIZE. Returns the refused recipients, as smtplib does.
    A refused message raises with the relay's reply."""

    def mailboxes(entries: list[dict[str, str]]) -> tuple[Address, ...]:
        return tuple(Address(entry["name"], addr_spec=entry["email"]) for entry in entries)

    email = EmailMessage()
    email["From"] = mailboxes([mail["from"]])
    email["To"] = mailboxes(mail["to"])
    email["Cc"] = mailboxes(mail["cc"])
    email["Bcc"] = mailboxes(mail["bcc"])
    email["Subject"] = mail["subject"]
    email.set_content(mail["text"])
    email.add_alternative(mail["html"], subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        data = attachment.path.read_bytes()
        email.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    context = ssl.create_default_context(cafile=str(stack.ca_file))
    with smtplib.SMTP_SSL(stack.smtp_host, stack.relay.tls_port, context=context, timeout=10) as smtp:
        smtp.login(user, password)
        try:
            return {"refused": smtp.send_message(email)}
        except smtplib.SMTPException as error:
            raise AssertionError(f"smtplib send_message failed: {error!r}") from error


def queued_id(reply: str) -> str:
    """The message id of `250 2.0.0 Ok: queued as <id>` in a reply or a transcript."""
    found = QUEUED.search(reply)
    assert found, f"no '250 2.0.0 Ok: queued as <id>' in:\n{reply}"
    return found.group(1)


# ------------------------------------------------------------------------------ what arrived, shared
def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=default).parsebytes(raw))


def subject_of(copy: EmailMessage) -> str:
    """The Subject unfolded and decoded; Django folds a long one right after the colon (`Subject: CRLF SP
    =?utf-8?b?...`), which leaves the leading white space unfolding keeps."""
    return str(copy["Subject"]).strip()


def posthorn_id(copy: EmailMessage) -> str | None:
    tags = (item.strip().partition("=") for item in str(copy.get("X-SES-MESSAGE-TAGS", "")).split(","))
    return next((value for name, _, value in tags if name == "posthorn_message_id"), None)


def copies(
    stack: LocalStack, matches: Callable[[EmailMessage], bool]
) -> list[tuple[OutboxMessage, EmailMessage]]:
    found = [(outboxed, parse(outboxed.raw)) for outboxed in stack.ses.outbox.list()]
    return [(outboxed, parsed) for outboxed, parsed in found if matches(parsed)]


def wait_for_copy(stack: LocalStack, matches: Callable[[EmailMessage], bool], what: str) -> EmailMessage:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := copies(stack, matches)):
        assert time.monotonic() < deadline, f"the local SES received no message with {what}"
        time.sleep(0.1)
    return found[0][1]


def id_by_subject(stack: LocalStack, subject: str) -> str:
    """For a client that shows no reply: the id Posthorn stamped on the copy SES received."""
    copy = wait_for_copy(stack, lambda parsed: subject_of(parsed) == subject, f"subject {subject!r}")
    found = posthorn_id(copy)
    assert found, copy["X-SES-MESSAGE-TAGS"]
    return found


def wait_for_record(http: Http, key: str, message_id: str, recipients: int) -> dict[str, Any]:
    """GET /v1/messages/{id} once every recipient is delivered (the local SES delivers all of ours)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = http.get(f"/v1/messages/{message_id}", api_key=key)
        assert response.status == 200, response.body
        record = cast(dict[str, Any], response.json)
        statuses = [r["status"] for r in record["recipients"]]
        if len(statuses) == recipients and set(statuses) == {"delivered"}:
            return record
        assert time.monotonic() < deadline, f"{message_id} is {record['status']}, recipients {statuses}"
        time.sleep(0.1)


def files_of(copy: EmailMessage) -> dict[str, EmailMessage]:
    return {part.get_filename(): part for part in copy.walk() if part.get_filename()}


def normalized(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def assert_delivered(
    stack: LocalStack,
    http: Http,
    key: str,
    message_id: str,
    mail: dict[str, Any],
    attachments: list[Attachment],
    message_id_header: str | None = None,
) -> tuple[EmailMessage, dict[str, Any]]:
    """Everything that must hold once the worker delivered `mail` as `message_id`: the copy SES received
    and the record the API shows. Returns both for a test's own checks."""
    record = wait_for_record(http, key, message_id, recipients=3)
    found = copies(stack, lambda parsed: posthorn_id(parsed) == message_id)
    assert len(found) == 1, f"the local SES received {len(found)} copies of {message_id}"
    [(outboxed, copy)] = found

    # The envelope: RCPT TO is every recipient, the Bcc one too; MAIL FROM is the sender.
    assert outboxed.mail_from == FROM["email"]
    assert sorted(outboxed.rcpt_to) == sorted([TO["email"], CC["email"], BCC["email"]])

    # The headers: decoded intact, the Bcc nowhere, Posthorn's stamp and nothing of the control headers.
    assert subject_of(copy) == mail["subject"]
    [sender] = copy["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (FROM["name"], FROM["email"])
    [to] = copy["To"].addresses
    assert (to.display_name, to.addr_spec) == (TO["name"], TO["email"])
    [cc] = copy["Cc"].addresses
    assert (cc.display_name, cc.addr_spec) == (CC["name"], CC["email"])
    assert "Bcc" not in copy
    header_block = outboxed.raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    assert BCC["email"] not in header_block
    assert f"posthorn_message_id={message_id}" in copy["X-SES-MESSAGE-TAGS"]
    names = [name.lower() for name in copy]
    assert not [name for name in copy if CONTROL_HEADER.match(name)], names
    ses_headers = [name for name in names if name.startswith("x-ses-")]
    assert set(ses_headers) <= POSTHORN_SES_HEADERS
    assert len(ses_headers) == len(set(ses_headers)), ses_headers
    assert len(copy.get_all("Message-ID", [])) == 1
    if message_id_header:
        assert copy["Message-ID"].strip("<>") == message_id_header.strip("<>"), "the client's Message-ID"

    # The bodies and every attachment, byte for byte.
    plain, html = copy.get_body(("plain",)), copy.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert normalized(plain.get_content()) == normalized(mail["text"])
    assert normalized(html.get_content()) == normalized(mail["html"])
    parts = files_of(copy)
    for attachment in attachments:
        assert attachment.filename in parts, f"{attachment.filename!r} not among {sorted(parts)}"
        part = parts[attachment.filename]
        assert part.get_content_type() == attachment.content_type
        assert part.get_payload(decode=True) == attachment.path.read_bytes()
        if attachment.cid:
            assert part["Content-ID"] == f"<{attachment.cid}>"

    # The record: from the relay, delivered to each recipient as the type the headers gave it.
    assert record["source"] == "smtp"
    assert record["status"] == "delivered"
    assert record["subject"] == mail["subject"]
    assert record["from_email"] == FROM["email"]
    assert sorted((r["email"], r["type"]) for r in record["recipients"]) == sorted(
        [(TO["email"], "to"), (CC["email"], "cc"), (BCC["email"], "bcc")]
    )
    return copy, record


# ---------------------------------------------------------------------------------------- Nodemailer
@pytest.mark.parametrize("auth_method", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_nodemailer_sends_attachment_inline_image_and_bcc(
    stack: LocalStack,
    http: Http,
    sender_key: str,
    report: Attachment,
    logo: Attachment,
    security: str,
    auth_method: str,
) -> None:
    user, password = login(sender_key)
    mail = message("Nodemailer", [report, logo])
    info = nodemailer(
        stack, security=security, auth_method=auth_method, user=user, password=password, mail=mail
    )

    message_id = queued_id(info["response"])
    assert sorted(info["accepted"]) == sorted([TO["email"], CC["email"], BCC["email"]])
    assert info["rejected"] == []
    assert f"AUTH {auth_method}" in info["transcript"]
    assert ("STARTTLS" in info["transcript"]) == (security == "starttls")
    assert_delivered(stack, http, sender_key, message_id, mail, [report, logo], info["message_id_header"])


def test_nodemailer_with_postmark_control_headers_sets_tags_metadata_and_reference(
    stack: LocalStack, http: Http, sender_key: str, report: Attachment
) -> None:
    """Postmark's header names (and ZeptoMail's client reference), as an app moving from Postmark's SMTP
    service keeps sending them; the metadata key's case is the next test's."""
    reference = f"order-{uuid.uuid4().hex[:8]}"
    headers = {"X-PM-Tag": "welcome", "X-PM-Metadata-order": "42", "X-TM-CLIENT-REF": reference}
    mail = message("Nodemailer", [report], headers)
    info = nodemailer(
        stack, security="starttls", auth_method="PLAIN", user="posthorn", password=sender_key, mail=mail
    )

    message_id = queued_id(info["response"])
    copy, record = assert_delivered(stack, http, sender_key, message_id, mail, [report])
    assert record["tags"] == ["welcome"]
    assert {key.lower(): value for key, value in record["metadata"].items()} == {"order": "42"}
    assert record["client_reference"] == reference
    assert "welcome=true" in copy["X-SES-MESSAGE-TAGS"]


def test_nodemailer_metadata_header_gives_the_key_as_postmarks_docs_write_it(
    stack: LocalStack, http: Http, sender_key: str
) -> None:
    mail = message("Nodemailer", [], {"X-PM-Metadata-order": "42"})
    info = nodemailer(
        stack, security="tls", auth_method="PLAIN", user="posthorn", password=sender_key, mail=mail
    )

    assert "X-Pm-Metadata-Order: 42" in info["transcript"]  # what Nodemailer wrote
    record = wait_for_record(http, sender_key, queued_id(info["response"]), recipients=3)
    assert record["metadata"] == {"order": "42"}


# ----------------------------------------------------------------------------------------- PHPMailer
@pytest.mark.parametrize("auth_method", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_phpmailer_sends_attachment_inline_image_and_bcc(
    stack: LocalStack,
    http: Http,
    sender_key: str,
    report: Attachment,
    logo: Attachment,
    security: str,
    auth_method: str,
) -> None:
    user, password = login(sender_key)
    mail = message("PHPMailer", [report, logo])
    printed = phpmailer(
        stack, security=security, auth_method=auth_method, user=user, password=password, mail=mail
    )

    message_id = queued_id(printed["transcript"])
    assert printed["transaction_id"] == message_id  # PHPMailer's own parse of the 250 (its "postfix" pattern)
    assert f"CLIENT -> SERVER: AUTH {auth_method}" in printed["transcript"]
    assert ("CLIENT -> SERVER: STARTTLS" in printed["transcript"]) == (security == "starttls")
    assert_delivered(stack, http, sender_key, message_id, mail, [report, logo], printed["message_id_header"])


def test_phpmailer_with_mailpace_and_zeptomail_control_headers(
    stack: LocalStack, http: Http, sender_key: str, report: Attachment
) -> None:
    """MailPace's tags header (a list) and ZeptoMail's client reference, through addCustomHeader()."""
    reference = f"ref-{uuid.uuid4().hex[:8]}"
    headers = {"X-MailPace-Tags": "invoice, march", "X-TM-CLIENT-REF": reference}
    mail = message("PHPMailer", [report], headers)
    user, password = login(sender_key)
    printed = phpmailer(stack, security="tls", auth_method="LOGIN", user=user, password=password, mail=mail)

    message_id = queued_id(printed["transcript"])
    copy, record = assert_delivered(stack, http, sender_key, message_id, mail, [report])
    assert record["tags"] == ["invoice", "march"]
    assert record["client_reference"] == reference
    assert {"invoice=true", "march=true"} <= {t.strip() for t in copy["X-SES-MESSAGE-TAGS"].split(",")}


# ------------------------------------------------------------------------------------ Symfony Mailer
@pytest.mark.parametrize("credential", ["username+secret", "posthorn+api_key"])
@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_symfony_mailer_dsn_sends_attachment_and_bcc(
    stack: LocalStack, http: Http, sender_key: str, report: Attachment, scheme: str, credential: str
) -> None:
    user, password = login(sender_key) if credential == "username+secret" else ("posthorn", sender_key)
    mail = message("Symfony Mailer", [report])
    printed = symfony_mailer(stack, scheme=scheme, user=user, password=password, mail=mail)

    message_id = queued_id(printed["debug"])
    assert re.search(r"> AUTH (LOGIN|PLAIN)", printed["debug"]), printed["debug"]
    assert ("> STARTTLS" in printed["debug"]) == (scheme == "smtp")  # smtp:// upgrades by itself
    assert_delivered(stack, http, sender_key, message_id, mail, [report], printed["message_id_header"])


# ---------------------------------------------------------------------------- Django's SMTP backend
@pytest.mark.parametrize(
    ("security", "text"),
    [
        pytest.param("starttls", TEXT_WITHOUT_DOT_LINES, id="starttls"),
        pytest.param("tls", TEXT_WITHOUT_DOT_LINES, id="tls"),
        pytest.param("starttls", TEXT, id="starttls-dot-lines"),
    ],
)
def test_django_smtp_backend_sends_alternatives_attachment_and_bcc(
    stack: LocalStack, http: Http, sender_key: str, report: Attachment, security: str, text: str
) -> None:
    user, password = login(sender_key)
    mail = message("Django", [report], text=text)
    printed = django_backend(stack, security=security, user=user, password=password, mail=mail)

    assert printed["sent"] == 1  # Django returns the count of messages sent, nothing of the reply
    message_id = id_by_subject(stack, mail["subject"])
    assert_delivered(stack, http, sender_key, message_id, mail, [report])


# ------------------------------------------------------------------------------------ Python's smtplib
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(TEXT_WITHOUT_DOT_LINES, id="plain-lines"),
        pytest.param(TEXT, id="dot-lines"),
    ],
)
def test_smtplib_send_message_declares_size_and_sends_the_bcc_in_the_envelope_only(
    stack: LocalStack, http: Http, sender_key: str, report: Attachment, text: str
) -> None:
    mail = message("smtplib", [report], text=text)
    sent = smtplib_send_message(stack, user="posthorn", password=sender_key, mail=mail, attachments=[report])

    assert sent["refused"] == {}
    message_id = id_by_subject(stack, mail["subject"])
    assert_delivered(stack, http, sender_key, message_id, mail, [report])
