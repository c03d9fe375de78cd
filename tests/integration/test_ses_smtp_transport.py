"""The SES SMTP transport against the local SES (STARTTLS + AUTH on loopback): connection pooling, retries
on SES's transient replies, permanent refusals, and how the API answers each of them."""

from __future__ import annotations

import json
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from posthorn.adapters.ses_smtp import PendingCredentials, SesSmtpTransport, SmtpSettings
from posthorn.errors import DeliveryRejected, DeliveryUnavailable
from posthorn.models.raw_message import RawMessage, encode_base64_body
from posthorn_local.ses_smtp_server import FaultPlan, LocalSes
from posthorn_local.tls import TlsMaterial
from tests.conftest import SMTP, Stack
from tests.support.api import ApiClient
from tests.support.fakes import ManualMonotonic
from tests.support.queue import make_queue_unavailable, take_queued

RAW = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHello\r\n"
BUDGET = 2.0


class Harness:
    """A transport on a clock the test moves: backoff sleeps advance it, so retries take no real time."""

    def __init__(
        self,
        ses: LocalSes,
        material: TlsMaterial,
        *,
        password: str = SMTP.password,
        credentials: Callable[[], tuple[str, str]] | None = None,
        **settings: Any,
    ) -> None:
        """`credentials`: what AUTH waits for instead of the settings' (the secret still being read)."""
        self.clock = ManualMonotonic()
        self.sleeps: list[float] = []
        self.transport = SesSmtpTransport(
            SmtpSettings(
                host="localhost",
                port=ses.port,
                username=SMTP.username,
                password=password,
                ca_file=str(material.ca_file),
                timeout=5.0,
                **settings,
            ),
            sleep=self._sleep,
            clock=self.clock,
            credentials=credentials,
        )

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def send(self, raw: bytes | RawMessage = RAW, rcpt: tuple[str, ...] = ("b@example.net",)) -> Any:
        message = RawMessage.of(raw) if isinstance(raw, bytes) else raw
        return self.transport.send("a@example.com", list(rcpt), message, deadline=self.clock() + BUDGET)


@pytest.fixture
def harness(local_ses: LocalSes, tls: TlsMaterial) -> Iterator[Harness]:
    made = Harness(local_ses, tls)
    yield made
    made.transport.close()


# --- the transport on its own ------------------------------------------------------------------------
def stored_status(message_id: str) -> str:
    """The message status as the store reports it (derived from the recipients' statuses)."""
    from posthorn import wiring

    record = wiring.messages().get_message_record(message_id)
    assert record is not None
    return record.status


def test_send_returns_the_ses_message_id(harness: Harness, local_ses: LocalSes) -> None:
    receipt = harness.send()
    [received] = local_ses.outbox.list()
    assert receipt.ses_message_id == received.ses_message_id
    assert receipt.refused == {}
    assert received.raw == RAW


def test_two_sends_in_a_row_use_one_connection(harness: Harness, local_ses: LocalSes) -> None:
    harness.send()
    harness.clock.advance(0.5)
    harness.send()
    assert harness.transport.connections_opened == 1
    assert len(local_ses.outbox) == 2


def test_a_connection_opened_ahead_is_the_one_the_first_send_takes(
    harness: Harness, local_ses: LocalSes
) -> None:
    harness.transport.open_ahead()
    harness.send()
    harness.send()
    assert harness.transport.connections_opened == 1
    assert len(local_ses.outbox) == 2


def test_the_connection_ahead_waits_for_the_credentials_only_at_auth(
    local_ses: LocalSes, tls: TlsMaterial, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a new process does (`transport_from_settings`): the handshake runs while the secret is read."""
    steps: list[str] = []
    real_starttls, real_login = smtplib.SMTP.starttls, smtplib.SMTP.login

    def starttls(self: smtplib.SMTP, *args: Any, **kwargs: Any) -> Any:
        steps.append("starttls")
        return real_starttls(self, *args, **kwargs)

    def login(self: smtplib.SMTP, user: str, password: str, **kwargs: Any) -> Any:
        steps.append(f"login {user}")
        return real_login(self, user, password, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "starttls", starttls)
    monkeypatch.setattr(smtplib.SMTP, "login", login)
    credentials = PendingCredentials()
    harness = Harness(local_ses, tls, password="", credentials=credentials)
    harness.transport.open_ahead()
    for _ in range(1000):  # the handshake goes as far as it can without them
        if steps:
            break
        time.sleep(0.01)
    time.sleep(0.1)
    assert steps == ["starttls"]
    steps.append("secret read")
    credentials.give(SMTP.username, SMTP.password)
    harness.send()
    assert steps == ["starttls", "secret read", f"login {SMTP.username}"]
    assert harness.transport.connections_opened == 1
    assert len(local_ses.outbox) == 1
    harness.transport.close()


def test_credentials_that_could_not_be_read_fail_the_connection_ahead_and_the_send_alike(
    local_ses: LocalSes, tls: TlsMaterial
) -> None:
    credentials = PendingCredentials()
    harness = Harness(local_ses, tls, credentials=credentials)
    harness.transport.open_ahead()
    credentials.withdraw()
    with pytest.raises(DeliveryUnavailable, match="secret could not be read"):
        harness.send()
    assert harness.transport.connections_opened == 0
    assert len(local_ses.outbox) == 0


def test_a_send_waits_for_a_slow_connection_ahead_no_longer_than_for_a_reply(
    local_ses: LocalSes, tls: TlsMaterial
) -> None:
    """A connection ahead stuck (here: at AUTH) holds the send up for its socket timeout at most; the send
    opens its own, and the one ahead is closed once it is open."""
    release = threading.Event()
    calls: list[str] = []

    def credentials() -> tuple[str, str]:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            release.wait(10)
        return SMTP.username, SMTP.password

    harness = Harness(local_ses, tls, credentials=credentials)
    harness.transport.open_ahead()
    harness.send()  # done while the connection ahead is still stuck: it did not wait for it
    assert calls[0] == "smtp-ahead"
    assert len(calls) == 2
    assert harness.transport.connections_opened == 1  # the send's own; the stuck one never opened
    assert len(local_ses.outbox) == 1
    release.set()
    harness.transport.close()


def test_a_connection_ahead_that_failed_is_opened_again_by_the_send(
    harness: Harness, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_login = smtplib.SMTP.login
    calls: list[str] = []

    def flaky_login(self: smtplib.SMTP, user: str, password: str, **kwargs: Any) -> Any:
        calls.append(user)
        if len(calls) == 1:  # the connection ahead
            raise smtplib.SMTPAuthenticationError(454, b"Temporary authentication failure")
        return real_login(self, user, password, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "login", flaky_login)
    harness.transport.open_ahead()
    harness.send()
    assert len(calls) == 2
    assert harness.sleeps == []  # not a retry of the send: its own first attempt
    assert len(local_ses.outbox) == 1


def test_pooled_connections_send_without_waiting_for_acks(harness: Harness) -> None:
    """The end of data follows the message as a second write; with Nagle's algorithm on it would wait for
    the server's delayed ACK of the first (about 40 ms a message)."""
    harness.send()
    [connection] = harness.transport._idle
    assert connection.smtp.sock is not None
    assert connection.smtp.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_connection_idle_over_a_second_is_checked_and_kept(harness: Harness) -> None:
    harness.send()
    harness.clock.advance(harness.transport.check_after_idle + 1)
    harness.send()
    assert harness.transport.connections_opened == 1


def test_connection_idle_longer_than_max_idle_is_replaced(harness: Harness, local_ses: LocalSes) -> None:
    harness.send()
    harness.clock.advance(harness.transport.max_idle + 0.1)
    harness.send()
    assert harness.transport.connections_opened == 2
    assert len(local_ses.outbox) == 2


@pytest.mark.parametrize(("reply", "connections"), [("421", 2), ("451", 1), ("454", 1), ("drop", 2)])
def test_transient_reply_once_is_retried_and_sent_once(
    harness: Harness, local_ses: LocalSes, reply: str, connections: int
) -> None:
    local_ses.faults.force(reply)
    receipt = harness.send()
    [received] = local_ses.outbox.list()
    assert receipt.ses_message_id == received.ses_message_id
    assert local_ses.faults.injected[reply] == 1
    assert len(harness.sleeps) == 1
    # 421 and a dropped connection need a new connection; 451/454 keep the one they had after RSET.
    assert harness.transport.connections_opened == connections


def test_persistent_throttling_gives_up_within_the_deadline(harness: Harness, local_ses: LocalSes) -> None:
    local_ses.faults.force(*["454"] * 50)
    with pytest.raises(DeliveryUnavailable, match="454"):
        harness.send()
    assert len(local_ses.outbox) == 0
    assert sum(harness.sleeps) < BUDGET
    assert len(harness.sleeps) >= 2
    assert local_ses.faults.injected["454"] == len(harness.sleeps) + 1


def test_backoff_grows_between_attempts(harness: Harness, local_ses: LocalSes) -> None:
    local_ses.faults.force(*["451"] * 50)
    with pytest.raises(DeliveryUnavailable):
        harness.send()
    base, cap = harness.transport.backoff_base, harness.transport.backoff_cap
    for attempt, delay in enumerate(harness.sleeps):
        assert min(cap, base * 2**attempt) * 0.5 <= delay <= min(cap, base * 2**attempt)


def test_554_is_rejected_at_once_and_the_connection_kept(harness: Harness, local_ses: LocalSes) -> None:
    local_ses.faults.force("554")
    with pytest.raises(DeliveryRejected) as caught:
        harness.send()
    assert caught.value.code == 554
    assert harness.sleeps == []
    harness.send()
    assert harness.transport.connections_opened == 1
    assert len(local_ses.outbox) == 1


def test_lines_starting_with_a_dot_and_bare_newlines_arrive_intact(
    harness: Harness, local_ses: LocalSes
) -> None:
    raw = b"Subject: dots\r\n\r\n.one\r\n..two\n.\nlast line\n"
    harness.send(raw)
    assert local_ses.outbox.list()[0].raw == raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    "pieces",
    [
        (b"Subject: split\r", b"\n\r\nbody\r\n"),  # a CRLF split between two pieces
        (b"Subject: dot\r\n\r\n", b".starts a line\r\n"),  # a "." at a line's start, a piece's start
        (b"Subject: dot\r\n\r\nmid", b".line, not a line start\r\n"),
        (b"Subject: bare\r\n\r\nx", b"\n.y\n", b"", b"z"),  # bare LFs, an empty piece, no final CRLF
    ],
)
def test_a_message_in_pieces_arrives_as_the_same_message_in_one_piece(
    harness: Harness, local_ses: LocalSes, pieces: tuple[bytes, ...]
) -> None:
    harness.send(b"".join(pieces))
    harness.send(RawMessage(pieces))
    whole, in_pieces = local_ses.outbox.list()
    assert in_pieces.raw == whole.raw


def test_a_base64_body_piece_is_sent_as_it_is(harness: Harness, local_ses: LocalSes) -> None:
    body = encode_base64_body(bytes(range(256)) * 40)
    head = b"Subject: file\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    harness.send(RawMessage((head, body, b"\r\n"), base64_bodies=frozenset({1})))
    assert local_ses.outbox.list()[0].raw == head + bytes(body) + b"\r\n"


def test_a_message_without_a_final_line_end_gets_one(harness: Harness, local_ses: LocalSes) -> None:
    harness.send(b"Subject: end\r\n\r\nno line end after this")
    assert local_ses.outbox.list()[0].raw == b"Subject: end\r\n\r\nno line end after this\r\n"


def refuse_at_rcpt(monkeypatch: pytest.MonkeyPatch, refused: set[str]) -> None:
    """SES answers 550 at RCPT TO for these addresses (the local SES itself accepts every valid one)."""
    real_rcpt = smtplib.SMTP.rcpt

    def rcpt(self: smtplib.SMTP, recipient: str, options: Any = ()) -> tuple[int, bytes]:
        if recipient in refused:
            return 550, b"Mailbox unavailable"
        return real_rcpt(self, recipient, options)

    monkeypatch.setattr(smtplib.SMTP, "rcpt", rcpt)


def test_recipient_refused_at_rcpt_is_reported_and_the_rest_sent(
    harness: Harness, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_at_rcpt(monkeypatch, {"bad@example.net"})
    receipt = harness.send(rcpt=("good@example.net", "bad@example.net"))
    assert receipt.refused == {"bad@example.net": "550 Mailbox unavailable"}
    assert local_ses.outbox.list()[0].rcpt_to == ("good@example.net",)


def test_every_recipient_refused_is_a_rejection_and_nothing_is_sent(
    harness: Harness, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_at_rcpt(monkeypatch, {"bad@example.net", "worse@example.net"})
    with pytest.raises(DeliveryRejected) as caught:
        harness.send(rcpt=("bad@example.net", "worse@example.net"))
    assert caught.value.code == 550
    assert len(local_ses.outbox) == 0
    harness.send()
    assert harness.transport.connections_opened == 1


def test_wrong_password_is_unavailable_at_once_not_retried(local_ses: LocalSes, tls: TlsMaterial) -> None:
    harness = Harness(local_ses, tls, password="wrong")
    with pytest.raises(DeliveryUnavailable, match="535") as caught:
        harness.send()
    assert "SMTP secret" in str(caught.value)
    assert harness.sleeps == []
    assert harness.transport.connections_opened == 0


def test_temporary_auth_failure_is_retried(
    harness: Harness, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_login = smtplib.SMTP.login
    calls: list[str] = []

    def flaky_login(self: smtplib.SMTP, user: str, password: str, **kwargs: Any) -> Any:
        calls.append(user)
        if len(calls) == 1:
            raise smtplib.SMTPAuthenticationError(454, b"Temporary authentication failure")
        return real_login(self, user, password, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "login", flaky_login)
    harness.send()
    assert len(calls) == 2
    assert len(local_ses.outbox) == 1


def test_untrusted_certificate_is_unavailable_without_retry(local_ses: LocalSes, tls: TlsMaterial) -> None:
    harness = Harness(local_ses, tls)
    harness.transport = SesSmtpTransport(
        SmtpSettings(host="localhost", port=local_ses.port, username=SMTP.username, password=SMTP.password),
        sleep=harness._sleep,
        clock=harness.clock,
    )
    with pytest.raises(DeliveryUnavailable, match="certificate"):
        harness.send()
    assert harness.sleeps == []


def test_implicit_tls_is_supported(tls: TlsMaterial) -> None:
    with LocalSes(
        username=SMTP.username, password=SMTP.password, tls=tls, mode="tls", faults=FaultPlan()
    ) as ses:
        harness = Harness(ses, tls, tls="tls")
        receipt = harness.send()
        harness.transport.close()
        assert receipt.ses_message_id == ses.outbox.list()[0].ses_message_id


# --- through the API ---------------------------------------------------------------------------------
MESSAGE = {"from_email": "hello@example.com", "to": ["user@example.net"], "subject": "Hi", "body_text": "x"}


def message_records(stack: Stack) -> list[dict[str, Any]]:
    from posthorn.adapters.dynamodb.table import from_item

    items = stack.session.client("dynamodb").scan(TableName=stack.table)["Items"]
    return [from_item(item) for item in items if item["sk"]["S"] == "MSG"]


def test_transient_ses_replies_then_success_are_200_with_one_message_each(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    for count, reply in enumerate(("421", "451", "454", "drop"), start=1):
        local_ses.faults.force(reply)
        response = api.post("/v1/email", MESSAGE, api_key=sender_key)
        assert response.status == 200, (reply, response.body)
        assert response.json["status"] == "sent"
        assert len(local_ses.outbox) == count, reply
        assert local_ses.faults.injected[reply] == 1


def test_persistent_454_is_202_queued_with_the_message_stored_and_in_the_queue(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack
) -> None:
    local_ses.faults.force(*["454"] * 50)
    response = api.post("/v1/email", MESSAGE, api_key=sender_key)
    assert response.status == 202, response.body
    assert response.json["status"] == "queued"
    assert response.json["recipients"] == [{"email": "user@example.net", "type": "to", "status": "queued"}]
    assert len(local_ses.outbox) == 0
    [record] = message_records(stack)
    assert record["message_id"] == response.json["message_id"]
    assert stored_status(record["message_id"]) == "queued"
    [queued] = take_queued(stack.session, stack.ids["SendQueue"])
    assert queued["message_id"] == record["message_id"]
    assert "Subject: Hi" in "".join(part for part in queued["parts"] if isinstance(part, str))


def test_persistent_454_when_the_queue_is_unreachable_too_is_503_and_recorded_failed(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_queue_unavailable(monkeypatch)
    local_ses.faults.force(*["454"] * 50)
    response = api.post("/v1/email", MESSAGE, api_key=sender_key)
    assert response.status == 503, response.body
    assert response.json["error"]["code"] == "upstream_unavailable"
    assert len(local_ses.outbox) == 0
    [record] = message_records(stack)
    assert stored_status(record["message_id"]) == "failed"
    assert "454" in record["error"]
    assert record["recipients"]["user@example.net"]["status"] == "failed"


def test_554_is_502_and_the_message_is_recorded_failed(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack
) -> None:
    local_ses.faults.force("554")
    response = api.post("/v1/email", MESSAGE, api_key=sender_key)
    assert response.status == 502, response.body
    assert response.json["error"]["code"] == "upstream_rejected"
    [record] = message_records(stack)
    assert stored_status(record["message_id"]) == "failed"
    assert "554" in record["error"]
    view = api.get(f"/v1/messages/{record['message_id']}", api_key=sender_key).json
    assert view["status"] == "failed"
    assert view["recipients"] == [{"email": "user@example.net", "type": "to", "status": "failed"}]


def test_two_api_sends_in_a_row_open_one_connection(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    from posthorn import wiring

    for _ in range(2):
        assert api.post("/v1/email", MESSAGE, api_key=sender_key).status == 200
    assert wiring.transport().connections_opened == 1
    assert len(local_ses.outbox) == 2


def test_api_replaces_a_connection_idle_longer_than_max_idle(
    api: ApiClient, sender_key: str, local_ses: LocalSes
) -> None:
    from posthorn import wiring

    transport = wiring.transport()  # its first connection opened ahead, taken by the first send
    assert api.post("/v1/email", MESSAGE, api_key=sender_key).status == 200
    transport.max_idle = 0.0
    assert api.post("/v1/email", MESSAGE, api_key=sender_key).status == 200
    assert transport.connections_opened == 2


def test_wrong_smtp_password_is_queued_and_without_a_queue_is_503_recorded_failed(
    api: ApiClient, sender_key: str, local_ses: LocalSes, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A misconfigured SMTP secret is our fault, not the message's: the message waits in the queue (the
    # worker retries it; fixing the secret in time sends it), or, with no queue, 503 says retry later.
    stack.session.client("secretsmanager").put_secret_value(
        SecretId=stack.ids["SesSmtpSecretId"],
        SecretString=json.dumps({"username": SMTP.username, "password": "wrong"}),
    )
    queued = api.post("/v1/email", MESSAGE, api_key=sender_key)
    assert queued.status == 202, queued.body
    assert stored_status(queued.json["message_id"]) == "queued"

    make_queue_unavailable(monkeypatch)
    response = api.post("/v1/email", MESSAGE, api_key=sender_key)
    assert response.status == 503, response.body
    assert response.json["error"]["code"] == "upstream_unavailable"
    assert "535" in response.json["error"]["message"]
    assert sorted(stored_status(record["message_id"]) for record in message_records(stack)) == [
        "failed",
        "queued",
    ]


def test_recipient_refused_by_ses_is_listed_rejected(
    api: ApiClient, sender_key: str, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_at_rcpt(monkeypatch, {"bad@example.net"})
    body = {**MESSAGE, "to": ["good@example.net", "bad@example.net"]}
    response = api.post("/v1/email", body, api_key=sender_key)
    assert response.status == 200, response.body
    assert response.json["count"] == 1
    assert [r["status"] for r in response.json["recipients"]] == ["sent", "rejected"]
    view = api.get(f"/v1/messages/{response.json['message_id']}", api_key=sender_key).json
    assert {r["email"]: r["status"] for r in view["recipients"]} == {
        "good@example.net": "sent",
        "bad@example.net": "rejected",
    }
    assert local_ses.outbox.list()[0].rcpt_to == ("good@example.net",)


def test_message_over_the_advertised_size_is_refused_without_a_transaction(
    tls: TlsMaterial,
) -> None:
    with LocalSes(username=SMTP.username, password=SMTP.password, tls=tls, max_message_size=1000) as small:
        harness = Harness(small, tls)
        big = RAW + b"x" * 2000 + b"\r\n"
        with pytest.raises(DeliveryRejected) as refused:
            harness.send(raw=big)
        assert refused.value.code == 552
        assert "takes at most 1000" in refused.value.reply
        assert len(small.outbox) == 0
        assert harness.send().ses_message_id  # the connection is still good for a message that fits
        harness.transport.close()


def test_retry_after_a_drop_past_the_final_dot_is_flagged_ambiguous(
    harness: Harness, local_ses: LocalSes
) -> None:
    local_ses.faults.force("drop")  # the server hangs up after the content, before its reply
    receipt = harness.send()
    assert receipt.after_ambiguous_drop is True
    assert harness.send().after_ambiguous_drop is False


def test_a_drop_after_ses_accepted_the_message_is_the_one_duplicate_window(
    harness: Harness, local_ses: LocalSes
) -> None:
    local_ses.faults.force("accept_drop")  # SES keeps the message, and the 250 never reaches us
    receipt = harness.send()
    assert receipt.after_ambiguous_drop is True
    assert len(local_ses.outbox) == 2  # at-least-once: the retry sent it again
    assert receipt.ses_message_id == local_ses.outbox.list()[0].ses_message_id


def test_socket_waits_are_bounded_by_the_remaining_budget(harness: Harness, local_ses: LocalSes) -> None:
    harness.send()
    [connection] = harness.transport._idle
    local_ses.faults.reply_delay = 0.0
    harness.transport.send(
        "a@example.com", ["b@example.net"], RawMessage.of(RAW), deadline=harness.clock() + 0.7
    )
    assert connection.smtp.sock is not None
    assert connection.smtp.sock.gettimeout() == pytest.approx(0.7)
