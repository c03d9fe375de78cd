"""What each path writes to CloudWatch Logs per message, at INFO as deployed: one line per request, batch,
transaction or invocation with its outcome, nothing per step, and no warning on a path that went well.

The lines are counted, not their bytes. `scripts/log_volume.py` runs this module and prints the bytes per
message of each path (POSTHORN_LOG_VOLUME_REPORT names the file the tests add their figures to)."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import pytest

from posthorn_local.apigw import build_event, decode_response
from posthorn_local.queue_poller import QueuePoller
from posthorn_local.relay import LocalRelay
from posthorn_local.ses_smtp_server import LocalSes
from posthorn_local.tls import TlsMaterial
from tests.conftest import Stack
from tests.support.api import ApiClient, bearer
from tests.support.bodies import email_body
from tests.support.log_output import Output, captured, lambda_context
from tests.support.records import message_record
from tests.support.webhook_receiver import WebhookReceiver

EVENTS = Path(__file__).resolve().parents[2] / "events"
FIXTURE_MESSAGE = "msg_01JTESTFIXTURE0000000000"  # the posthorn_message_id tag of events/sns_event_*.json
BATCH = 10


def report(path: str, output: Output, messages: int) -> None:
    """Adds this path's figures to the report file, when scripts/log_volume.py asked for one."""
    target = os.environ.get("POSTHORN_LOG_VOLUME_REPORT")
    if not target:
        return
    figures = {"path": path, "messages": messages, "lines": output.lines, "bytes": output.bytes}
    with open(target, "a", encoding="utf-8") as file:
        file.write(json.dumps(figures) + "\n")


def ours(output: Output, level: str) -> list[dict[str, Any]]:
    return output.logs(level)


def assert_quiet(output: Output) -> None:
    """A path that went well: its one INFO line, no warning, no error."""
    assert [line["level"] for line in output.logs()] == ["INFO"], output.lines


def api_call(method: str, path: str, body: Any, key: str, resource: str | None = None) -> tuple[int, Any]:
    from send_api.handler import lambda_handler

    event = build_event(
        method,
        path,
        resource=resource or path,
        headers={"Content-Type": "application/json", **bearer(key)},
        body=json.dumps(body).encode(),
    )
    status, _, answer = decode_response(lambda_handler(event, lambda_context("SendFunction")))
    return status, json.loads(answer)


@pytest.fixture
def worker(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[QueuePoller]:
    """The send worker behind SendQueue, invoked with the deployed function's context."""
    from posthorn import wiring

    for name, value in {"SES_MAX_SEND_RATE": "1000", "SEND_RETRY_BASE_SECONDS": "0"}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()

    def invoke(event: dict[str, Any]) -> Any:
        from send_worker.handler import lambda_handler

        return lambda_handler(event, lambda_context("SendWorkerFunction"))

    yield QueuePoller(stack.session.client("sqs"), stack.ids["SendQueue"], invoke, wait_seconds=0)
    wiring.reset()


def test_a_single_send_is_one_info_line(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    with captured() as output:
        status, answer = api_call("POST", "/v1/email", email_body(), sender_key)
    report("API single send", output, 1)
    assert status == 200, answer
    [line] = ours(output, "INFO")
    assert line["message_id"] == answer["message_id"]
    assert line["status"] == 200
    assert line["username"] == sender_key.partition(".")[0]
    assert_quiet(output)
    written = "\n".join(output.lines)
    assert sender_key.partition(".")[2] not in written  # never the secret,
    assert email_body()["body_text"] not in written  # nor the body


def test_a_refused_send_is_one_info_line_with_its_code(api: ApiClient, sender_key: str) -> None:
    with captured() as output:
        status, answer = api_call("POST", "/v1/email", email_body(from_email="a@other.org"), sender_key)
    assert status == 403, answer
    [line] = ours(output, "INFO")
    assert (line["status"], line["code"]) == (403, answer["error"]["code"])
    assert_quiet(output)


def test_a_batch_is_one_info_line(api: ApiClient, sender_key: str) -> None:
    messages = [email_body(to=[f"user{index}@example.net"]) for index in range(BATCH)]
    with captured() as output:
        status, answer = api_call("POST", "/v1/email/batch", {"messages": messages}, sender_key)
    report("API batch", output, BATCH)
    assert status == 202, answer
    [line] = ours(output, "INFO")
    assert (line["status"], line["count"]) == (202, BATCH)
    assert_quiet(output)


@pytest.mark.parametrize("size", [1, BATCH])
def test_a_worker_batch_is_one_info_line(
    api: ApiClient, sender_key: str, worker: QueuePoller, local_ses: LocalSes, size: int
) -> None:
    messages = [email_body(to=[f"user{index}@example.net"]) for index in range(size)]
    status, answer = api_call("POST", "/v1/email/batch", {"messages": messages}, sender_key)
    assert status == 202, answer
    with captured() as output:
        assert worker.poll_once(wait_seconds=0) == size
    report(f"worker send (batch of {size})", output, size)
    [line] = ours(output, "INFO")
    assert line["Queued_sent"] == size  # the metric, in the line
    assert_quiet(output)
    assert len(local_ses.outbox) == size


@pytest.fixture
def relay(stack: Stack, tls: TlsMaterial) -> Iterator[LocalRelay]:
    with LocalRelay(cert_file=tls.cert_file, key_file=tls.key_file, cache_seconds=0) as running:
        yield running


def relayed_message() -> bytes:
    mail = EmailMessage()
    mail["From"] = "App <hello@example.com>"
    mail["To"] = "User <user@example.net>"
    mail["Subject"] = "Hello"
    mail.set_content("Hello over SMTP")
    return mail.as_bytes(policy=SMTP_POLICY)


def test_a_relay_transaction_is_one_info_line(relay: LocalRelay, tls: TlsMaterial, sender_key: str) -> None:
    username, _, secret = sender_key.partition(".")
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    with (
        captured(("smtp_relay",), in_lambda=False) as output,
        smtplib.SMTP("localhost", relay.starttls_port, timeout=10) as smtp,
    ):
        smtp.starttls(context=context)
        smtp.login(username, secret)
        smtp.sendmail("hello@example.com", ["user@example.net"], relayed_message())
    report("relay transaction (a connection per message)", output, 1)
    [line] = ours(output, "INFO")
    assert (line["message"], line["username"], line["reply"]) == ("smtp transaction", username, "250 2.0.0")
    assert_quiet(output)


def sns(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def test_each_notification_is_one_info_line_and_each_webhook_attempt_one(
    stack: Stack,
    api: ApiClient,
    admin: str,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from posthorn import wiring
    from ses_events.handler import lambda_handler as record_events
    from webhook_sender.handler import lambda_handler as send_webhooks

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    wiring.reset()
    assert api.post("/v1/domains", {"domain": "example.com"}, api_key=admin).status == 201
    key = api.post(
        "/v1/credentials",
        {"name": "hooks", "domains": ["example.com"], "permissions": ["webhooks"]},
        api_key=admin,
    ).json["api_key"]
    hook = api.post("/v1/webhooks", {"url": receiver.url("/h"), "events": ["*"]}, api_key=key)
    assert hook.status == 201, hook.body
    receiver.expect_secrets("/h", hook.json["secret"])
    wiring.messages().create_message(
        message_record(
            FIXTURE_MESSAGE,
            recipients=["user@example.net"],
            status="sent",
            ses_message_id="x",
            created_at=datetime.now(UTC),
        )
    )
    notifications = ("sns_event_send", "sns_event_delivery", "sns_event_open")
    for name in notifications:
        with captured() as output:
            record_events(sns(name), lambda_context("EventsFunction"))
        report(f"events function ({name.removeprefix('sns_event_')})", output, 1)
        [line] = ours(output, "INFO")
        assert line["message"] == "notifications processed"
        assert_quiet(output)

    def attempt(event: dict[str, Any]) -> Any:
        return send_webhooks(event, lambda_context("WebhookSenderFunction"))

    poller = QueuePoller(stack.session.client("sqs"), stack.ids["WebhookQueue"], attempt, wait_seconds=0)
    for _ in notifications:
        poller.batch_size = 1
        with captured() as output:
            assert poller.poll_once(wait_seconds=0) == 1
        report("webhook sender (per attempt)", output, 1)
        [line] = ours(output, "INFO")
        assert line["message"] == "webhook prompts processed"
        assert_quiet(output)
    assert len(receiver.on("/h")) == len(notifications)
