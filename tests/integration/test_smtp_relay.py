"""The SMTP relay with Python's smtplib (a client nobody here wrote): moto in-process where AWS would be, the
relay on loopback with STARTTLS and implicit TLS, and the send worker delivering to the local SES. Every
reply code of docs/api.md's "SMTP relay" section is checked here or in the other clients' tests."""

from __future__ import annotations

import json
import smtplib
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from posthorn_local.queue_poller import QueuePoller
from posthorn_local.relay import LocalRelay
from posthorn_local.ses_smtp_server import LocalSes
from posthorn_local.tls import TlsMaterial
from tests.conftest import Stack
from tests.support.api import ApiClient
from tests.support.queue import posthorn_ids, take_queued


@pytest.fixture
def relay(stack: Stack, tls: TlsMaterial) -> Iterator[LocalRelay]:
    with LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, cache_seconds=0) as running:
        yield running


def login_of(api_key: str) -> tuple[str, str]:
    username, _, secret = api_key.partition(".")
    return username, secret


def client(relay: LocalRelay, tls: TlsMaterial, *, implicit: bool = False) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    if implicit:
        return smtplib.SMTP_SSL("localhost", relay.tls_port, context=context, timeout=10)
    smtp = smtplib.SMTP("localhost", relay.starttls_port, timeout=10)
    smtp.starttls(context=context)
    return smtp


def message(headers: dict[str, str] | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "App <hello@example.com>"
    mail["To"] = "User <user@example.net>"
    mail["Subject"] = "Grüße from SMTP"
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content("Hello over SMTP")
    return mail


def crlf(mail: EmailMessage) -> bytes:
    """The message's bytes as SMTP carries them: CRLF line ends (the relay refuses a bare LF)."""
    return mail.as_bytes(policy=policy.SMTP)


def send(smtp: smtplib.SMTP, mail: EmailMessage, rcpt: list[str] | None = None) -> str:
    """The message id from `250 2.0.0 Ok: queued as <id>`."""
    smtp.mail("hello@example.com")
    for address in rcpt or ["user@example.net"]:
        code, reply = smtp.rcpt(address)
        assert code == 250, reply
    code, reply = smtp.data(crlf(mail))
    assert code == 250, reply
    text = reply.decode()
    assert text.startswith("2.0.0 Ok: queued as msg_"), text
    return text.rsplit(" ", 1)[-1]


def transact(smtp: smtplib.SMTP, data: bytes, rcpt: str = "user@example.net") -> tuple[int, bytes]:
    """MAIL FROM hello@example.com, one RCPT TO, DATA: the reply to DATA."""
    smtp.mail("hello@example.com")
    assert smtp.rcpt(rcpt)[0] == 250
    return smtp.data(data)


def view(api: ApiClient, key: str, message_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/messages/{message_id}", api_key=key)
    assert response.status == 200, response.body
    return dict(response.json)


def test_starttls_auth_and_a_message_is_queued_with_its_id_in_the_250(
    relay: LocalRelay, tls: TlsMaterial, api: ApiClient, sender_key: str, stack: Stack
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        message_id = send(smtp, message())
    record = view(api, sender_key, message_id)
    assert record["source"] == "smtp"
    assert record["status"] == "queued"
    assert record["subject"] == "Grüße from SMTP"
    assert [(r["email"], r["type"]) for r in record["recipients"]] == [("user@example.net", "to")]
    assert [body["message_id"] for body in take_queued(stack.session, stack.ids["SendQueue"])] == [message_id]


def test_the_worker_delivers_the_clients_bytes_with_the_header_policy_applied(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    mail = message(
        {
            "X-Posthorn-Tags": "welcome, beta",
            "X-PM-Metadata-order_id": "42",
            "X-TM-CLIENT-REF": "order-42",
            "X-SES-CONFIGURATION-SET": "client-choice",
            "X-SES-MESSAGE-TAGS": "evil=true",
            "Bcc": "hidden@example.org",
        }
    )
    with client(relay, tls, implicit=True) as smtp:
        smtp.login("posthorn", sender_key)
        message_id = send(smtp, mail, ["user@example.net", "hidden@example.org"])
    worker.run_until_empty(timeout=20)
    assert posthorn_ids(local_ses) == {message_id: 1}
    [received] = local_ses.outbox.list()
    assert sorted(received.rcpt_to) == ["hidden@example.org", "user@example.net"]
    delivered = message_from_bytes(received.raw)
    assert delivered["Bcc"] is None
    assert delivered["X-Posthorn-Tags"] is None
    assert delivered["X-PM-Metadata-order_id"] is None
    assert delivered.get_all("X-SES-CONFIGURATION-SET") != ["client-choice"]
    tags = delivered["X-SES-MESSAGE-TAGS"]
    assert "evil" not in tags
    assert f"posthorn_message_id={message_id}" in tags
    assert "welcome=true" in tags
    assert delivered["Message-ID"]
    assert delivered.get_payload(decode=True).strip() == b"Hello over SMTP"
    record = view(api, sender_key, message_id)
    assert record["status"] == "sent"
    assert record["tags"] == ["welcome", "beta"]
    assert record["metadata"] == {"order_id": "42"}
    assert record["client_reference"] == "order-42"
    assert {(r["email"], r["type"]) for r in record["recipients"]} == {
        ("user@example.net", "to"),
        ("hidden@example.org", "bcc"),
    }


def test_a_resent_message_answers_the_first_id_and_is_sent_once(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    mail = message({"Message-ID": "<resend-1@example.com>"})
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        first = send(smtp, mail)
    with client(relay, tls) as smtp:  # the client lost the 250 and sends the same bytes again
        smtp.login(*login_of(sender_key))
        again = send(smtp, mail)
    assert again == first
    worker.run_until_empty(timeout=20)
    assert posthorn_ids(local_ses) == {first: 1}
    assert view(api, sender_key, first)["status"] == "sent"


def test_mail_before_starttls_is_530_and_auth_is_only_offered_after_tls(
    relay: LocalRelay, tls: TlsMaterial
) -> None:
    with smtplib.SMTP("localhost", relay.starttls_port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        assert smtp.has_extn("starttls")
        code, reply = smtp.mail("hello@example.com")
        assert (code, reply.decode()) == (530, "5.7.0 Must issue a STARTTLS command first")
    with client(relay, tls) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("auth")
        for extension in ("size", "8bitmime", "pipelining"):
            assert smtp.has_extn(extension), extension


def test_implicit_tls_offers_auth(relay: LocalRelay, tls: TlsMaterial) -> None:
    with client(relay, tls, implicit=True) as smtp:
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"]
        assert "LOGIN" in smtp.esmtp_features["auth"]
        assert not smtp.has_extn("starttls")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_wrong_secret_is_535_and_the_third_failure_closes_with_421(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, mechanism: str
) -> None:
    username, _ = login_of(sender_key)
    with client(relay, tls) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = username, "wrong"
        answer = getattr(smtp, f"auth_{mechanism.lower()}")
        for _ in range(3):
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                smtp.auth(mechanism, answer, initial_response_ok=mechanism == "PLAIN")
            assert refused.value.smtp_code == 535
            assert refused.value.smtp_error == b"5.7.8 unauthorized: unknown credential or wrong secret"
        assert smtp.getreply()[0] == 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()


def test_mail_from_a_foreign_domain_is_550_5_7_1(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = smtp.mail("someone@other.org")
        assert (code, reply) == (
            550,
            b"5.7.1 sender_not_allowed: this credential may not send from other.org",
        )


def test_mail_from_a_domain_the_guard_paused_is_550_5_7_1_saying_so(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    from datetime import UTC, datetime

    from posthorn import wiring

    paused = wiring.domains().pause_domain("example.com", at=datetime.now(UTC), reason="bounce rate 9.00%")
    assert paused is not None
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = smtp.mail("hello@example.com")
    assert (code, reply[:5]) == (550, b"5.7.1")
    assert reply.startswith(
        b"5.7.1 domain_paused: sending from example.com is paused by the deliverability guard"
    )


def test_the_51st_recipient_is_452(relay: LocalRelay, tls: TlsMaterial, sender_key: str) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        smtp.mail("hello@example.com")
        for index in range(50):
            assert smtp.rcpt(f"u{index}@example.net")[0] == 250
        code, reply = smtp.rcpt("u50@example.net")
        assert (code, reply[:22]) == (452, b"4.5.3 validation_error")


def credential(api: ApiClient, admin: str, **fields: Any) -> str:
    body = {"name": "app", "domains": ["example.com"], "permissions": ["send", "read"], **fields}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "revoked"}, b"5.7.8 unauthorized: this credential has been revoked"),
        ({"status": "suspended"}, b"5.7.8 credential_suspended: this credential is suspended"),
        (None, b"5.7.8 forbidden: this credential lacks the 'send' permission"),
    ],
)
def test_revoked_suspended_or_without_send_is_535_saying_which(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    admin: str,
    sender_key: str,
    change: dict[str, str] | None,
    reason: bytes,
) -> None:
    key = credential(api, admin, permissions=["read"]) if change is None else credential(api, admin)
    if change is not None:
        username = key.partition(".")[0]
        assert api.patch(f"/v1/credentials/{username}", change, api_key=admin).status == 200
    with client(relay, tls) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp.login(*login_of(key))
    assert (refused.value.smtp_code, refused.value.smtp_error) == (535, reason)


def test_the_credential_store_unreachable_at_auth_is_454(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posthorn.adapters.dynamodb.credentials import CredentialRepository

    def unreachable(self: CredentialRepository, username: str) -> None:
        raise ConnectionError("DynamoDB is unreachable")

    monkeypatch.setattr(CredentialRepository, "get_credential", unreachable)
    with client(relay, tls) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp.login(*login_of(sender_key))
    assert refused.value.smtp_code == 454
    assert refused.value.smtp_error.startswith(b"4.7.0")


def test_a_suppressed_recipient_is_550_5_1_1_at_rcpt_and_the_others_are_sent(
    relay: LocalRelay, tls: TlsMaterial, api: ApiClient, sender_key: str, stack: Stack
) -> None:
    added = api.post("/v1/suppressions", {"email": "gone@example.net"}, api_key=sender_key)
    assert added.status == 201, added.body
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        smtp.mail("hello@example.com")
        code, reply = smtp.rcpt("Gone@example.net")
        assert (code, reply[:5]) == (550, b"5.1.1")
        assert smtp.rcpt("user@example.net")[0] == 250
        code, reply = smtp.data(crlf(message()))
        assert code == 250, reply
    message_id = reply.decode().rsplit(" ", 1)[-1]
    record = view(api, sender_key, message_id)
    assert [r["email"] for r in record["recipients"]] == ["user@example.net"]


def test_over_the_credentials_rate_is_451_4_7_1_and_that_message_is_not_sent(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    admin: str,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    key = credential(api, admin, rate_limit_per_second=1)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(key))
        first = send(smtp, message())
        code, reply = transact(smtp, crlf(message()))
    assert code == 451
    assert reply.decode().startswith("4.7.1 rate limit exceeded, try again in ")
    worker.run_until_empty(timeout=20)
    assert posthorn_ids(local_ses) == {first: 1}


def test_a_message_over_the_size_limit_is_552_5_3_4(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = smtp.mail("hello@example.com", options=["SIZE=45000000"])
        assert (code, reply[:24]) == (552, b"5.3.4 payload_too_large:")
        # A client is held to the SIZE it declared.
        assert smtp.mail("hello@example.com", options=["SIZE=1000"])[0] == 250
        smtp.rcpt("user@example.net")
        code, reply = smtp.data(crlf(message()) + (b"x" * 70 + b"\r\n") * 100)
        assert (code, reply[:24]) == (552, b"5.3.4 payload_too_large:")


def test_a_bad_control_header_is_550_5_6_0_naming_it(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, crlf(message({"X-Posthorn-Track-Opens": "perhaps"})))
    assert code == 550
    assert reply.decode().startswith("5.6.0 validation_error: X-Posthorn-Track-Opens: ")


def test_a_from_header_of_another_domain_is_550_5_7_1_at_the_end_of_data(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    mail = message()
    mail.replace_header("From", "someone@other.org")
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, crlf(mail))
    assert (code, reply) == (550, b"5.7.1 sender_not_allowed: this credential may not send from other.org")


def test_the_queue_unreachable_is_451_4_3_0_and_the_record_is_failed(
    relay: LocalRelay, tls: TlsMaterial, api: ApiClient, sender_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.queue import make_queue_unavailable

    make_queue_unavailable(monkeypatch)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, crlf(message()))
    assert (code, reply[:5]) == (451, b"4.3.0")


def test_over_the_tasks_connection_limit_is_421(stack: Stack, tls: TlsMaterial) -> None:
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, max_connections=1) as small,
        smtplib.SMTP("localhost", small.starttls_port, timeout=10) as first,
    ):
        assert first.noop()[0] == 250
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("localhost", small.starttls_port, timeout=10)
        assert refused.value.smtp_code == 421


def test_a_file_key_attaches_the_cached_file_to_the_clients_message(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    admin: str,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    key = credential(api, admin, permissions=["send", "read", "files"])
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    uploaded = api.request(
        "POST",
        "/v1/files",
        query="name=report.pdf",
        raw=pdf,
        api_key=key,
        headers={"Content-Type": "application/pdf"},
    )
    assert uploaded.status == 201, uploaded.body
    file_key = uploaded.json["file_key"]
    with client(relay, tls) as smtp:
        smtp.login(*login_of(key))
        send(smtp, message({"X-TM-FILE-KEY": f"{file_key}:Rechnung März.pdf"}))
    worker.run_until_empty(timeout=20)
    [received] = local_ses.outbox.list()
    delivered = message_from_bytes(received.raw)
    assert delivered.get_content_type() == "multipart/mixed"
    text, attachment = delivered.get_payload()  # type: ignore[misc]
    assert text.get_payload(decode=True).strip() == b"Hello over SMTP"
    assert attachment.get_filename() == "Rechnung März.pdf"
    assert attachment.get_payload(decode=True) == pdf
    assert delivered["X-TM-FILE-KEY"] is None


def test_a_client_that_drops_the_connection_after_data_and_resends_gets_one_message(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    sender_key: str,
    stack: Stack,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    import time

    mail = message({"Message-ID": "<dropped-1@example.com>"})
    smtp = client(relay, tls)
    smtp.login(*login_of(sender_key))
    smtp.mail("hello@example.com")
    smtp.rcpt("user@example.net")
    smtp.putcmd("data")
    assert smtp.getreply()[0] == 354
    smtp.send(crlf(mail).replace(b"\n.", b"\n..") + b".\r\n")
    time.sleep(0.5)  # the relay has the message; the client never reads the 250
    smtp.close()
    deadline = time.monotonic() + 10
    while not (queued := take_queued(stack.session, stack.ids["SendQueue"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(queued) == 1
    time.sleep(0.3)  # the duplicate check is completed just after the 250
    first = queued[0]["message_id"]
    assert view(api, sender_key, first)["status"] == "queued"  # stored: the 250 only never arrived
    with client(relay, tls) as again:
        again.login(*login_of(sender_key))
        assert send(again, mail) == first
    stack.session.client("sqs").send_message(
        QueueUrl=stack.ids["SendQueue"], MessageBody=json.dumps(queued[0])
    )
    worker.run_until_empty(timeout=20)
    assert posthorn_ids(local_ses) == {first: 1}


def proxied(relay: LocalRelay, source: str) -> smtplib.SMTP:
    """A connection as the load balancer makes it: a PROXY protocol v2 header naming `source` first."""
    import ipaddress
    import socket
    import struct

    sock = socket.create_connection(("127.0.0.1", relay.starttls_port), timeout=10)
    addresses = ipaddress.IPv4Address(source).packed + ipaddress.IPv4Address("127.0.0.1").packed
    header = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12)
    sock.sendall(header + addresses + struct.pack("!HH", 40000, 587))
    smtp = smtplib.SMTP()
    smtp.sock, smtp._host = sock, "localhost"
    code, _ = smtp.getreply()
    assert code == 220
    return smtp


THROTTLED = {"proxy_protocol": True, "max_auth_failures_per_ip": 2, "max_auth_failures_per_connection": 5}


def fail_auths_from(relay: LocalRelay, tls: TlsMaterial, source: str, username: str, times: int) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    for _ in range(times):
        smtp = proxied(relay, source)
        smtp.starttls(context=context)
        smtp.ehlo()
        smtp.user, smtp.password = username, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.auth("PLAIN", smtp.auth_plain)
        assert refused.value.smtp_code == 535
        smtp.close()


def test_behind_the_load_balancer_failed_auths_are_throttled_per_real_client_address(
    stack: Stack, tls: TlsMaterial, sender_key: str
) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    username, _ = login_of(sender_key)
    with LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, **THROTTLED) as behind:
        fail_auths_from(behind, tls, "203.0.113.7", username, times=2)
        blocked = proxied(behind, "203.0.113.7")
        blocked.starttls(context=context)
        blocked.ehlo()
        blocked.user, blocked.password = username, "wrong again"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            blocked.auth("PLAIN", blocked.auth_plain)  # one more failure: this address waits now
        assert refused.value.smtp_code == 421
        assert b"from your address" in refused.value.smtp_error
        with pytest.raises(smtplib.SMTPServerDisconnected):
            blocked.noop()
        blocked.close()
        other = proxied(behind, "198.51.100.9")
        other.starttls(context=context)
        other.ehlo()
        other.user, other.password = username, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            other.auth("PLAIN", other.auth_plain)
        assert refused.value.smtp_code == 535  # another address is not throttled
        other.close()


def test_a_right_secret_authenticates_from_an_address_throttled_for_failed_auths(
    stack: Stack, tls: TlsMaterial, sender_key: str
) -> None:
    """One NAT, many tenants: a client with a wrong secret must not lock out the others behind it."""
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    username, secret = login_of(sender_key)
    with LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, **THROTTLED) as behind:
        fail_auths_from(behind, tls, "203.0.113.7", username, times=2)  # the address is blocked now
        neighbour = proxied(behind, "203.0.113.7")
        neighbour.starttls(context=context)
        assert neighbour.login(username, secret)[0] == 235
        assert neighbour.noop()[0] == 250
        neighbour.close()
        again = proxied(behind, "203.0.113.7")
        again.starttls(context=context)
        again.ehlo()
        again.user, again.password = username, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            again.auth("PLAIN", again.auth_plain)
        assert refused.value.smtp_code == 421  # the address was blocked all along
        again.close()


def test_a_connection_is_closed_after_its_own_failed_auths_from_an_address_not_throttled(
    stack: Stack, tls: TlsMaterial, sender_key: str
) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    username, _ = login_of(sender_key)
    settings = {**THROTTLED, "max_auth_failures_per_ip": 10, "max_auth_failures_per_connection": 2}
    with LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, **settings) as behind:
        smtp = proxied(behind, "198.51.100.20")
        smtp.starttls(context=context)
        smtp.ehlo()
        smtp.user, smtp.password = username, "wrong"
        for _ in range(2):
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                smtp.auth("PLAIN", smtp.auth_plain)
            assert refused.value.smtp_code == 535
        assert smtp.getreply()[0] == 421  # the close that follows the second 535
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
        smtp.close()


def test_a_graceful_stop_finishes_the_transaction_in_flight_and_refuses_new_connections(
    stack: Stack, tls: TlsMaterial, sender_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from posthorn.adapters.dynamodb.messages import MessageRepository

    slow_write = MessageRepository.create_message

    def slowly(self: MessageRepository, record: Any) -> None:
        time.sleep(1.0)
        slow_write(self, record)

    monkeypatch.setattr(MessageRepository, "create_message", slowly)
    relay = LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file).start()
    port = relay.starttls_port
    replies: list[tuple[int, bytes]] = []
    idle, busy = client(relay, tls), client(relay, tls)
    busy.login(*login_of(sender_key))
    busy.mail("hello@example.com")
    busy.rcpt("user@example.net")
    sending = threading.Thread(target=lambda: replies.append(busy.data(crlf(message()))))
    sending.start()
    time.sleep(0.3)  # the message is being stored
    stopping = threading.Thread(target=relay.stop, kwargs={"grace_seconds": 10})
    stopping.start()
    sending.join(timeout=10)
    stopping.join(timeout=15)
    assert replies[0][0] == 250, replies  # the transaction in flight was answered
    assert idle.getreply() == (421, b"4.3.2 Service shutting down; try again in a moment")
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("localhost", port, timeout=2)  # and nothing listens any more


def test_no_log_line_carries_the_secret_or_the_message_body(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG, logger="smtp_relay")
    username, secret = login_of(sender_key)
    with client(relay, tls) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(username, "wrong-" + secret[:8])
        smtp.login(username, secret)
        message_id = send(smtp, message())
        smtp.mail("hello@other.org")
    relayed = [record for record in caplog.records if record.name.startswith("smtp_relay")]
    outcomes = [vars(record) for record in relayed if record.getMessage() == "smtp transaction"]
    assert [(o["username"], o["reply"], o["error_code"], o.get("message_id")) for o in outcomes] == [
        (username, "250 2.0.0", None, message_id),
        (username, "550 5.7.1", "sender_not_allowed", None),
    ]
    assert all(o["peer"] == "127.0.0.1" for o in outcomes)
    for record in relayed:
        text = record.getMessage() + repr(record.__dict__)
        assert secret not in text
        assert secret[:8] not in text
        assert "Hello over SMTP" not in text


def test_the_table_failing_at_data_is_451_and_nothing_is_accepted_or_sent(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.exceptions import ClientError

    from posthorn.adapters.dynamodb.messages import MessageRepository

    def throttled(self: MessageRepository, record: Any) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise ClientError(error, "PutItem")  # type: ignore[arg-type]

    monkeypatch.setattr(MessageRepository, "create_message", throttled)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, crlf(message()))
    assert (code, reply[:5]) == (451, b"4.3.0")
    worker.run_until_empty(timeout=20)  # no queue message was written: the record failed first
    assert len(local_ses.outbox) == 0


def test_dot_stuffed_lines_arrive_unstuffed_and_a_line_over_1000_octets_is_500(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, crlf(message()) + b"x" * 1200 + b"\r\n")
        assert code == 500, reply
        mail = message()
        mail.set_content(".one dot\n..two dots\n.\nend")
        smtp.mail("hello@example.com")
        smtp.rcpt("user@example.net")
        code, reply = smtp.data(crlf(mail))  # CRLF, as RFC 5321 has it
        assert code == 250, reply  # the session went on
        message_id = reply.decode().rsplit(" ", 1)[-1]
    worker.run_until_empty(timeout=20)
    [received] = local_ses.outbox.list()
    assert posthorn_ids(local_ses) == {message_id: 1}
    body = message_from_bytes(received.raw).get_payload(decode=True)
    assert body.replace(b"\r\n", b"\n") == b".one dot\n..two dots\n.\nend\n"


def test_a_second_starttls_is_refused_and_the_credential_is_released_at_the_end(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = smtp.docmd("STARTTLS")
        assert (code, reply[:5]) == (503, b"5.5.1")
        assert smtp.noop()[0] == 250  # the session goes on, still authenticated
    import time

    assert relay.relay is not None
    deadline = time.monotonic() + 5
    while relay.relay.listener.gate.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dict(relay.relay.listener.gate.sessions) == {}


def test_behind_the_load_balancer_port_465_is_tls_from_the_first_byte(
    stack: Stack, tls: TlsMaterial, sender_key: str
) -> None:
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, proxy_protocol=True) as behind,
        client(behind, tls, implicit=True) as smtp,
    ):
        assert smtp.login(*login_of(sender_key))[0] == 235


@pytest.mark.parametrize(
    "prefix",
    [b"", b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00", b"PROXY UNKNOWN\r\n"],
    ids=["plain", "proxy-v2-local", "proxy-v1"],
)
def test_the_health_endpoint_answers_with_or_without_a_proxy_header(
    stack: Stack, tls: TlsMaterial, prefix: bytes
) -> None:
    import socket

    free = socket.socket()  # health_port=0 means "no health endpoint": take a free port for it
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, health_port=port, proxy_protocol=True),
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
    ):
        sock.sendall(prefix + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_a_malformed_recipient_is_553_at_rcpt(relay: LocalRelay, tls: TlsMaterial, sender_key: str) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        smtp.mail("hello@example.com")
        code, reply = smtp.rcpt("bob")
        assert (code, reply[:22]) == (553, b"5.1.3 validation_error")


def test_a_lone_cr_in_the_header_block_is_550_5_6_0(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    raw = (
        message()
        .as_bytes(policy=policy.SMTP)
        .replace(b"Subject:", b"X-Note: hi\rBcc: secret@example.org\r\nSubject:", 1)
    )
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, raw)
    assert (code, reply[:5]) == (550, b"5.6.0")


@pytest.mark.parametrize(
    "header",
    [
        rb"From: =?utf-8?q?ceo=40other.org?=\<hello@example.com",  # a mail program shows ceo@other.org
        rb"From: hello@example.com,=?utf-8?q?ceo=40other.org?=\@",
        b"From: @example.com",
    ],
    ids=["encoded @ then \\<", "encoded @ then \\@", "empty local part"],
)
def test_a_from_that_mail_programs_could_read_as_another_sender_is_550_5_6_0(
    relay: LocalRelay,
    tls: TlsMaterial,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
    header: bytes,
) -> None:
    raw = crlf(message()).replace(b"From: App <hello@example.com>", header, 1)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, raw)
    assert (code, reply[:30]) == (550, b"5.6.0 validation_error: From: ")
    worker.run_until_empty(timeout=20)
    assert len(local_ses.outbox) == 0


def test_an_encoded_word_hiding_a_line_end_is_550_5_6_0_naming_the_header(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    raw = crlf(message()).replace(b"Subject: ", b"Subject: =?utf-8?q?a=0D=0AFrom:_ceo@other.org?= ", 1)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, raw)
    assert (code, reply) == (
        550,
        b"5.6.0 validation_error: Subject: an encoded word (RFC 2047) in it decodes to a CR, LF or NUL",
    )


def test_a_10_mb_folded_header_is_552_5_3_4_at_once(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    import time

    folded = b" " + b"a" * 76 + b"\r\n"
    raw = crlf(message({"X-Long": "x"})).replace(b"X-Long: x\r\n", b"X-Long: x\r\n" + folded * 130_000, 1)
    assert len(raw) > 10_000_000
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        started = time.perf_counter()
        code, reply = transact(smtp, raw)
        print(
            f"a 10 MB folded header answered in {time.perf_counter() - started:.2f} s (sending it included)"
        )
    assert (code, reply) == (552, b"5.3.4 payload_too_large: X-Long: the header field is over 65536 bytes")


def test_a_bad_file_key_is_550_5_6_0_naming_the_header_as_the_client_wrote_it(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, crlf(message({"X-TM-FILE-KEY": "nope"})))
    assert code == 550
    assert reply.decode().startswith("5.6.0 validation_error: X-TM-FILE-KEY: "), reply


def test_a_rotated_or_revoked_secret_stops_at_the_next_auth_with_the_deployed_cache(
    stack: Stack, tls: TlsMaterial, api: ApiClient, admin: str, sender_key: str
) -> None:
    key = credential(api, admin)
    username = key.partition(".")[0]
    with LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file) as deployed:  # cache_seconds: default
        assert deployed.settings.cache_seconds > 0
        with client(deployed, tls) as smtp:
            assert smtp.login(*login_of(key))[0] == 235
        rotated = api.post(f"/v1/credentials/{username}/secret", api_key=admin)
        assert rotated.status == 201, rotated.body
        with client(deployed, tls) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(*login_of(key))
        assert refused.value.smtp_code == 535
        new_key = str(rotated.json["api_key"])
        with client(deployed, tls) as smtp:
            assert smtp.login("posthorn", new_key)[0] == 235
        assert api.patch(f"/v1/credentials/{username}", {"status": "revoked"}, api_key=admin).status == 200
        with client(deployed, tls) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as revoked:
            smtp.login("posthorn", new_key)
        assert revoked.value.smtp_error == b"5.7.8 unauthorized: this credential has been revoked"


CHANGES_THAT_END_A_SESSION = [
    ({"status": "revoked"}, "unauthorized: this credential has been revoked"),
    ({"status": "suspended"}, "credential_suspended: this credential is suspended"),
    ({"permissions": ["read"]}, "forbidden: this credential lacks the 'send' permission"),
    ("rotate", "unauthorized: the secret this session authenticated with no longer works (rotated)"),
]


@pytest.mark.parametrize(("change", "reason"), CHANGES_THAT_END_A_SESSION)
def test_an_open_session_is_421_at_its_next_mail_from_within_2_s_of_a_credential_change(
    stack: Stack,
    tls: TlsMaterial,
    api: ApiClient,
    admin: str,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
    change: dict[str, Any] | str,
    reason: str,
) -> None:
    """docs/api.md, "Guarantees": a right taken away is gone within 2 s, sessions already open included."""
    key = credential(api, admin)
    username = key.partition(".")[0]
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file) as deployed,  # the deployed cache
        client(deployed, tls) as smtp,
    ):
        smtp.login(*login_of(key))
        before = send(smtp, message())
        if change == "rotate":
            assert api.post(f"/v1/credentials/{username}/secret", api_key=admin).status == 201
        else:
            assert api.patch(f"/v1/credentials/{username}", change, api_key=admin).status == 200
        time.sleep(2)
        code, reply = smtp.mail("hello@example.com")
        assert (code, reply.decode()) == (421, f"4.7.0 {reason}; closing the connection")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
    worker.run_until_empty(timeout=20)
    assert posthorn_ids(local_ses) == {before: 1}


def test_an_open_session_is_refused_at_the_end_of_data_when_revoked_after_its_rcpt(
    stack: Stack,
    tls: TlsMaterial,
    api: ApiClient,
    admin: str,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
) -> None:
    key = credential(api, admin)
    username = key.partition(".")[0]
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file) as deployed,
        client(deployed, tls) as smtp,
    ):
        smtp.login(*login_of(key))
        smtp.mail("hello@example.com")
        assert smtp.rcpt("user@example.net")[0] == 250
        assert api.patch(f"/v1/credentials/{username}", {"status": "revoked"}, api_key=admin).status == 200
        time.sleep(2)
        code, reply = smtp.data(crlf(message()))
        assert (code, reply[:5]) == (421, b"4.7.0")
    worker.run_until_empty(timeout=20)
    assert len(local_ses.outbox) == 0


# --- SMTP smuggling: aiosmtpd's own test (aiosmtpd/tests/test_smtpsmuggling.py, 1.4.6), ported to the relay,
# whose DATA reader is a fork of aiosmtpd's. Only CRLF "." CRLF ends DATA; a bare CR or LF anywhere in DATA
# refuses the message (docs/api.md, "SMTP relay"), after the client finished sending it, and nothing of it
# reaches SES.
BARE_LINE_ENDS = b"550 5.6.0 validation_error: the message has a bare CR or LF; send CRLF line endings only"
SMUGGLED = (
    b"MAIL FROM:<hello@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
    b"From: hello@example.com\r\nTo: victim@example.net\r\nSubject: smuggled\r\n\r\nsmuggled\r\n"
)


def send_raw_data(smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA with `data` sent as it is (smtplib's `data()` would fix its line ends and stuff its dots), the
    client's own final CRLF "." CRLF included in `data`: the one reply to it."""
    smtp.mail("hello@example.com")
    assert smtp.rcpt("user@example.net")[0] == 250
    smtp.putcmd("data")
    assert smtp.getreply()[0] == 354
    smtp.send(data)
    return smtp.getreply()


def test_aiosmtpds_smuggling_probe_is_refused_and_nothing_is_sent(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, worker: QueuePoller, local_ses: LocalSes
) -> None:
    # aiosmtpd's message, byte for byte: a fake end of data `\n.\r\n` and a bare LF after "NO SMUGGLING".
    message_data = (
        b"From: Anne Person <hello@example.com>\r\nTo: Bart Person <user@example.net>\r\n"
        b"Subject: A test\r\nMessage-ID: <ant>\r\n\r\nTesting\n.\r\nNO SMUGGLING\n\r\n.\r\n"
    )
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = send_raw_data(smtp, message_data)
        assert b"%d %s" % (code, reply) == BARE_LINE_ENDS
        assert smtp.noop() == (250, b"OK")  # one reply: DATA ended where the client ended it
    worker.run_until_empty(timeout=20)
    assert len(local_ses.outbox) == 0


@pytest.mark.parametrize("change", ["domain_removed", "domain_paused"])
def test_an_open_session_is_550_at_mail_from_within_2_s_of_its_domain_going(
    stack: Stack, tls: TlsMaterial, api: ApiClient, admin: str, sender_key: str, change: str
) -> None:
    key = credential(api, admin)
    username = key.partition(".")[0]
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file) as deployed,
        client(deployed, tls) as smtp,
    ):
        smtp.login(*login_of(key))
        send(smtp, message())
        if change == "domain_removed":
            assert api.post("/v1/domains", {"domain": "other.test"}, api_key=admin).status == 201
            patched = api.patch(f"/v1/credentials/{username}", {"domains": ["other.test"]}, api_key=admin)
            assert patched.status == 200, patched.body
            expected = b"5.7.1 sender_not_allowed"
        else:
            from posthorn import wiring

            paused = wiring.domains().pause_domain("example.com", at=datetime.now(UTC), reason="test")
            assert paused is not None
            expected = b"5.7.1 domain_paused"
        time.sleep(2)
        code, reply = smtp.mail("hello@example.com")
        assert (code, reply[: len(expected)]) == (550, expected), reply


def test_a_suppression_made_through_the_api_is_550_at_rcpt_within_2_s(
    stack: Stack, tls: TlsMaterial, api: ApiClient, sender_key: str
) -> None:
    with (
        LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file) as deployed,
        client(deployed, tls) as smtp,
    ):
        smtp.login(*login_of(sender_key))
        smtp.mail("hello@example.com")
        assert smtp.rcpt("soon-gone@example.net")[0] == 250  # the domain's list is now in memory
        smtp.rset()
        added = api.post("/v1/suppressions", {"email": "soon-gone@example.net"}, api_key=sender_key)
        assert added.status == 201, added.body
        time.sleep(2)
        smtp.mail("hello@example.com")
        code, reply = smtp.rcpt("soon-gone@example.net")
        assert (code, reply[:5]) == (550, b"5.1.1")


def test_under_queue_and_table_write_faults_a_451_is_never_sent_and_a_250_is_sent_once(
    relay: LocalRelay,
    tls: TlsMaterial,
    api: ApiClient,
    admin: str,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe of issue 18 (52 of 68 messages answered `451 4.3.0` were sent anyway), with the worker
    draining the queue at the same time: SQS refusing outright, SQS taking a message whose answer is lost
    (a worker may claim it before the relay withdraws it: then it is accepted), DynamoDB refusing the record.
    Each client retries a 4xx with the same bytes, as SMTP clients do."""
    import random

    from botocore.exceptions import ClientError

    from posthorn.adapters.dynamodb.messages import MessageRepository
    from posthorn.adapters.send_queue import SqsSendQueue

    chance = random.Random(18)
    real_enqueue, real_create = SqsSendQueue.enqueue, MessageRepository.create_message

    def faulty_enqueue(self: SqsSendQueue, messages: list[Any]) -> set[str]:
        roll = chance.random()
        if roll < 0.25:
            return {message.message_id for message in messages}  # SQS refused them
        if roll < 0.5:
            real_enqueue(self, messages)
            time.sleep(0.3)  # the worker may claim (and even send) it meanwhile
            raise TimeoutError("SQS took the message; its answer was lost")
        return real_enqueue(self, messages)

    def faulty_create(self: MessageRepository, record: Any) -> None:
        if chance.random() < 0.2:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "PutItem")  # type: ignore[arg-type]
        real_create(self, record)

    monkeypatch.setattr(SqsSendQueue, "enqueue", faulty_enqueue)
    monkeypatch.setattr(MessageRepository, "create_message", faulty_create)
    key = credential(api, admin, rate_limit_per_second=1000)
    told: dict[str, list[str]] = {}  # token -> every reply the client got
    stop = threading.Event()

    def drain_meanwhile() -> None:  # the worker, polling as Lambda's event source does, without spinning
        while not stop.is_set():
            if not worker.poll_once(wait_seconds=0):
                stop.wait(0.05)

    draining = threading.Thread(target=drain_meanwhile, daemon=True)
    draining.start()
    try:
        with client(relay, tls) as smtp:
            assert smtp.sock is not None
            smtp.sock.settimeout(60)  # a slow shared machine: the point is the replies, not their pace
            smtp.login(*login_of(key))
            for index in range(24):
                token = f"fault-{index}"
                mail = message({"Message-ID": f"<{token}@example.com>"})
                del mail["Subject"]
                mail["Subject"] = token
                for _ in range(4):  # the client's retries of a 4xx, with the same bytes
                    code, reply = transact(smtp, crlf(mail))
                    told.setdefault(token, []).append(f"{code} {reply.decode()}")
                    if code < 400 or code >= 500:
                        break
    finally:
        stop.set()
        draining.join(timeout=60)
    monkeypatch.setattr(SqsSendQueue, "enqueue", real_enqueue)
    worker.run_until_empty(timeout=30)

    copies: dict[str, int] = {}
    for received in local_ses.outbox.list():
        subject = str(message_from_bytes(received.raw).get("Subject", ""))
        copies[subject] = copies.get(subject, 0) + 1
    problems = []
    for token, replies in told.items():
        accepted = [reply for reply in replies if reply.startswith("250")]
        ids = {reply.rsplit(" ", 1)[-1] for reply in accepted}
        expected = 1 if accepted else 0
        if copies.get(token, 0) != expected or len(ids) > 1:
            problems.append(f"{token}: told {replies}, {copies.get(token, 0)} copies reached SES")
    assert problems == []
    outcomes = Counter(reply[:9] for replies in told.values() for reply in replies)
    assert outcomes["451 4.3.0"] > 0  # the faults were hit
    assert outcomes["250 2.0.0"] > 0


@pytest.mark.parametrize(
    "fake_end",
    [b"\r.\r\n", b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r\n.\r", b"\r\n.\n"],
    ids=["CR.CRLF", "LF.LF", "LF.CRLF", "CR.LF", "CRLF.CR", "CRLF.LF"],
)
def test_a_fake_end_of_data_neither_ends_data_nor_is_passed_on(
    relay: LocalRelay,
    tls: TlsMaterial,
    sender_key: str,
    worker: QueuePoller,
    local_ses: LocalSes,
    fake_end: bytes,
) -> None:
    head = crlf(message()).partition(b"\r\n\r\n")[0]
    data = head + b"\r\n\r\nTesting" + fake_end + SMUGGLED + b".\r\n"
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = send_raw_data(smtp, data)
        # Had the fake end ended DATA, this would be the first message's 250 and the smuggled commands'
        # replies would follow: NOOP would not be answered next.
        assert b"%d %s" % (code, reply) == BARE_LINE_ENDS
        assert smtp.noop() == (250, b"OK")
    worker.run_until_empty(timeout=20)
    assert len(local_ses.outbox) == 0


@pytest.mark.parametrize("size", ["short", "over 1000 octets"])
def test_a_message_written_with_lf_line_ends_is_refused_saying_so(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, size: str
) -> None:
    """`smtplib.sendmail()` sends bytes as they are: `EmailMessage.as_bytes()` has LF line ends. Sent whole
    it reads as one line, or, longer, as a line over 1,000 octets: the reply names the bare LF either way."""
    raw = message().as_bytes() + (b"x" * 70 + b"\n") * (20 if size == "over 1000 octets" else 0)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, raw)
        assert b"%d %s" % (code, reply) == BARE_LINE_ENDS
        assert smtp.noop() == (250, b"OK")


def test_crlf_dot_crlf_still_ends_data_and_a_clean_message_is_sent(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, worker: QueuePoller, local_ses: LocalSes
) -> None:
    raw = crlf(message())
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = send_raw_data(smtp, raw + b".\r\n")
        assert code == 250, reply
        assert smtp.noop()[0] == 250
    worker.run_until_empty(timeout=20)
    [received] = local_ses.outbox.list()
    assert b"\r\n\r\nHello over SMTP\r\n" in received.raw


@pytest.mark.parametrize(("characters", "code"), [(998, 250), (999, 500), (1001, 500)])
def test_a_line_is_at_most_1000_octets_with_its_crlf_as_ses_takes_it(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, characters: int, code: int
) -> None:
    """A line SES would refuse after the 250 is refused before it (RFC 5321 4.5.3.1.6)."""
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        answer, reply = transact(smtp, crlf(message()) + b"y" * characters + b"\r\n")
        assert answer == code, reply
        assert smtp.noop()[0] == 250  # the session goes on


def test_the_rest_of_a_51_recipient_message_sent_with_the_same_bytes_is_another_message(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, worker: QueuePoller, local_ses: LocalSes
) -> None:
    """After `452 4.5.3` a client sends the rest in another transaction, with the same bytes and Message-ID:
    that is not a resend (the envelope differs), and every recipient gets the message once."""
    recipients = [f"r{index}@example.net" for index in range(55)]
    data = crlf(message({"Message-ID": "<fifty-five@example.com>"}))
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        smtp.mail("hello@example.com")
        answers = [smtp.rcpt(address)[0] for address in recipients]
        assert answers == [250] * 50 + [452] * 5
        first_code, first = smtp.data(data)
        assert first_code == 250, first
        smtp.mail("hello@example.com")
        for address in recipients[50:]:
            assert smtp.rcpt(address)[0] == 250
        rest_code, rest = smtp.data(data)
        assert rest_code == 250, rest
    assert first.split()[-1] != rest.split()[-1]
    worker.run_until_empty(timeout=30)
    delivered = sorted(address for received in local_ses.outbox.list() for address in received.rcpt_to)
    assert delivered == sorted(recipients)


@pytest.mark.parametrize("username", ["emailapikey", "hello@example.com", "posthorn"])
def test_the_whole_api_key_as_password_logs_in_with_the_vendors_usernames(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str, username: str
) -> None:
    """ZeptoMail documents `emailapikey` or the From address as the username (docs/api.md, "SMTP relay")."""
    with client(relay, tls) as smtp:
        assert smtp.login(username, sender_key)[0] == 235
        assert send(smtp, message()).startswith("msg_")
