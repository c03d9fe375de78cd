"""Webhooks with the real handlers and adapters against moto: the events function's deliveries, the sender
Lambda fed from WebhookQueue and its schedule (events/webhook_*.json), the SSRF guard as deployed (no
loopback), and the HTTP client's behaviour against real servers on loopback (TLS with SNI, redirects,
timeouts, truncated answers)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from posthorn.adapters.webhook_http import PinnedHttpPoster
from posthorn_local.apigw import LambdaContext
from posthorn_local.queue_poller import QueuePoller
from tests.conftest import Stack
from tests.support.api import ApiClient
from tests.support.fakes import FixedClock
from tests.support.records import message_record
from tests.support.webhook_receiver import WebhookReceiver, run_sender

EVENTS = Path(__file__).resolve().parents[2] / "events"
MESSAGE_ID = "msg_01JTESTFIXTURE0000000000"  # the posthorn_message_id tag of events/sns_event_*.json


def event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def record_sns(payload: dict[str, Any]) -> dict[str, Any]:
    from ses_events.handler import lambda_handler

    return dict(lambda_handler(payload, LambdaContext(function_name="events")))


@pytest.fixture
def hooks(stack: Stack, api: ApiClient, admin: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A webhooks credential for example.com, the fixture events' message stored, loopback allowed (as the
    local stack allows it; the deployed refusal has its own test)."""
    from posthorn import wiring

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("ALARM_TOPIC_ARN", stack.ids["AlarmTopic"])
    wiring.reset()
    assert api.post("/v1/domains", {"domain": "example.com"}, api_key=admin).status == 201
    created = api.post(
        "/v1/credentials",
        {"name": "hooks", "domains": ["example.com"], "permissions": ["webhooks"]},
        api_key=admin,
    )
    wiring.messages().create_message(
        message_record(MESSAGE_ID, recipients=["user@example.net"], status="sent", ses_message_id="x")
    )
    poller = QueuePoller(stack.session.client("sqs"), stack.ids["WebhookQueue"], run_sender, wait_seconds=0)
    return {"key": created.json["api_key"], "poller": poller, "stack": stack}


def create(
    api: ApiClient, key: str, receiver: WebhookReceiver, path: str, events: list[str]
) -> dict[str, Any]:
    answer = api.post("/v1/webhooks", {"url": receiver.url(path), "events": events}, api_key=key)
    assert answer.status == 201, answer.body
    receiver.expect_secrets(path, answer.json["secret"])
    return dict(answer.json)


def deliveries(stack: Stack) -> list[dict[str, Any]]:
    dynamodb = stack.session.client("dynamodb")
    items = dynamodb.scan(TableName=stack.ids["WebhooksTable"])["Items"]
    return [json.loads(item["data"]["S"]) for item in items if item["pk"]["S"].startswith("DLV#")]


def test_an_sns_event_becomes_one_signed_delivery_and_its_duplicate_none(
    hooks: dict[str, Any], api: ApiClient, receiver: WebhookReceiver
) -> None:
    create(api, hooks["key"], receiver, "/h", ["email.delivered"])
    record_sns(event("sns_event_delivery"))
    record_sns(event("sns_event_delivery"))  # SNS delivered it twice
    assert [d["event_type"] for d in deliveries(hooks["stack"])] == ["email.delivered"]
    hooks["poller"].run_until_empty(timeout=10)
    record_sns(event("sns_event_delivery"))  # and again after it was delivered,
    record_sns(event("sns_notification_delivery"))  # and as SES's classic notification of the same delivery
    hooks["poller"].run_until_empty(timeout=10)
    (request,) = receiver.on("/h")
    assert request.verified_by == {"standardwebhooks": True, "svix": True}
    assert request.json["data"]["message_id"] == MESSAGE_ID
    assert request.json["data"]["recipient"] == "user@example.net"
    assert deliveries(hooks["stack"])[0]["status"] == "succeeded"


def test_secrets_are_stored_sealed_never_in_the_clear(
    hooks: dict[str, Any], api: ApiClient, receiver: WebhookReceiver
) -> None:
    webhook = create(api, hooks["key"], receiver, "/sealed", ["*"])
    items = (
        hooks["stack"].session.client("dynamodb").scan(TableName=hooks["stack"].ids["WebhooksTable"])["Items"]
    )
    stored = json.dumps(items)
    secret_key = webhook["secret"].removeprefix("whsec_")
    assert secret_key not in stored
    assert webhook["secret"] not in stored
    assert '"ciphertext"' in stored.replace('\\"', '"')


def test_nothing_due_is_skipped_when_the_sender_was_down_for_an_hour(
    hooks: dict[str, Any], api: ApiClient, receiver: WebhookReceiver
) -> None:
    from posthorn import wiring

    receiver.script("/down", 500, 500, 200)
    create(api, hooks["key"], receiver, "/down", ["email.delivered", "email.bounced", "email.sent"])
    for name in ("sns_event_delivery", "sns_event_bounce_permanent", "sns_event_send"):
        record_sns(event(name))
    assert hooks["poller"].poll_once(wait_seconds=0) == 3  # the first attempts: 500, 500, 200
    pending = [d for d in deliveries(hooks["stack"]) if d["status"] == "pending"]
    assert len(pending) == 2
    # The sender is down for an hour: no prompt is handled (the queue is purged), nothing is attempted.
    hooks["stack"].session.client("sqs").purge_queue(QueueUrl=hooks["stack"].ids["WebhookQueue"])
    later = datetime.now(UTC) + timedelta(hours=1)
    wiring.override(wiring.clock, FixedClock(later))
    assert run_sender(event("webhook_due_sweep")) == {"swept": 2}
    hooks["poller"].run_until_empty(timeout=10)
    assert {d["status"] for d in deliveries(hooks["stack"])} == {"succeeded"}
    assert len(receiver.on("/down")) == 5


def test_a_prompt_for_an_unknown_delivery_is_acknowledged_and_does_nothing(hooks: dict[str, Any]) -> None:
    assert run_sender(event("webhook_prompt")) == {"batchItemFailures": []}


def test_an_endpoint_failing_for_days_is_disabled_and_the_alarm_topic_told(
    hooks: dict[str, Any], api: ApiClient, receiver: WebhookReceiver
) -> None:
    from posthorn import wiring

    stack = hooks["stack"]
    sqs = stack.session.client("sqs")
    alarms = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=alarms, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.session.client("sns").subscribe(TopicArn=stack.ids["AlarmTopic"], Protocol="sqs", Endpoint=arn)
    receiver.script("/dead", 503)
    webhook = create(api, hooks["key"], receiver, "/dead", ["email.delivered"])
    record_sns(event("sns_event_delivery"))
    moment = datetime.now(UTC)
    for _ in range(10):  # each attempt at its due time, the clock moved on to it, found by the sweep
        hooks["poller"].poll_once(wait_seconds=0)
        (delivery,) = deliveries(stack)
        if delivery["status"] != "pending":
            break
        moment = max(moment, datetime.fromisoformat(delivery["next_attempt_at"])) + timedelta(seconds=1)
        wiring.override(wiring.clock, FixedClock(moment))
        run_sender(event("webhook_due_sweep"))
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 10
    shown = api.get(f"/v1/webhooks/{webhook['webhook_id']}", api_key=hooks["key"]).json
    assert shown["status"] == "disabled"
    told = sqs.receive_message(QueueUrl=alarms, WaitTimeSeconds=0).get("Messages", [])
    assert told
    assert webhook["webhook_id"] in told[0]["Body"]


# --- the HTTP client, as deployed --------------------------------------------------------------------
def test_a_name_that_resolves_to_loopback_is_refused_when_deployed(receiver: WebhookReceiver) -> None:
    poster = PinnedHttpPoster(allow_loopback=False, resolver=lambda host, port: ["127.0.0.1"])
    result = poster.post(f"https://rebind.example:{receiver.port}/x", {}, "{}", timeout=2)
    assert result.http_status is None
    assert "loopback" in (result.error or "")
    metadata = PinnedHttpPoster(resolver=lambda host, port: ["93.184.216.34", "169.254.169.254"])
    assert "link-local" in (metadata.post("https://mixed.example/x", {}, "{}", timeout=2).error or "")
    assert receiver.on("/x") == []


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::169.254.169.254", "link-local"),
        ("::ffff:0:127.0.0.1", "loopback"),  # IPv4-translated (SIIT)
        ("64:ff9b:1::7f00:1", "local-use NAT64"),
    ],
)
def test_a_name_that_resolves_to_ipv6_carrying_an_internal_ipv4_is_refused_when_deployed(
    receiver: WebhookReceiver, answer: str, said: str
) -> None:
    poster = PinnedHttpPoster(allow_loopback=False, resolver=lambda host, port: [answer])
    result = poster.post(f"https://rebind.example:{receiver.port}/x", {}, "{}", timeout=2)
    assert result.http_status is None
    assert said in (result.error or "")
    literal = PinnedHttpPoster(allow_loopback=False).post(
        f"https://[{answer}]:{receiver.port}/x", {}, "{}", timeout=2
    )
    assert said in (literal.error or "")
    assert receiver.on("/x") == []


@pytest.fixture
def tls_endpoint() -> Iterator[dict[str, Any]]:
    """An https endpoint on 127.0.0.1 with a certificate for hooks.test only, recording SNI and requests."""
    authority = trustme.CA()
    certificate = authority.issue_cert("hooks.test")
    seen: dict[str, Any] = {"sni": [], "requests": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen["requests"].append((self.path, self.headers.get("host"), body))
            status = 302 if self.path == "/redirect" else 200
            answer = b"x" * 10_000 if self.path == "/big" else b"ok"
            if self.path == "/slow":
                threading.Event().wait(2)
            self.send_response(status)
            if status == 302:
                self.send_header("location", "/elsewhere")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with authority.cert_pem.tempfile() as ca_file:
        lookups: list[str] = []

        def resolver(host: str, port: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        seen["poster"] = PinnedHttpPoster(allow_loopback=True, resolver=resolver, ca_certs=ca_file)
        seen["lookups"] = lookups
        seen["base"] = f"https://hooks.test:{server.server_address[1]}"
        yield seen
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_checked_address_with_sni_and_host_for_the_name(
    tls_endpoint: dict[str, Any],
) -> None:
    result = tls_endpoint["poster"].post(
        tls_endpoint["base"] + "/hook?a=1", {"x-test": "1"}, '{"a":1}', timeout=5
    )
    assert (result.http_status, result.body_head) == (200, "ok"), result
    assert tls_endpoint["lookups"] == ["hooks.test"]  # resolved once, then connected to what was checked
    assert tls_endpoint["sni"] == ["hooks.test"]
    path, host, body = tls_endpoint["requests"][0]
    assert path == "/hook?a=1"
    assert host == tls_endpoint["base"].removeprefix("https://")
    assert body == b'{"a":1}'


def test_a_certificate_for_another_name_is_refused(tls_endpoint: dict[str, Any]) -> None:
    other = tls_endpoint["base"].replace("hooks.test", "other.test")
    result = tls_endpoint["poster"].post(other + "/hook", {}, "{}", timeout=5)
    assert result.http_status is None
    assert "TLS" in (result.error or "")
    assert tls_endpoint["requests"] == []


def test_redirects_are_not_followed(tls_endpoint: dict[str, Any]) -> None:
    result = tls_endpoint["poster"].post(tls_endpoint["base"] + "/redirect", {}, "{}", timeout=5)
    assert result.http_status == 302
    assert [request[0] for request in tls_endpoint["requests"]] == ["/redirect"]


def test_an_answer_slower_than_the_timeout_is_no_answer(tls_endpoint: dict[str, Any]) -> None:
    result = tls_endpoint["poster"].post(tls_endpoint["base"] + "/slow", {}, "{}", timeout=0.5)
    assert result.http_status is None
    assert result.error == "no answer within the timeout"
    assert result.timed_out  # what moves a fast-lane webhook to the slow lane
    fast_lane = tls_endpoint["poster"].post(
        tls_endpoint["base"] + "/slow", {}, "{}", timeout=15, answer_within=0.5
    )
    assert (fast_lane.http_status, fast_lane.timed_out) == (None, True)
    assert fast_lane.duration_ms < 1500
    assert result.duration_ms < 1500
    refused = tls_endpoint["poster"].post(
        tls_endpoint["base"].replace("hooks.test", "other.test"), {}, "{}", timeout=5
    )
    assert not refused.timed_out


def test_a_long_answer_is_kept_to_its_first_4_kb(tls_endpoint: dict[str, Any]) -> None:
    result = tls_endpoint["poster"].post(tls_endpoint["base"] + "/big", {}, "{}", timeout=5)
    assert result.http_status == 200
    assert result.body_head == "x" * 4096


def test_prompts_go_to_their_lanes_queue_and_a_put_back_finds_its_queue(stack: Stack) -> None:
    from posthorn.adapters.webhook_queue import SqsDeliveryNotices, SqsPrompts, queue_url_of, read_prompt
    from posthorn.models.webhooks import DueDelivery

    fast, slow = stack.ids["WebhookQueue"], stack.ids["WebhookSlowQueue"]
    notices = SqsDeliveryNotices(fast, slow)
    assert notices.notify([DueDelivery("msg_a", "wh_1"), DueDelivery("msg_b", "wh_2", slow=True)])
    sqs = stack.session.client("sqs")

    def received(url: str) -> list[dict[str, Any]]:
        return list(sqs.receive_message(QueueUrl=url).get("Messages", []))

    in_fast, in_slow = received(fast), received(slow)
    assert [read_prompt(m["Body"]) for m in in_fast] == [DueDelivery("msg_a", "wh_1", slow=False)]
    assert [read_prompt(m["Body"]) for m in in_slow] == [DueDelivery("msg_b", "wh_2", slow=True)]
    arn = sqs.get_queue_attributes(QueueUrl=slow, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert queue_url_of(arn, [fast, slow]) == slow

    # The sender's event: its prompts read, and one put back on the queue it came from, visible there again.
    record = {"messageId": "m1", "receiptHandle": in_slow[0]["ReceiptHandle"], "eventSourceARN": arn}
    prompts = SqsPrompts(
        [{**record, "body": in_slow[0]["Body"]}, {"messageId": "m2", "body": "{}"}], fast, slow
    )
    assert prompts.items == [("m1", DueDelivery("msg_b", "wh_2", slow=True))]
    assert prompts.unreadable == ["m2"]
    prompts.put_back(["m1"], 0)
    assert [read_prompt(m["Body"]) for m in received(slow)] == [DueDelivery("msg_b", "wh_2", slow=True)]
    assert received(fast) == []
