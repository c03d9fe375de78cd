"""The local SES SMTP server, driven by the stdlib smtplib client over loopback with verified TLS."""

from __future__ import annotations

import base64
import json
import logging
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posthorn_local.ses_smtp_server import FaultPlan, LocalSes, OutboxMessage
from posthorn_local.tls import TlsMaterial, make_tls_material

USERNAME = "AKIALOCALSES0000"
PASSWORD = "local-smtp-password"
SES_ID = re.compile(r"0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}-000000")
RAW = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHello\r\n"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def ses(tls: TlsMaterial) -> Iterator[LocalSes]:
    with LocalSes(username=USERNAME, password=PASSWORD, tls=tls, faults=FaultPlan(seed=7)) as server:
        yield server


def connect(ses: LocalSes, tls: TlsMaterial, *, login: bool = True) -> smtplib.SMTP:
    """Plain connect, STARTTLS with certificate verification, then AUTH — as the send path does."""
    smtp = smtplib.SMTP("127.0.0.1", ses.port, timeout=5)
    smtp.ehlo()
    smtp.starttls(context=tls.client_context())
    smtp.ehlo()
    if login:
        smtp.login(USERNAME, PASSWORD)
    return smtp


def transaction(smtp: smtplib.SMTP, raw: bytes = RAW, rcpt: tuple[str, ...] = ("b@example.net",)) -> tuple:
    assert smtp.mail("a@example.com", ["BODY=8BITMIME"])[0] == 250
    for address in rcpt:
        assert smtp.rcpt(address)[0] == 250
    return smtp.data(raw)


def test_data_reply_is_250_ok_with_ses_message_id(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls) as smtp:
        code, reply = transaction(smtp)

    [stored] = ses.outbox.list()
    assert code == 250
    assert reply == f"Ok {stored.ses_message_id}".encode()
    assert SES_ID.fullmatch(stored.ses_message_id)
    assert (stored.mail_from, stored.rcpt_to) == ("a@example.com", ("b@example.net",))


def test_raw_bytes_round_trip_exactly_with_leading_dots_and_8bit_utf8(
    ses: LocalSes, tls: TlsMaterial
) -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@example.net\r\nSubject: dots\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b".a line that starts with a dot\r\n..two dots\r\n.\r\n" + "Grüße, 你好 — ✉\r\n".encode()
    )
    with connect(ses, tls) as smtp:
        transaction(smtp, raw)

    [stored] = ses.outbox.list()
    assert stored.raw == raw
    assert stored.size == len(raw)


def test_mail_before_auth_is_530(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls, login=False) as smtp:
        assert smtp.mail("a@example.com") == (530, b"Authentication required")


def test_wrong_password_is_535(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls, login=False) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as error:
        smtp.login(USERNAME, "wrong")
    assert error.value.smtp_code == 535
    assert error.value.smtp_error == b"Authentication Credentials Invalid"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_plain_and_login_are_accepted(ses: LocalSes, tls: TlsMaterial, mechanism: str) -> None:
    with connect(ses, tls, login=False) as smtp:
        smtp.user, smtp.password = USERNAME, PASSWORD
        authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        code, _ = smtp.auth(mechanism, authobject, initial_response_ok=False)
        assert code == 235
        assert transaction(smtp)[0] == 250


def test_auth_before_starttls_is_refused(ses: LocalSes) -> None:
    with smtplib.SMTP("127.0.0.1", ses.port, timeout=5) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")
        credentials = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
        code, reply = smtp.docmd("AUTH", f"PLAIN {credentials}")
        assert code == 530
        assert b"STARTTLS" in reply
        assert smtp.mail("a@example.com")[0] == 530


def test_starttls_certificate_must_verify_against_the_local_ca(ses: LocalSes) -> None:
    with smtplib.SMTP("127.0.0.1", ses.port, timeout=5) as smtp, pytest.raises(ssl.SSLCertVerificationError):
        smtp.starttls(context=ssl.create_default_context())


def test_implicit_tls_mode_sends_and_checks_the_hostname(tls: TlsMaterial) -> None:
    with LocalSes(username=USERNAME, password=PASSWORD, tls=tls, mode="tls") as ses:
        with smtplib.SMTP_SSL("127.0.0.1", ses.port, timeout=5, context=tls.client_context()) as smtp:
            smtp.ehlo()
            assert not smtp.has_extn("starttls")
            assert smtp.mail("a@example.com") == (530, b"Authentication required")
            smtp.login(USERNAME, PASSWORD)
            code, reply = transaction(smtp)
        assert code == 250
        assert reply == f"Ok {ses.outbox.list()[0].ses_message_id}".encode()

        sock = socket.create_connection(("127.0.0.1", ses.port), timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            tls.client_context().wrap_socket(sock, server_hostname="not-localhost.example")
        sock.close()


@pytest.mark.parametrize(
    ("outcome", "reply"),
    [
        ("451", (451, b"Temporary service failure")),
        ("454", (454, b"Throttling failure: Maximum sending rate exceeded")),
        ("554", (554, b"Transaction failed: Message rejected by the local SES fault plan.")),
    ],
)
def test_scripted_fault_replies_then_next_transaction_succeeds(
    ses: LocalSes, tls: TlsMaterial, outcome: str, reply: tuple[int, bytes]
) -> None:
    ses.faults.force(outcome)
    with connect(ses, tls) as smtp:
        assert transaction(smtp) == reply
        assert len(ses.outbox) == 0
        assert transaction(smtp)[0] == 250
    assert ses.faults.injected == {outcome: 1}
    assert len(ses.outbox) == 1


def test_scripted_421_replies_and_closes_the_connection(ses: LocalSes, tls: TlsMaterial) -> None:
    ses.faults.force("421")
    with connect(ses, tls) as smtp:
        assert transaction(smtp) == (421, b"Too many concurrent SMTP connections")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
    assert len(ses.outbox) == 0


def test_scripted_drop_closes_without_a_reply(ses: LocalSes, tls: TlsMaterial) -> None:
    ses.faults.force("drop")
    with connect(ses, tls) as smtp, pytest.raises(smtplib.SMTPServerDisconnected):
        transaction(smtp)
    assert len(ses.outbox) == 0
    assert ses.faults.injected["drop"] == 1
    with connect(ses, tls) as again:
        assert transaction(again)[0] == 250


def test_random_faults_are_reproducible_with_a_seed() -> None:
    def outcomes(seed: int) -> list[str]:
        plan = FaultPlan(transient_rate=0.3, permanent_rate=0.1, drop_rate=0.1, seed=seed)
        return [plan.next_outcome() for _ in range(200)]

    first = outcomes(42)
    assert first == outcomes(42)
    assert {"ok", "421", "451", "454", "554", "drop"} <= set(first)
    assert first != outcomes(43)


def test_script_is_consumed_before_random_rates() -> None:
    plan = FaultPlan(permanent_rate=1.0, script=["ok", "drop"])
    assert [plan.next_outcome() for _ in range(3)] == ["ok", "drop", "554"]
    assert plan.injected == {"drop": 1, "554": 1}


def test_unknown_scripted_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault outcome"):
        FaultPlan(script=["500"])


def test_reply_delay_delays_each_reply(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls) as smtp:
        ses.faults.reply_delay = 0.15
        started = time.monotonic()
        assert smtp.noop()[0] == 250
        assert smtp.noop()[0] == 250
        elapsed = time.monotonic() - started
    assert elapsed >= 0.3


def test_size_is_advertised_in_ehlo(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls) as smtp:
        assert smtp.esmtp_features["size"] == str(ses.max_message_size)
    assert ses.max_message_size > 40 * 1024 * 1024


def test_over_size_message_is_552(tls: TlsMaterial) -> None:
    with LocalSes(username=USERNAME, password=PASSWORD, tls=tls, max_message_size=1024) as ses:
        with connect(ses, tls) as smtp:
            assert smtp.mail("a@example.com", ["SIZE=2048"])[0] == 552
            big = RAW + b"x" * 70 + b"\r\n"
            code, _ = transaction(smtp, big * 20)
            assert code == 552
        assert len(ses.outbox) == 0


def test_malformed_addresses_are_501(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls) as smtp:
        assert smtp.mail("not-an-address") == (501, b"Invalid MAIL FROM address provided")
        assert smtp.mail("a@example.com")[0] == 250
        assert smtp.rcpt("nobody") == (501, b"Invalid RCPT TO address provided")
        # smtplib normalises addresses, so send the malformed ones verbatim.
        assert smtp.docmd("RCPT", "TO:<b@exa mple.net>")[0] == 501
        assert smtp.docmd("RCPT", "TO:<a@b@example.net>")[0] in (501, 553)
        assert smtp.docmd("RCPT", "TO:<b@-example.net>") == (501, b"Invalid RCPT TO address provided")


def test_more_than_50_recipients_is_554(ses: LocalSes, tls: TlsMaterial) -> None:
    recipients = tuple(f"r{index}@example.net" for index in range(51))
    with connect(ses, tls) as smtp:
        assert transaction(smtp, rcpt=recipients) == (554, b"Transaction failed: Recipient count exceeds 50.")
        assert transaction(smtp, rcpt=recipients[:50])[0] == 250
    assert len(ses.outbox.list()[0].rcpt_to) == 50


def test_on_message_is_called_once_per_accepted_message(tls: TlsMaterial) -> None:
    seen: list[OutboxMessage] = []
    with LocalSes(username=USERNAME, password=PASSWORD, tls=tls, on_message=seen.append) as ses:
        ses.faults.force("ok", "451", "ok")
        with connect(ses, tls) as smtp:
            codes = [transaction(smtp)[0] for _ in range(3)]
        ses.wait_for_callbacks()
        assert codes == [250, 451, 250]
        assert [message.id for message in seen] == [message.id for message in reversed(ses.outbox.list())]


def test_raising_on_message_still_replies_250_and_is_logged(
    tls: TlsMaterial, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(message: OutboxMessage) -> None:
        raise RuntimeError("event publishing failed")

    with LocalSes(username=USERNAME, password=PASSWORD, tls=tls, on_message=explode) as ses:
        with connect(ses, tls) as smtp, caplog.at_level(logging.ERROR, "posthorn_local"):
            assert transaction(smtp)[0] == 250
            ses.wait_for_callbacks()
        [stored] = ses.outbox.list()
    assert any(stored.id in record.getMessage() and record.exc_info for record in caplog.records)


def test_outbox_lists_newest_first_with_json_summaries(ses: LocalSes, tls: TlsMaterial) -> None:
    with connect(ses, tls) as smtp:
        replies = [transaction(smtp, RAW + f"{index}\r\n".encode())[1] for index in range(3)]

    listed = ses.outbox.list()
    assert [f"Ok {message.ses_message_id}".encode() for message in listed] == replies[::-1]
    summary = json.loads(json.dumps(listed[0].to_summary()))
    assert set(summary) == {"id", "ses_message_id", "mail_from", "rcpt_to", "received_at", "size"}
    assert summary["rcpt_to"] == ["b@example.net"]
    assert summary["received_at"].endswith("+00:00")
    assert ses.outbox.get(listed[0].id) == listed[0]
    ses.outbox.clear()
    assert ses.outbox.list() == []


def test_wait_for_returns_when_messages_arrive_and_times_out_otherwise(
    ses: LocalSes, tls: TlsMaterial
) -> None:
    with pytest.raises(TimeoutError):
        ses.outbox.wait_for(1, timeout=0.05)

    def send() -> None:
        with connect(ses, tls) as smtp:
            transaction(smtp)

    sender = threading.Thread(target=send)
    sender.start()
    [message] = ses.outbox.wait_for(1, timeout=5)
    sender.join()
    assert message.raw == RAW


def test_port_zero_binds_a_free_port_and_ca_file_is_written(ses: LocalSes, tls: TlsMaterial) -> None:
    assert ses.port > 0
    assert Path(tls.ca_file).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_stop_closes_connections_still_open(tls: TlsMaterial) -> None:
    ses = LocalSes(username=USERNAME, password=PASSWORD, tls=tls)
    ses.start()
    with connect(ses, tls) as smtp:
        ses.stop()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
