"""The SMTP relay with Python's smtplib (a client nobody here wrote): moto in-process where AWS would be, the
relay on loopback with STARTTLS and implicit TLS, and the send worker delivering to the local SES. Every
reply code of API.md's "SMTP relay" section is checked here or in the other clients' tests."""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Iterator
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


def send(smtp: smtplib.SMTP, mail: EmailMessage, rcpt: list[str] | None = None) -> str:
    """The message id from `250 2.0.0 Ok: queued as <id>`."""
    smtp.mail("hello@example.com")
    for address in rcpt or ["user@example.net"]:
        code, reply = smtp.rcpt(address)
        assert code == 250, reply
    code, reply = smtp.data(mail.as_bytes())
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
            assert refused.value.smtp_error.startswith(b"5.7.8 unknown credential or wrong secret")
        assert smtp.getreply()[0] == 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()


def test_mail_from_a_foreign_domain_is_550_5_7_1(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = smtp.mail("someone@other.org")
        assert code == 550
        assert reply.startswith(b"5.7.1")


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
    assert b"paused by the deliverability guard" in reply


def test_the_51st_recipient_is_452(relay: LocalRelay, tls: TlsMaterial, sender_key: str) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        smtp.mail("hello@example.com")
        for index in range(50):
            assert smtp.rcpt(f"u{index}@example.net")[0] == 250
        code, reply = smtp.rcpt("u50@example.net")
        assert (code, reply[:5]) == (452, b"4.5.3")


def credential(api: ApiClient, admin: str, **fields: Any) -> str:
    body = {"name": "app", "domains": ["example.com"], "permissions": ["send", "read"], **fields}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "revoked"}, b"5.7.8 this credential has been revoked"),
        ({"status": "suspended"}, b"5.7.8 this credential is suspended"),
        (None, b"5.7.8 this credential lacks the 'send' permission"),
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
        code, reply = smtp.data(message().as_bytes())
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
        code, reply = transact(smtp, message().as_bytes())
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
        assert (code, reply[:5]) == (552, b"5.3.4")
        # A client is held to the SIZE it declared.
        assert smtp.mail("hello@example.com", options=["SIZE=1000"])[0] == 250
        smtp.rcpt("user@example.net")
        code, reply = smtp.data(message().as_bytes() + (b"x" * 70 + b"\r\n") * 100)
        assert (code, reply[:5]) == (552, b"5.3.4")


def test_a_bad_control_header_is_550_5_6_0_naming_it(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, message({"X-Posthorn-Track-Opens": "perhaps"}).as_bytes())
    assert code == 550
    assert reply.decode().startswith("5.6.0 X-Posthorn-Track-Opens: ")


def test_a_from_header_of_another_domain_is_550_5_7_1_at_the_end_of_data(
    relay: LocalRelay, tls: TlsMaterial, sender_key: str
) -> None:
    mail = message()
    mail.replace_header("From", "someone@other.org")
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, mail.as_bytes())
    assert (code, reply[:5]) == (550, b"5.7.1")


def test_the_queue_unreachable_is_451_4_3_0_and_the_record_is_failed(
    relay: LocalRelay, tls: TlsMaterial, api: ApiClient, sender_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.queue import make_queue_unavailable

    make_queue_unavailable(monkeypatch)
    with client(relay, tls) as smtp:
        smtp.login(*login_of(sender_key))
        code, reply = transact(smtp, message().as_bytes())
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
    smtp.send(mail.as_bytes().replace(b"\n.", b"\n..") + b"\r\n.\r\n")
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
    sending = threading.Thread(target=lambda: replies.append(busy.data(message().as_bytes())))
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
        send(smtp, message())
    relayed = [record for record in caplog.records if record.name.startswith("smtp_relay")]
    assert any(record.getMessage() == "message accepted" for record in relayed)
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
        code, reply = transact(smtp, message().as_bytes())
    assert (code, reply[:5]) == (451, b"4.3.0")
    worker.run_until_empty(timeout=20)  # the queue message written beside the failed record is dropped
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
        code, reply = transact(smtp, message().as_bytes() + b"x" * 1200 + b"\r\n")
        assert code == 500, reply
        mail = message()
        mail.set_content(".one dot\n..two dots\n.\nend")
        smtp.mail("hello@example.com")
        smtp.rcpt("user@example.net")
        code, reply = smtp.data(mail.as_bytes(policy=policy.SMTP))  # CRLF, as RFC 5321 has it
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
        assert (code, reply[:5]) == (553, b"5.1.3")


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
        assert revoked.value.smtp_error == b"5.7.8 this credential has been revoked"
