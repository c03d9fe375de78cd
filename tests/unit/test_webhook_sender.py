"""The sender's attempts, with fakes: signing, outcomes (2xx, 410, 429 + Retry-After, 5xx, no answer),
the schedule's end, an endpoint failing for days, claims, the per-endpoint gate and the sweep."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import standardwebhooks

from posthorn.logic.webhooks.fanout import WebhookFanout, announce, webhook_test_announcement
from posthorn.logic.webhooks.schedule import MAX_ATTEMPTS
from posthorn.logic.webhooks.sender import (
    SLOW_LANE_SECONDS,
    TIMEOUT_SECONDS,
    EndpointGate,
    RecentWebhooks,
    SenderContext,
    attempt,
    attempt_all,
    sweep,
)
from posthorn.models.webhooks import DueDelivery, PostResult
from tests.support.fakes import (
    FakeAlarms,
    FakeDeliveries,
    FakeNotices,
    FakePoster,
    FakeSecretBox,
    FakeWebhooks,
    FixedClock,
)
from tests.support.records import webhook_record

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Sender:
    def __init__(self, *answers: PostResult, **webhook_fields: object) -> None:
        self.clock = FixedClock()
        self.webhooks = FakeWebhooks()
        self.webhooks.put_webhook(webhook_record(**webhook_fields))  # type: ignore[arg-type]
        self.deliveries = FakeDeliveries()
        self.notices = FakeNotices()
        self.poster = FakePoster(list(answers))
        self.alarms = FakeAlarms()
        self.context = SenderContext(
            deliveries=self.deliveries,
            webhooks=self.webhooks,
            secrets=FakeSecretBox(),
            poster=self.poster,
            notices=self.notices,
            alarms=self.alarms,
            clock=self.clock,
            gate=EndpointGate(2),
            rng=random.Random(7),
            recent=RecentWebhooks(seconds=0),  # the tests change webhooks between attempts
        )
        fanout = WebhookFanout(self.webhooks, self.deliveries, self.notices, self.clock)
        webhook = self.webhooks.get_webhook("wh_1")
        self.delivery_id = announce(fanout, webhook_test_announcement(webhook, self.clock.now()), to=webhook)[
            0
        ]

    @property
    def delivery(self):  # type: ignore[no-untyped-def]
        return self.deliveries.get_delivery(self.delivery_id)

    def attempt_when_due(self) -> str:
        due = self.delivery.next_attempt_at
        if due is not None and due > self.clock.at:
            self.clock.at = due
        return attempt(self.delivery_id, self.context)


def answer(status: int | None, **fields: object) -> PostResult:
    return PostResult(http_status=status, duration_ms=12, **fields)  # type: ignore[arg-type]


def test_a_2xx_succeeds_and_the_request_verifies_with_the_reference_library() -> None:
    sender = Sender(answer(204))
    assert sender.attempt_when_due() == "succeeded"
    url, headers, body = sender.poster.requests[0]
    assert url == "https://hooks.example.org/posthorn"
    assert headers["webhook-id"] == sender.delivery_id
    assert headers["webhook-timestamp"] == str(int(sender.clock.at.timestamp()))
    # The reference library's own signature of the same id, time and body (verify() would refuse the
    # fixed clock's old timestamp; the integration tests verify live requests).
    expected = standardwebhooks.Webhook(SECRET).sign(sender.delivery_id, sender.clock.at, body)
    assert headers["webhook-signature"] == expected
    assert sender.delivery.status == "succeeded"
    assert [a.http_status for a in sender.delivery.attempts] == [204]


def test_a_failure_then_a_success_keeps_the_webhook_id_and_records_both_attempts() -> None:
    sender = Sender(answer(500, body_head="boom"), answer(200))
    assert sender.attempt_when_due() == "retry"
    retry = sender.delivery
    assert retry.status == "pending"
    assert retry.failures == 1
    wait = (retry.next_attempt_at - sender.clock.at).total_seconds()
    assert 4 <= wait <= 6
    assert sender.notices.prompts[-1][1] == pytest.approx(wait, abs=1)  # queued with SQS's delay
    assert sender.attempt_when_due() == "succeeded"
    first, second = sender.poster.requests
    assert first[1]["webhook-id"] == second[1]["webhook-id"] == sender.delivery_id
    assert first[2] == second[2]
    assert [(a.http_status, a.response_body) for a in sender.delivery.attempts] == [
        (500, "boom"),
        (200, None),
    ]
    assert sender.webhooks.get_webhook("wh_1").failing_since is None


def test_an_attempt_before_it_is_due_is_not_made() -> None:
    sender = Sender(answer(500))
    sender.attempt_when_due()
    assert attempt(sender.delivery_id, sender.context) == "not_due"
    assert len(sender.poster.requests) == 1


def test_a_claimed_delivery_is_not_attempted_twice_at_once() -> None:
    sender = Sender()
    sender.deliveries.claim_delivery(sender.delivery_id, now=sender.clock.at, lease_seconds=45, token="other")
    assert attempt(sender.delivery_id, sender.context) == "not_due"
    assert sender.poster.requests == []


def test_410_fails_the_delivery_and_disables_the_webhook() -> None:
    sender = Sender(answer(410))
    assert sender.attempt_when_due() == "gone"
    assert sender.delivery.status == "failed"
    assert sender.delivery.next_attempt_at is None
    webhook = sender.webhooks.get_webhook("wh_1")
    assert webhook.status == "disabled"
    assert "410" in (webhook.disabled_reason or "")


def test_429_with_retry_after_waits_that_long() -> None:
    sender = Sender(answer(429, retry_after="600"))
    sender.attempt_when_due()
    wait = (sender.delivery.next_attempt_at - sender.clock.at).total_seconds()
    assert wait == 600
    assert sender.notices.prompts[-1][1] == 600


def test_503_with_a_retry_after_beyond_15_minutes_is_left_to_the_sweep() -> None:
    sender = Sender(answer(503, retry_after="3600"))
    prompts_before = len(sender.notices.prompts)
    sender.attempt_when_due()
    assert (sender.delivery.next_attempt_at - sender.clock.at).total_seconds() == 3600
    assert len(sender.notices.prompts) == prompts_before  # SQS cannot delay an hour; the due index does


def test_ten_failed_attempts_fail_the_delivery_over_three_days_and_disable_the_endpoint() -> None:
    sender = Sender(answer(None, error="could not connect"))
    started = sender.clock.at
    outcomes = [sender.attempt_when_due() for _ in range(MAX_ATTEMPTS)]
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert sender.delivery.status == "failed"
    assert len(sender.delivery.attempts) == MAX_ATTEMPTS
    assert sender.clock.at - started > timedelta(days=3)
    assert sender.webhooks.get_webhook("wh_1").status == "disabled"
    assert len(sender.alarms.raised) == 1
    assert "wh_1" in sender.alarms.raised[0][1]
    assert sender.attempt_when_due() == "not_due"


def test_an_exhausted_delivery_does_not_disable_an_endpoint_that_succeeded_meanwhile() -> None:
    sender = Sender(answer(500))
    for _ in range(MAX_ATTEMPTS - 1):
        sender.attempt_when_due()
    sender.webhooks.note_success("wh_1")  # another delivery got through
    sender.webhooks.note_failure("wh_1", sender.clock.at)
    assert sender.attempt_when_due() == "failed"
    assert sender.webhooks.get_webhook("wh_1").status == "enabled"
    assert sender.alarms.raised == []


def test_a_disabled_webhook_gets_no_request_and_the_delivery_fails_replayably() -> None:
    sender = Sender(status="disabled")
    assert sender.attempt_when_due() == "webhook_off"
    assert sender.poster.requests == []
    assert sender.delivery.status == "failed"
    assert sender.delivery.attempts[-1].error == "the webhook is disabled"


def test_during_rotation_both_secrets_sign_and_an_expired_one_does_not() -> None:
    from posthorn.models.webhooks import SealedSecret

    sender = Sender(secrets=("whsec_" + "A" * 43 + "=", SECRET))
    webhook = sender.webhooks.get_webhook("wh_1")
    assert sender.attempt_when_due() == "succeeded"
    assert len(sender.poster.requests[0][1]["webhook-signature"].split(" ")) == 2
    expired = [
        webhook.secrets[0],
        SealedSecret(ciphertext=webhook.secrets[1].ciphertext, expires_at=sender.clock.at),
    ]
    sender.webhooks.put_webhook(webhook.model_copy(update={"secrets": expired}))
    sender.deliveries.send_again(sender.delivery_id, sender.clock.at)
    sender.attempt_when_due()
    assert len(sender.poster.requests[1][1]["webhook-signature"].split(" ")) == 1


def test_a_url_that_now_points_inside_is_an_attempt_that_fails_without_a_request() -> None:
    sender = Sender(url="https://169.254.169.254/latest")
    assert sender.attempt_when_due() == "retry"
    assert sender.poster.requests == []
    assert "link-local" in (sender.delivery.attempts[0].error or "")


def test_a_fast_endpoint_at_its_gate_waits_for_a_place_and_a_slow_one_is_turned_away() -> None:
    gate = EndpointGate(1)
    assert gate.try_enter("fast")
    threading.Timer(0.05, gate.leave, args=("fast", 0.01)).start()
    assert gate.patience("fast") > 0
    assert gate.try_enter("fast", gate.patience("fast"))  # the place freed while it waited
    gate.leave("fast", 0.01)
    assert gate.try_enter("slow")
    time.sleep(EndpointGate.FAST_SECONDS + 0.05)  # its attempt in flight is taking long
    assert gate.patience("slow") == 0
    assert not gate.try_enter("slow", gate.patience("slow"))
    gate.leave("slow", 2.0)
    assert gate.put_back_seconds("slow") == 2


def test_webhooks_are_read_once_per_burst() -> None:
    reads: list[str] = []

    class Counting(FakeWebhooks):
        def get_webhook(self, webhook_id: str):  # type: ignore[no-untyped-def]
            reads.append(webhook_id)
            return super().get_webhook(webhook_id)

    store = Counting()
    store.put_webhook(webhook_record())
    recent = RecentWebhooks(seconds=60)
    assert recent.get("wh_1", store) is recent.get("wh_1", store)
    recent.forget("wh_1")
    recent.get("wh_1", store)
    assert reads == ["wh_1", "wh_1"]


def test_an_endpoint_whose_gate_stays_full_has_its_extra_delivery_put_back() -> None:
    release = threading.Event()

    class SlowPoster(FakePoster):
        def post(self, url, headers, body, *, timeout, answer_within=None):  # type: ignore[no-untyped-def]
            release.wait(5)
            return super().post(url, headers, body, timeout=timeout)

    sender = Sender()
    sender.context.poster = SlowPoster()
    fanout = WebhookFanout(sender.webhooks, sender.deliveries, sender.notices, sender.clock)
    webhook = sender.webhooks.get_webhook("wh_1")
    ids = [
        announce(fanout, webhook_test_announcement(webhook, sender.clock.now()), to=webhook)[0]
        for _ in range(3)
    ]
    items = [(f"q{i}", DueDelivery(d, "wh_1")) for i, d in enumerate(ids)]
    with ThreadPoolExecutor(4) as pool:
        timer = threading.Timer(EndpointGate.WAIT_SECONDS + 0.3, release.set)
        timer.start()
        report = attempt_all(items, sender.context, pool, lambda *_: None)
    assert report.outcomes["succeeded"] == 2
    assert report.outcomes["endpoint_busy"] == 1
    assert report.put_back == ["q2"]


def test_the_sweep_prompts_everything_that_fell_due_while_the_sender_was_down_for_an_hour() -> None:
    sender = Sender(answer(500))
    fanout = WebhookFanout(sender.webhooks, sender.deliveries, sender.notices, sender.clock)
    webhook = sender.webhooks.get_webhook("wh_1")
    for _ in range(30):
        announce(fanout, webhook_test_announcement(webhook, sender.clock.now()), to=webhook)
    for due in sender.deliveries.due_deliveries(sender.clock.at, limit=100):  # every first attempt fails
        attempt(due.delivery_id, sender.context)
    sender.notices.prompts.clear()  # the sender is down: its queue's prompts are lost
    sender.clock.at += timedelta(hours=1)
    assert sweep(sender.context) == 31
    prompted = {due.delivery_id for due, _ in sender.notices.prompts}
    assert prompted == set(sender.deliveries.records)
    for delivery_id in prompted:
        assert attempt(delivery_id, sender.context) == "retry"


def test_a_slow_answer_moves_the_webhook_to_the_slow_lane_and_its_retry_goes_there() -> None:
    class SlowPoster(FakePoster):
        def post(self, url, headers, body, *, timeout, answer_within=None):  # type: ignore[no-untyped-def]
            return PostResult(http_status=503, duration_ms=int(SLOW_LANE_SECONDS * 1000) + 100)

    sender = Sender()
    sender.context.poster = SlowPoster()
    report = attempt_all(
        [("q0", DueDelivery(sender.delivery_id, "wh_1"))], sender.context, ThreadPoolExecutor(1), print
    )
    assert report.outcomes["retry"] == 1
    assert sender.webhooks.get_webhook("wh_1").slow is True
    retry, _ = sender.notices.prompts[-1]
    assert retry.slow is True  # the short retry's prompt is queued in the slow lane


def test_a_fast_lane_endpoint_silent_past_the_lane_deadline_is_tried_again_at_once_in_the_slow_lane() -> None:
    silent = PostResult(
        http_status=None, duration_ms=1000, error="no answer within the timeout", timed_out=True
    )
    sender = Sender(silent)
    report = attempt_all(
        [("q0", DueDelivery(sender.delivery_id, "wh_1"))], sender.context, ThreadPoolExecutor(1), print
    )
    assert report.outcomes["slow_lane"] == 1
    assert sender.poster.timeouts == [SLOW_LANE_SECONDS]  # not the whole timeout: the batch waits for it
    assert sender.webhooks.get_webhook("wh_1").slow is True
    assert sender.notices.prompts[-1] == (DueDelivery(sender.delivery_id, "wh_1", True), 0)
    delivery = sender.delivery
    assert delivery.status == "pending"
    assert delivery.failures == 0  # not counted against the endpoint
    assert delivery.next_attempt_at == sender.clock.at
    assert "slow lane" in (delivery.attempts[-1].error or "")
    # In the slow lane it has the whole timeout, and silence there is a failure like any other.
    assert attempt(sender.delivery_id, sender.context) == "retry"
    assert sender.poster.timeouts[-1] == TIMEOUT_SECONDS
    assert sender.delivery.failures == 1


def test_a_delivery_is_given_up_on_in_the_fast_lane_once_then_it_has_the_whole_timeout_in_either_lane() -> (
    None
):
    """An endpoint that answers its other deliveries fast (its webhook moved back to the fast lane) but hangs
    on this one: the second time it is counted as a failure, and the schedule goes on to its end."""
    silent = PostResult(
        http_status=None, duration_ms=1000, error="no answer within the timeout", timed_out=True
    )
    sender = Sender(silent)
    assert attempt(sender.delivery_id, sender.context) == "slow_lane"
    sender.webhooks.set_slow("wh_1", False)  # another delivery answered fast in the slow lane
    outcomes = [sender.attempt_when_due() for _ in range(MAX_ATTEMPTS)]
    assert sender.poster.timeouts[1:] == [TIMEOUT_SECONDS] * MAX_ATTEMPTS
    assert outcomes[-1] == "failed"
    assert sender.delivery.status == "failed"
    assert sender.delivery.failures == MAX_ATTEMPTS


def test_a_prompt_in_the_wrong_lane_is_moved_not_attempted() -> None:
    sender = Sender(slow=True)
    report = attempt_all(
        [("q0", DueDelivery(sender.delivery_id, "wh_1", slow=False))],
        sender.context,
        ThreadPoolExecutor(1),
        print,
    )
    assert report.outcomes == {"moved_lane": 1}
    assert sender.poster.requests == []
    assert sender.notices.prompts[-1][0] == DueDelivery(sender.delivery_id, "wh_1", slow=True)
    assert report.put_back == []


def test_a_fast_answer_in_the_slow_lane_moves_the_webhook_back() -> None:
    sender = Sender(answer(200), slow=True)
    attempt_all(
        [("q0", DueDelivery(sender.delivery_id, "wh_1", slow=True))],
        sender.context,
        ThreadPoolExecutor(1),
        print,
    )
    assert sender.webhooks.get_webhook("wh_1").slow is False


def test_the_sweep_prompts_each_delivery_in_its_webhooks_lane() -> None:
    sender = Sender(slow=True)
    sender.notices.prompts.clear()
    assert sweep(sender.context) == 1
    assert sender.notices.prompts == [(DueDelivery(sender.delivery_id, "wh_1", slow=True), 0)]


def test_an_attempt_waiting_for_a_place_gives_up_once_the_one_in_flight_shows_the_endpoint_slow() -> None:
    gate = EndpointGate(1)
    assert gate.try_enter("k")  # in flight, and never answering while the other waits
    started = time.monotonic()
    assert not gate.try_enter("k", wait=10.0)
    assert time.monotonic() - started < 5.0  # turned away once the attempt in flight passed FAST_SECONDS


def test_the_endpoint_place_is_free_before_the_outcome_is_written() -> None:
    sender = Sender(answer(200))
    sender.context.gate = EndpointGate(1)
    held_while_writing: list[bool] = []

    class Watching(FakeDeliveries):
        def finish_attempt(self, record, *, token):  # type: ignore[no-untyped-def]
            entered = sender.context.gate.try_enter("wh_1")
            if entered:
                sender.context.gate.leave("wh_1")
            held_while_writing.append(not entered)
            return super().finish_attempt(record, token=token)

    watching = Watching()
    watching.__dict__.update(sender.deliveries.__dict__)
    sender.context.deliveries = watching
    with ThreadPoolExecutor(1) as pool:
        report = attempt_all([("q0", DueDelivery(sender.delivery_id, "wh_1"))], sender.context, pool, print)
    assert report.outcomes["succeeded"] == 1
    assert held_while_writing == [False]
