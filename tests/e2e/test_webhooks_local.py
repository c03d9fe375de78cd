"""Webhooks end to end against the local stack, written from docs/api.md's "Webhooks" section: a real endpoint
on loopback verifies every delivery with the `standardwebhooks` and `svix` libraries."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posthorn_local.ses_events_publisher import sns_event
from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, Http
from tests.support import ses_fixtures as fx
from tests.support.webhook_receiver import WebhookReceiver, running_receiver

pytestmark = pytest.mark.e2e

SIMULATOR = "simulator.amazonses.com"
DOMAIN = "hooks.example"
OTHER_DOMAIN = "other.example"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


def _credential(http: Http, domain: str, permissions: list[str]) -> str:
    created = http.post("/v1/domains", {"domain": domain}, api_key=ADMIN_KEY)
    assert created.status in (200, 201), created.body
    answer = http.post(
        "/v1/credentials",
        {"name": f"hooks {domain}", "domains": [domain], "permissions": permissions},
        api_key=ADMIN_KEY,
    )
    assert answer.status == 201, answer.body
    return str(answer.json["api_key"])


@pytest.fixture(scope="module")
def key(http: Http) -> str:
    return _credential(http, DOMAIN, ["send", "read", "webhooks"])


@pytest.fixture(scope="module")
def other_key(http: Http) -> str:
    return _credential(http, OTHER_DOMAIN, ["send", "read", "webhooks"])


def create_webhook(
    http: Http, key: str, receiver: WebhookReceiver, path: str, events: list[str] | None = None
) -> dict[str, Any]:
    answer = http.post("/v1/webhooks", {"url": receiver.url(path), "events": events or ["*"]}, api_key=key)
    assert answer.status == 201, answer.body
    receiver.expect_secrets(path, answer.json["secret"])
    return dict(answer.json)


def send(http: Http, key: str, to: str, domain: str = DOMAIN) -> str:
    answer = http.post(
        "/v1/email",
        {"from_email": f"app@{domain}", "to": [to], "subject": "Hooked", "body_text": "Hi", "tags": ["t1"]},
        api_key=key,
    )
    assert answer.status == 200, answer.body
    return str(answer.json["message_id"])


def of_type(received: list[Any], kind: str, message_id: str | None = None) -> list[Any]:
    return [
        r
        for r in received
        if r.json["type"] == kind and (message_id is None or r.json["data"].get("message_id") == message_id)
    ]


def wait_for_type(
    receiver: WebhookReceiver, path: str, kind: str, message_id: str, timeout: float = 30
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = of_type(receiver.on(path), kind, message_id)
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"no {kind} for {message_id} at {path}")


def test_a_message_s_events_arrive_signed_and_verify_with_both_libraries(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    webhook = create_webhook(http, key, receiver, "/all")
    assert webhook["secret"].startswith("whsec_")
    assert webhook["status"] == "enabled"
    assert webhook["domains"] == [DOMAIN]
    message_id = send(http, key, f"success@{SIMULATOR}")
    (delivered,) = wait_for_type(receiver, "/all", "email.delivered", message_id)
    (sent,) = wait_for_type(receiver, "/all", "email.sent", message_id)
    for request in (delivered, sent):
        assert request.verified_by == {"standardwebhooks": True, "svix": True}
        assert request.headers["content-type"] == "application/json"
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    data = delivered.json["data"]
    assert data["recipient"] == f"success@{SIMULATOR}"
    assert data["from_email"] == f"app@{DOMAIN}"
    assert data["subject"] == "Hooked"
    assert data["tags"] == ["t1"]
    assert data["ses_message_id"]
    # The receiver has the requests; the sender records each outcome a moment after the answer.
    deadline = time.monotonic() + 10
    while True:
        listing = http.get(f"/v1/webhooks/{webhook['webhook_id']}/deliveries", api_key=key)
        assert listing.status == 200, listing.body
        mine = [d for d in listing.json["deliveries"] if d["message_id"] == message_id]
        if all(d["status"] == "succeeded" for d in mine) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {d["event_type"] for d in mine} >= {"email.sent", "email.delivered"}
    assert all(d["status"] == "succeeded" for d in mine), mine
    assert all(d["attempts"][0]["http_status"] == 200 for d in mine)
    assert "secret" not in http.get(f"/v1/webhooks/{webhook['webhook_id']}", api_key=key).json


def test_email_sent_comes_once_per_recipient_from_the_send_worker_too(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    """A batch is sent by the send worker: `email.sent` is announced at SES's 250 there, and SES's Send event
    (which the local SES still publishes) makes no second one."""
    create_webhook(http, key, receiver, "/sent", ["email.sent"])
    recipients = [f"success+{n}@{SIMULATOR}" for n in ("a", "b")]
    answer = http.post(
        "/v1/email/batch",
        {
            "messages": [
                {"from_email": f"app@{DOMAIN}", "to": recipients, "subject": "Batched", "body_text": "Hi"}
            ]
        },
        api_key=key,
    )
    assert answer.status == 202, answer.body
    [accepted] = answer.json["results"]
    message_id = accepted["message_id"]
    sent = wait_for_type(receiver, "/sent", "email.sent", message_id)
    deadline = time.monotonic() + 10
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        sent = of_type(receiver.on("/sent"), "email.sent", message_id)
    assert sorted(request.json["data"]["recipient"] for request in sent) == recipients
    # The local SES's Send events arrive a moment later and change nothing.
    time.sleep(2)
    again = of_type(receiver.on("/sent"), "email.sent", message_id)
    assert len(again) == 2
    assert all(request.json["data"]["ses_message_id"] for request in again)
    assert {request.headers["webhook-id"] for request in again} == {r.headers["webhook-id"] for r in sent}


VERIFIERS = Path(__file__).resolve().parent / "clients" / "webhook-verifiers"


def test_a_delivery_verifies_with_the_node_libraries_of_the_readme(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    if not (shutil.which("node") and (VERIFIERS / "node_modules" / "svix").is_dir()):
        pytest.skip("the Node verifiers are not installed: run `make webhook-verifiers`")
    webhook = create_webhook(http, key, receiver, "/node", ["webhook.test"])
    http.post(f"/v1/webhooks/{webhook['webhook_id']}/test", api_key=key)
    (request,) = receiver.wait_for("/node", 1)
    given = json.dumps({"secret": webhook["secret"], "body": request.body, "headers": request.headers})
    node = str(shutil.which("node"))
    done = subprocess.run(  # noqa: S603 - node on our own script
        [node, str(VERIFIERS / "verify.js")],
        input=given,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"standardwebhooks": "webhook.test", "svix": "webhook.test"}
    forged = json.dumps({"secret": webhook["secret"], "body": request.body + " ", "headers": request.headers})
    refused = subprocess.run(  # noqa: S603 - node on our own script
        [node, str(VERIFIERS / "verify.js")],
        input=forged,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert refused.returncode == 1


def test_an_endpoint_that_fails_then_succeeds_gets_the_same_webhook_id_about_5_s_later(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    receiver.script("/flaky", 500, 200)
    webhook = create_webhook(http, key, receiver, "/flaky", ["webhook.test"])
    answer = http.post(f"/v1/webhooks/{webhook['webhook_id']}/test", api_key=key)
    assert answer.status == 202, answer.body
    first, second = receiver.wait_for("/flaky", 2, timeout=30)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == answer.json["delivery_id"]
    assert first.body == second.body
    assert first.json["type"] == "webhook.test"
    assert 4.5 <= second.at - first.at <= 12
    assert second.verified_by == {"standardwebhooks": True, "svix": True}
    delivery = _delivery(http, key, webhook["webhook_id"], answer.json["delivery_id"], "succeeded")
    assert [a["http_status"] for a in delivery["attempts"]] == [500, 200]


def test_an_endpoint_that_turns_slow_is_given_up_on_after_1_s_and_served_in_the_slow_lane(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    receiver.script("/turns-slow", 200, delay=2.0)
    slow = create_webhook(http, key, receiver, "/turns-slow", ["webhook.test"])
    fast = create_webhook(http, key, receiver, "/stays-fast", ["webhook.test"])
    asked = time.time()
    slow_delivery = http.post(f"/v1/webhooks/{slow['webhook_id']}/test", api_key=key).json["delivery_id"]
    fast_delivery = http.post(f"/v1/webhooks/{fast['webhook_id']}/test", api_key=key).json["delivery_id"]
    (fast_request,) = receiver.wait_for("/stays-fast", 1, timeout=30)
    assert fast_request.headers["webhook-id"] == fast_delivery
    assert fast_request.at - asked < 2.0  # not behind the slow endpoint's first answer
    first, again = receiver.wait_for("/turns-slow", 2, timeout=30)
    # The fast lane gave up after 1 s; the same delivery was made again at once in the slow lane.
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == slow_delivery
    assert again.body == first.body
    assert 0.9 <= again.at - first.at <= 10
    assert again.verified_by == {"standardwebhooks": True, "svix": True}
    delivery = _delivery(http, key, slow["webhook_id"], slow_delivery, "succeeded")
    moved, answered = delivery["attempts"]
    assert moved["http_status"] is None
    assert "slow lane" in moved["error"]
    assert answered["http_status"] == 200
    assert answered["duration_ms"] >= 1900


def _delivery(http: Http, key: str, webhook_id: str, delivery_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        listing = http.get(f"/v1/webhooks/{webhook_id}/deliveries", api_key=key)
        found = [d for d in listing.json["deliveries"] if d["delivery_id"] == delivery_id]
        if found and found[0]["status"] == status:
            return dict(found[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery {delivery_id} is not {status}: {found}")
        time.sleep(0.1)


def test_replay_sends_the_same_webhook_id_and_body_again(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    webhook = create_webhook(http, key, receiver, "/replay", ["webhook.test"])
    delivery_id = http.post(f"/v1/webhooks/{webhook['webhook_id']}/test", api_key=key).json["delivery_id"]
    (first,) = receiver.wait_for("/replay", 1)
    _delivery(http, key, webhook["webhook_id"], delivery_id, "succeeded")
    replayed = http.post(f"/v1/webhooks/{webhook['webhook_id']}/deliveries/{delivery_id}/replay", api_key=key)
    assert replayed.status == 202, replayed.body
    _, again = receiver.wait_for("/replay", 2)
    assert again.headers["webhook-id"] == delivery_id
    assert again.body == first.body
    assert len(_delivery(http, key, webhook["webhook_id"], delivery_id, "succeeded")["attempts"]) == 2
    unknown = http.post(f"/v1/webhooks/{webhook['webhook_id']}/deliveries/msg_nope/replay", api_key=key)
    assert unknown.status == 404
    assert unknown.json["error"]["code"] == "not_found"


def test_after_rotation_both_secrets_sign_each_request(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    webhook = create_webhook(http, key, receiver, "/rotate", ["webhook.test"])
    rotated = http.post(f"/v1/webhooks/{webhook['webhook_id']}/secret", api_key=key)
    assert rotated.status == 201, rotated.body
    new_secret = rotated.json["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != webhook["secret"]
    receiver.expect_secrets("/rotate", webhook["secret"], new_secret)  # each must verify on its own
    http.post(f"/v1/webhooks/{webhook['webhook_id']}/test", api_key=key)
    (request,) = receiver.wait_for("/rotate", 1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.verified_by == {"standardwebhooks": True, "svix": True}


def test_a_webhook_sees_only_its_domains_and_other_credentials_cannot_see_it(
    http: Http, key: str, other_key: str, receiver: WebhookReceiver
) -> None:
    webhook = create_webhook(http, key, receiver, "/isolated", ["email.delivered"])
    for method, path in [
        ("GET", f"/v1/webhooks/{webhook['webhook_id']}"),
        ("PATCH", f"/v1/webhooks/{webhook['webhook_id']}"),
        ("DELETE", f"/v1/webhooks/{webhook['webhook_id']}"),
        ("GET", f"/v1/webhooks/{webhook['webhook_id']}/deliveries"),
        ("POST", f"/v1/webhooks/{webhook['webhook_id']}/test"),
    ]:
        answer = http.request(
            method, path, {"status": "disabled"} if method == "PATCH" else None, api_key=other_key
        )
        assert answer.status == 404, (method, path, answer.body)
    listed = http.get("/v1/webhooks", api_key=other_key).json["webhooks"]
    assert webhook["webhook_id"] not in {w["webhook_id"] for w in listed}
    foreign = http.post(
        "/v1/webhooks", {"url": receiver.url("/x"), "events": ["*"], "domains": [DOMAIN]}, api_key=other_key
    )
    assert foreign.status == 422
    assert foreign.json["error"]["code"] == "validation_error"
    other_message = send(http, other_key, f"success@{SIMULATOR}", domain=OTHER_DOMAIN)
    mine = send(http, key, f"success@{SIMULATOR}")
    wait_for_type(receiver, "/isolated", "email.delivered", mine)
    assert of_type(receiver.on("/isolated"), "email.delivered", other_message) == []


def test_a_duplicate_sns_notification_makes_no_second_webhook_delivery(
    http: Http, key: str, receiver: WebhookReceiver, stack: LocalStack
) -> None:
    create_webhook(http, key, receiver, "/dup", ["email.delivered"])
    message_id = send(http, key, f"success@{SIMULATOR}")
    wait_for_type(receiver, "/dup", "email.delivered", message_id)
    event = copy.deepcopy(
        fx.delivery_event(recipients=[f"success@{SIMULATOR}"], message_id=f"ses-{uuid.uuid4()}")
    )
    event["mail"]["tags"]["posthorn_message_id"] = [message_id]
    notification = sns_event(stack.ids["EventsTopic"], [event])
    for _ in range(2):
        assert http.post("/_local/sns", notification).status == 200
    ses_id = event["mail"]["messageId"]
    deadline = time.monotonic() + 10
    while not [r for r in receiver.on("/dup") if r.json["data"]["ses_message_id"] == ses_id]:
        assert time.monotonic() < deadline, "the re-published event was never delivered"
        time.sleep(0.05)
    time.sleep(1.5)  # time for a second delivery, were there one
    assert len([r for r in receiver.on("/dup") if r.json["data"]["ses_message_id"] == ses_id]) == 1


def test_a_410_disables_the_webhook(http: Http, key: str, receiver: WebhookReceiver) -> None:
    receiver.script("/gone", 410)
    webhook = create_webhook(http, key, receiver, "/gone", ["webhook.test"])
    delivery_id = http.post(f"/v1/webhooks/{webhook['webhook_id']}/test", api_key=key).json["delivery_id"]
    _delivery(http, key, webhook["webhook_id"], delivery_id, "failed")
    deadline = time.monotonic() + 10  # disabled right after the delivery's outcome is written
    while (shown := http.get(f"/v1/webhooks/{webhook['webhook_id']}", api_key=key).json)[
        "status"
    ] != "disabled":
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    assert shown["status"] == "disabled"
    assert "410" in shown["disabled_reason"]
    enabled = http.request(
        "PATCH", f"/v1/webhooks/{webhook['webhook_id']}", {"status": "enabled"}, api_key=key
    )
    assert enabled.status == 200
    assert enabled.json["status"] == "enabled"


def test_webhook_routes_refuse_bad_input_with_the_documented_codes(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    cases = [
        ({"url": "https://10.0.0.1/x", "events": ["*"]}, 422),
        ({"url": "http://hooks.example.net/x", "events": ["*"]}, 422),
        ({"url": receiver.url("/x"), "events": ["email.nope"]}, 422),
        ({"url": receiver.url("/x"), "events": ["*", "email.sent"]}, 422),
        ({"url": receiver.url("/x"), "events": []}, 422),
        ({"url": receiver.url("/x")}, 422),
    ]
    for body, status in cases:
        answer = http.post("/v1/webhooks", body, api_key=key)
        assert answer.status == status, (body, answer.body)
        assert answer.json["error"]["code"] == "validation_error"
    assert (
        http.post("/v1/webhooks", b"[1]", api_key=key, headers={"Content-Type": "application/json"}).status
        == 400
    )
    no_permission = _credential(http, DOMAIN, ["send"])
    forbidden = http.get("/v1/webhooks", api_key=no_permission)
    assert forbidden.status == 403
    assert forbidden.json["error"]["code"] == "forbidden"
    assert http.get("/v1/webhooks").status == 401
    bad_cursor = http.get("/v1/webhooks/wh_x/deliveries?cursor=zz", api_key=key)
    assert bad_cursor.status == 404  # an unknown webhook before its cursor
    deleted = create_webhook(http, key, receiver, "/deleted")
    assert http.request("DELETE", f"/v1/webhooks/{deleted['webhook_id']}", api_key=key).status == 204
    assert http.get(f"/v1/webhooks/{deleted['webhook_id']}", api_key=key).status == 404


def test_the_local_page_shows_a_message_s_webhook_deliveries(
    http: Http, key: str, receiver: WebhookReceiver
) -> None:
    create_webhook(http, key, receiver, "/page", ["email.delivered"])
    message_id = send(http, key, f"success@{SIMULATOR}")
    wait_for_type(receiver, "/page", "email.delivered", message_id)
    listing = http.get("/_local/outbox").json["messages"]
    (entry,) = [m for m in listing if m["posthorn_message_id"] == message_id]
    deadline = time.monotonic() + 10
    while True:
        view = http.get(f"/_local/outbox/{entry['id']}").json
        deliveries = [d for d in view["webhook_deliveries"] if d["url"] == receiver.url("/page")]
        if deliveries and deliveries[0]["status"] == "succeeded":
            break
        assert time.monotonic() < deadline, view["webhook_deliveries"]
        time.sleep(0.1)
    assert deliveries[0]["attempts"][0]["http_status"] == 200
    assert deliveries[0]["event_type"] == "email.delivered"
    json.dumps(view)
