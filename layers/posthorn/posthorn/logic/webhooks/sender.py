"""The webhook sender's work: one attempt of one due delivery, and the sweep that finds what is due.

The table is the schedule. Every pending delivery carries its due time (`next_attempt_at`, a sparse index),
so the schedule's long waits (up to 24 h, ten attempts over three days) outlive SQS's 15-minute delay and
12-hour visibility limits, and a sender that was down for an hour finds everything that fell due meanwhile
on its first sweep (EventBridge runs one every minute). SQS only prompts: a new delivery and a retry due in
under 15 minutes are queued with that delay, so the first retries come on time (about 5 s) without waiting
for a sweep. A prompt and a sweep may both hand over the same delivery: an attempt starts with a claim (a
lease on the delivery, conditional on its being pending, due and unclaimed), so it is made once.

One slow endpoint never delays another's deliveries, on two levels:
- lanes: a webhook whose endpoint took over SLOW_LANE_SECONDS is marked `slow`, and its prompts go to a
  queue of their own (WebhookSlowQueue) with sender instances of their own; a prompt that arrives in the
  wrong lane is moved, not attempted; one that answers fast again (under EndpointGate.FAST_SECONDS) comes
  back. Lambda waits for the slowest attempt of a batch before it takes the next, so without lanes every
  instance would spend its time waiting on the slow endpoint's answers. In the fast lane an endpoint gets
  SLOW_LANE_SECONDS to connect and SLOW_LANE_SECONDS to answer, not TIMEOUT_SECONDS: one that has turned
  slow (or hangs) holds a fast-lane batch that long once, and the delivery is made again at once in the slow
  lane, with the whole timeout (not counted as a failure, once per delivery; the endpoint may see it twice,
  as any at-least-once delivery, under the same `webhook-id`; a connect given up sent nothing).
- within an instance, at most `EndpointGate.limit` requests per endpoint at once (a place is held from
  before the claim until the endpoint answers, not while the outcome is written); a fast endpoint's extra
  attempt waits for its place (it frees in milliseconds), a slow one's is put back for about as long as the
  endpoint takes instead of holding a thread.
"""

from __future__ import annotations

import math
import random
import secrets as random_source
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from posthorn.errors import UndeliverableUrl
from posthorn.logic.ttl_cache import TtlCache
from posthorn.logic.webhooks import signing
from posthorn.logic.webhooks.addresses import check_url
from posthorn.logic.webhooks.schedule import (
    DISABLE_AFTER_FAILING_SECONDS,
    retry_after_seconds,
    retry_delay,
    verdict,
)
from posthorn.models.webhooks import Attempt, DeliveryRecord, DueDelivery, PostResult, WebhookRecord
from posthorn.ports import (
    Alarms,
    Clock,
    DeliveryClaims,
    DeliveryNotices,
    SecretBox,
    WebhookHealth,
    WebhookPoster,
)

TIMEOUT_SECONDS = 15.0
SLOW_LANE_SECONDS = 1.0
# Longer than an attempt can take (the 15 s timeout, DNS, the writes around it): a sender that dies while
# holding a claim delays that delivery by this much, never loses it.
LEASE_SECONDS = 45.0
SQS_MAX_DELAY_SECONDS = 900
KEPT_ATTEMPTS = 50  # attempts shown per delivery (replays can add more than the schedule's ten)
GATE_FULL_RETRY_SECONDS = 1  # SQS's smallest visibility delay that is not "at once"
MOVED_TO_SLOW_LANE = "given up after"  # how a fast-lane attempt given up after SLOW_LANE_SECONDS is listed


class EndpointGate:
    """At most `limit` attempts at once per webhook, in this process. An attempt that finds its endpoint's
    gate full waits for a place only when the endpoint answers fast (its recent attempts took under
    FAST_SECONDS on average and none in flight has taken longer: a place frees within milliseconds); for a
    slow one it is put back for about as long as the endpoint takes, so the slow endpoint's backlog never
    holds a thread that another endpoint's delivery could use."""

    FAST_SECONDS = 0.25
    WAIT_SECONDS = 0.5

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._busy: Counter[str] = Counter()
        self._started: dict[str, list[float]] = {}  # when each attempt in flight began, per endpoint
        self._seconds: dict[str, float] = {}  # moving average of each endpoint's attempt time
        self._lock = threading.Lock()
        # One condition per endpoint: a freed place wakes the attempts waiting for that endpoint, not every
        # waiting thread of the instance.
        self._freed: dict[str, threading.Condition] = {}

    def _slow(self, key: str) -> bool:
        started = self._started.get(key)
        stuck = bool(started) and time.monotonic() - min(started or [0.0]) > self.FAST_SECONDS
        return stuck or self._seconds.get(key, 0.0) >= self.FAST_SECONDS

    def patience(self, key: str) -> float:
        with self._lock:
            return 0.0 if self._slow(key) else self.WAIT_SECONDS

    def put_back_seconds(self, key: str) -> int:
        """How long a turned-away attempt waits before it is handed over again (1 to 15 s)."""
        with self._lock:
            return min(15, max(1, math.ceil(self._seconds.get(key, 1.0))))

    def try_enter(self, key: str, wait: float = 0.0) -> bool:
        """Take a place for `key`, waiting up to `wait` seconds for one, and no longer once an attempt in
        flight shows the endpoint slow."""
        deadline = time.monotonic() + wait
        with self._lock:
            while self._busy[key] >= self.limit:
                left = deadline - time.monotonic()
                if left <= 0 or self._slow(key):
                    return False
                freed = self._freed.get(key)
                if freed is None:
                    freed = self._freed[key] = threading.Condition(self._lock)
                freed.wait(min(left, self.FAST_SECONDS))
            self._busy[key] += 1
            self._started.setdefault(key, []).append(time.monotonic())
            return True

    def leave(self, key: str, seconds: float | None = None) -> None:
        with self._lock:
            self._busy[key] -= 1
            started = self._started.get(key, [])
            if started:
                started.remove(min(started))
            if self._busy[key] <= 0:
                del self._busy[key]
                self._started.pop(key, None)
            if seconds is not None:
                previous = self._seconds.get(key, seconds)
                self._seconds[key] = previous * 0.8 + seconds * 0.2
            freed = self._freed.get(key)
            if freed is not None:
                freed.notify_all()


class RecentWebhooks:
    """Webhooks as read in the last SECONDS, per process: an attempt reads its webhook once per burst, not
    once per delivery (one store round trip of three per attempt). A change (URL, secret, status) reaches
    the sender within SECONDS; one the sender makes itself (disabling) at once."""

    SECONDS = 5.0

    def __init__(self, seconds: float = SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._recent: TtlCache[str, WebhookRecord | None] = TtlCache(seconds, clock)

    def get(self, webhook_id: str, store: WebhookHealth) -> WebhookRecord | None:
        return self._recent.get(webhook_id, lambda: store.get_webhook(webhook_id))

    def forget(self, webhook_id: str) -> None:
        self._recent.forget([webhook_id])


@dataclass
class SenderContext:
    deliveries: DeliveryClaims
    webhooks: WebhookHealth
    secrets: SecretBox
    poster: WebhookPoster
    notices: DeliveryNotices
    alarms: Alarms
    clock: Clock
    gate: EndpointGate
    allow_loopback: bool = False
    timeout_seconds: float = TIMEOUT_SECONDS
    rng: random.Random = field(default_factory=random.Random)
    opened: dict[str, str] = field(default_factory=dict)  # sealed secret -> secret, for this process
    recent: RecentWebhooks = field(default_factory=RecentWebhooks)


def _signing_secrets(webhook: WebhookRecord, context: SenderContext, now: datetime) -> list[str]:
    found = []
    for sealed in webhook.secrets:
        if sealed.expires_at is not None and sealed.expires_at <= now:
            continue
        if sealed.ciphertext not in context.opened:
            context.opened[sealed.ciphertext] = context.secrets.open(
                sealed.ciphertext, context=webhook.webhook_id
            )
        found.append(context.opened[sealed.ciphertext])
    return found


def _post(
    webhook: WebhookRecord,
    record: DeliveryRecord,
    context: SenderContext,
    now: datetime,
    answer_within: float | None,
) -> PostResult:
    try:
        check_url(webhook.url, allow_loopback=context.allow_loopback)
    except UndeliverableUrl as refused:
        return PostResult(http_status=None, duration_ms=0, error=f"the URL {refused}")
    secrets = _signing_secrets(webhook, context, now)
    headers = signing.headers(secrets, record.delivery_id, int(now.timestamp()), record.payload)
    return context.poster.post(
        webhook.url,
        headers,
        record.payload,
        timeout=context.timeout_seconds,
        answer_within=answer_within,
    )


def _fast_lane_deadline(webhook: WebhookRecord, record: DeliveryRecord) -> bool:
    """Whether this attempt has SLOW_LANE_SECONDS: in the fast lane, once per delivery. A delivery moved to
    the slow lane before has the whole timeout in either lane, so an endpoint that hangs on it while
    answering others fast (its webhook moving back and forth) has it counted as a failure, retried on the
    schedule."""
    return not webhook.slow and not any(_moved(attempt) for attempt in record.attempts)


def _moved(attempt: Attempt) -> bool:
    return bool(attempt.error and attempt.error.startswith(MOVED_TO_SLOW_LANE))


def attempt(
    delivery_id: str, context: SenderContext, answered: Callable[[float], None] = lambda seconds: None
) -> str:
    """Make one attempt of the delivery if it is due and unclaimed; what came of it. `answered` is told how
    long the endpoint took as soon as it has answered, before the outcome is written. A webhook in the
    fast lane (not `slow`) has SLOW_LANE_SECONDS to answer."""
    now = context.clock.now()
    token = random_source.token_hex(8)
    record = context.deliveries.claim_delivery(delivery_id, now=now, lease_seconds=LEASE_SECONDS, token=token)
    if record is None:
        return "not_due"
    webhook = context.recent.get(record.webhook_id, context.webhooks)
    if webhook is None or webhook.status != "enabled":
        reason = "the webhook was deleted" if webhook is None else "the webhook is disabled"
        finished = record.model_copy(
            update={
                "status": "failed",
                "next_attempt_at": None,
                "attempts": [*record.attempts, Attempt(at=now, duration_ms=0, error=reason)][-KEPT_ATTEMPTS:],
            }
        )
        context.deliveries.finish_attempt(finished, token=token)
        return "webhook_off"
    fast_lane = _fast_lane_deadline(webhook, record)
    result = _post(webhook, record, context, now, SLOW_LANE_SECONDS if fast_lane else None)
    answered(result.duration_ms / 1000)
    if result.timed_out and fast_lane:
        return _to_slow_lane(record, webhook, result, context, now, token)
    return _record_outcome(record, webhook, result, context, now, token)


def _record_outcome(
    record: DeliveryRecord,
    webhook: WebhookRecord,
    result: PostResult,
    context: SenderContext,
    now: datetime,
    token: str,
) -> str:
    done = Attempt(
        at=now,
        http_status=result.http_status,
        duration_ms=result.duration_ms,
        error=result.error,
        response_body=result.body_head,
    )
    attempts = [*record.attempts, done][-KEPT_ATTEMPTS:]
    outcome = verdict(result.http_status)
    delay: float | None = None
    update: dict[str, object]
    if outcome == "succeeded":
        update = {"status": "succeeded", "next_attempt_at": None}
    elif outcome == "gone":
        update = {"status": "failed", "next_attempt_at": None}
    else:
        failures = record.failures + 1
        wait = retry_after_seconds(result.http_status, result.retry_after, now)
        delay = retry_delay(failures, retry_after=wait, rng=context.rng)
        if delay is None:
            outcome = "failed"
            update = {"status": "failed", "next_attempt_at": None, "failures": failures}
        else:
            update = {"next_attempt_at": now + timedelta(seconds=delay), "failures": failures}
    finished = record.model_copy(update={**update, "attempts": attempts})
    if not context.deliveries.finish_attempt(finished, token=token):
        return "claim_lost"
    if outcome == "succeeded":
        if webhook.failing_since is not None or record.failures:
            context.webhooks.note_success(webhook.webhook_id)
    elif outcome == "gone":
        context.webhooks.disable_webhook(webhook.webhook_id, "the endpoint answered 410 Gone")
        context.recent.forget(webhook.webhook_id)
    else:
        context.webhooks.note_failure(webhook.webhook_id, now)
        if outcome == "failed":
            _disable_if_failing_for_days(webhook, context, now)
    slow = _lane_after(webhook, result.duration_ms / 1000, context)
    if delay is not None and delay <= SQS_MAX_DELAY_SECONDS:
        due = DueDelivery(record.delivery_id, record.webhook_id, slow)
        context.notices.notify([due], delay_seconds=math.ceil(delay))
    return outcome


def _to_slow_lane(
    record: DeliveryRecord,
    webhook: WebhookRecord,
    result: PostResult,
    context: SenderContext,
    now: datetime,
    token: str,
) -> str:
    """A fast-lane attempt the endpoint did not answer within SLOW_LANE_SECONDS: the webhook moves to the slow
    lane and the delivery is due again at once there, the attempt shown but not counted as a failure."""
    moved = Attempt(
        at=now,
        duration_ms=result.duration_ms,
        error=f"{MOVED_TO_SLOW_LANE} {SLOW_LANE_SECONDS:g} s in the fast lane: made again in the slow lane",
    )
    finished = record.model_copy(
        update={"next_attempt_at": now, "attempts": [*record.attempts, moved][-KEPT_ATTEMPTS:]}
    )
    if not context.deliveries.finish_attempt(finished, token=token):
        return "claim_lost"
    context.webhooks.set_slow(webhook.webhook_id, True)
    context.recent.forget(webhook.webhook_id)
    context.notices.notify([DueDelivery(record.delivery_id, record.webhook_id, True)])
    return "slow_lane"


def _disable_if_failing_for_days(webhook: WebhookRecord, context: SenderContext, now: datetime) -> None:
    current = context.webhooks.get_webhook(webhook.webhook_id)  # not the recent copy: its failing_since
    since = (current.failing_since if current else None) or now
    if (now - since).total_seconds() < DISABLE_AFTER_FAILING_SECONDS:
        return
    disabled = context.webhooks.disable_webhook(
        webhook.webhook_id, f"every attempt failed since {since.isoformat()}"
    )
    context.recent.forget(webhook.webhook_id)
    if disabled is not None:
        context.alarms.alarm(
            "Posthorn webhook disabled",
            f"Webhook {webhook.webhook_id} ({', '.join(webhook.domains)}) was disabled: every delivery to it "
            f"has failed since {since.isoformat()}. Fix the endpoint, then PATCH its status to enabled and "
            "replay the failed deliveries.",
        )


@dataclass
class BatchReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    put_back: list[str] = field(default_factory=list)  # items to hand back to the queue (gate full, error)
    put_back_seconds: int = GATE_FULL_RETRY_SECONDS


def attempt_all(
    items: list[tuple[str, DueDelivery]],
    context: SenderContext,
    pool: Executor,
    on_error: Callable[[str, Exception], None],
) -> BatchReport:
    """Attempt each (queue item id, delivery) side by side on `pool`, within each endpoint's gate."""
    report = BatchReport()

    def run(due: DueDelivery) -> str:
        # The endpoint's place is taken before the claim (a full gate puts the prompt back without writing)
        # and given up as soon as the endpoint has answered: the outcome's write does not hold it, and the
        # gate learns the endpoint's own time.
        held = [True]

        def leave(seconds: float | None = None) -> None:
            if held:
                held.clear()
                context.gate.leave(due.webhook_id, seconds)

        try:
            return attempt(due.delivery_id, context, leave)
        finally:
            leave()

    # Each attempt starts as soon as its endpoint has a place, so the places the first ones free are there
    # for the next ones of the same endpoint.
    futures = []
    for item_id, due in items:
        webhook = context.recent.get(due.webhook_id, context.webhooks)
        if webhook is not None and webhook.slow != due.slow:  # in the wrong lane: moved, not attempted
            context.notices.notify([due._replace(slow=webhook.slow)])
            report.outcomes["moved_lane"] += 1
            continue
        if context.gate.try_enter(due.webhook_id, context.gate.patience(due.webhook_id)):
            futures.append((item_id, due, pool.submit(run, due)))
        else:
            report.outcomes["endpoint_busy"] += 1
            report.put_back.append(item_id)
            report.put_back_seconds = max(
                report.put_back_seconds, context.gate.put_back_seconds(due.webhook_id)
            )
    for item_id, due, future in futures:
        try:
            report.outcomes[future.result()] += 1
        except Exception as error:  # the delivery stays pending and due: the queue or the sweep retries it
            on_error(due.delivery_id, error)
            report.outcomes["error"] += 1
            report.put_back.append(item_id)
    return report


def _lane_after(webhook: WebhookRecord, seconds: float, context: SenderContext) -> bool:
    """The webhook's lane after an attempt that took `seconds`: over SLOW_LANE_SECONDS moves it to the slow
    lane, under EndpointGate.FAST_SECONDS back (one write when it changes)."""
    if not webhook.slow and seconds > SLOW_LANE_SECONDS:
        slow = True
    elif webhook.slow and seconds < EndpointGate.FAST_SECONDS:
        slow = False
    else:
        return webhook.slow
    context.webhooks.set_slow(webhook.webhook_id, slow)
    context.recent.forget(webhook.webhook_id)
    return slow


def sweep(context: SenderContext, *, limit: int = 1000) -> int:
    """Queue a prompt for every delivery that is due (the schedule's long waits end here), each in its
    webhook's lane; how many."""
    due = context.deliveries.due_deliveries(context.clock.now(), limit=limit)
    lanes = []
    for item in due:
        webhook = context.recent.get(item.webhook_id, context.webhooks)
        lanes.append(item._replace(slow=bool(webhook and webhook.slow)))
    for start in range(0, len(lanes), 10):
        context.notices.notify(lanes[start : start + 10])
    return len(due)
