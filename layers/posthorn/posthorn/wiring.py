"""Where every adapter is built: one cached factory per adapter and setting, for every entry point (the API,
the events function, the send worker, the SMTP relay and the webhook sender).

Each factory builds its adapter on first use and keeps it for the warm process, and imports its module only
then: a function's init imports nothing a route or record it handles does not need (the cold start is its
import). Every kept thing here (adapters, the sender's recent webhooks and opened secrets, the thread pools)
is made by a `_factory`, so one mechanism reaches them all: tests and the local stack change the environment
and call `reset()`, the one reset there is; a test replaces one with `override(factory, fake)` (or the API's
`dependency_overrides`, since routes take their adapters through `Depends` on these factories), or passes
its fake to the logic directly. What a use case takes per request or batch (`send_context`,
`send_worker_batch`, `sender_context`, ...) is assembled from the factories on each call, so it always holds
what they answer now.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from posthorn.adapters.alarm_topic import AlarmTopic
    from posthorn.adapters.dead_letters import SqsDeadLetters
    from posthorn.adapters.dynamodb.credentials import CredentialRepository
    from posthorn.adapters.dynamodb.domains import DomainRepository
    from posthorn.adapters.dynamodb.files import FileRepository
    from posthorn.adapters.dynamodb.held import HeldMessageRepository
    from posthorn.adapters.dynamodb.idempotency import IdempotencyRepository
    from posthorn.adapters.dynamodb.listing import MessageIndexRepository
    from posthorn.adapters.dynamodb.message_events import MessageEventRepository
    from posthorn.adapters.dynamodb.messages import MessageRepository
    from posthorn.adapters.dynamodb.rate_limits import RateRepository
    from posthorn.adapters.dynamodb.retention import Retention
    from posthorn.adapters.dynamodb.stats import StatsRepository
    from posthorn.adapters.dynamodb.suppressions import SuppressionRepository
    from posthorn.adapters.dynamodb.table import Table
    from posthorn.adapters.dynamodb.webhook_deliveries import DeliveryRepository
    from posthorn.adapters.dynamodb.webhooks import WebhookRepository
    from posthorn.adapters.s3 import S3Objects
    from posthorn.adapters.send_queue import SqsSendQueue
    from posthorn.adapters.ses_smtp import SesSmtpTransport
    from posthorn.adapters.webhook_http import PinnedHttpPoster
    from posthorn.adapters.webhook_queue import SqsDeliveryNotices, SqsPrompts
    from posthorn.adapters.webhook_secrets import KmsSecretBox
    from posthorn.logic.files.bodies import ContentCache, StoredFileBodies
    from posthorn.logic.files.cache import FileCache
    from posthorn.logic.guard.pausing import GuardContext, GuardPolicy, WebhookAndAlarmAnnouncements
    from posthorn.logic.sending.idempotency import IdempotencyKeys
    from posthorn.logic.sending.queue_drain import DrainContext, SendingPauses
    from posthorn.logic.sending.rate_limits import CredentialRates
    from posthorn.logic.sending.steps import SendContext
    from posthorn.logic.submission.intake import IntakeContext
    from posthorn.logic.webhooks.contexts import WebhookContext, WebhookFanout
    from posthorn.logic.webhooks.fanout import AnnouncingMessages, EventAnnouncer, RecentDirectory
    from posthorn.logic.webhooks.sender import EndpointGate, RecentWebhooks, SenderContext
    from posthorn.models.send_queue import QueueItem
    from posthorn.ports import Clock, DomainIdentities

Made = TypeVar("Made")
Read = TypeVar("Read")
SEND_QUEUE_BATCH_SIZE = 10  # SendQueue's event source mapping in template.yaml

_factories: set[Callable[[], object]] = set()
_made: dict[Callable[[], object], object] = {}
_overrides: dict[Callable[[], object], object] = {}
_building = threading.RLock()  # a factory may call others


def _factory(build: Callable[[], Made]) -> Callable[[], Made]:
    """Build once per process (under a lock: the send worker asks from several threads), then keep."""

    @functools.wraps(build)
    def made() -> Made:
        with _building:
            if made in _overrides:
                return cast(Made, _overrides[made])
            if made not in _made:
                _made[made] = build()
            return cast(Made, _made[made])

    _factories.add(made)
    return made


def override(factory: Callable[[], Made], made: Made) -> None:
    """Tests: `factory` answers `made` until the next `reset()`. What was built before is built again, so
    that whatever holds the replaced adapter (a `SendContext`, the file cache) holds `made` instead."""
    if factory not in _factories:
        raise TypeError(f"{getattr(factory, '__name__', factory)} is not a cached factory of wiring")
    with _building:
        _overrides[factory] = made
        _made.clear()


def settings(kind: type[Read]) -> Read:
    """The `kind` of settings (`posthorn/settings.py`) the running function reads: its own class, or one of
    the groups of variables it is made of. Each factory asks for the group it reads."""
    from posthorn.settings import current

    return current(kind)


@_factory
def clock() -> Clock:
    from posthorn.adapters.clock import SystemClock

    return SystemClock()


@_factory
def pepper() -> bytes:
    """The key that hashes credential secrets (Secrets Manager)."""
    from posthorn.adapters.secrets import secret_string
    from posthorn.settings import PepperSettings

    return secret_string(settings(PepperSettings).pepper_secret_id).encode()


def read_secret(secret_id: str) -> str:
    """A secret read now, never kept (the relay's certificate, read again every few minutes)."""
    from posthorn.adapters.secrets import read_secret

    return read_secret(secret_id)


# --- the table, one repository per aggregate -----------------------------------------------------------
@_factory
def table() -> Table:
    """The one table and one client for every repository of the process."""
    from posthorn.adapters.dynamodb.table import Table
    from posthorn.settings import TableSettings

    return Table(settings(TableSettings).table_name)


@_factory
def retention() -> Retention:
    """How long every item of a message is kept (MessageRetentionDays), and the clock reads judge expiry by:
    what each repository that writes or reads a message's items is given."""
    from posthorn.adapters.dynamodb.retention import Retention
    from posthorn.settings import RetentionSettings

    return Retention(settings(RetentionSettings).message_retention_days, clock())


@_factory
def credentials() -> CredentialRepository:
    from posthorn.adapters.dynamodb.credentials import CredentialRepository

    return CredentialRepository(table())


@_factory
def domains() -> DomainRepository:
    from posthorn.adapters.dynamodb.domains import DomainRepository

    return DomainRepository(table())


@_factory
def messages() -> MessageRepository:
    from posthorn.adapters.dynamodb.messages import MessageRepository

    return MessageRepository(table(), retention())


@_factory
def message_events() -> MessageEventRepository:
    """What the events function records SES's events with (it never needs the send path's `messages()`)."""
    from posthorn.adapters.dynamodb.message_events import MessageEventRepository

    return MessageEventRepository(table(), retention())


@_factory
def message_index() -> MessageIndexRepository:
    """The listing's reads of messages (`GET /v1/messages`, the local page)."""
    from posthorn.adapters.dynamodb.listing import MessageIndexRepository

    return MessageIndexRepository(table(), retention())


@_factory
def suppressions() -> SuppressionRepository:
    from posthorn.adapters.dynamodb.suppressions import SuppressionRepository

    return SuppressionRepository(table())


@_factory
def rate_limits() -> RateRepository:
    from posthorn.adapters.dynamodb.rate_limits import RateRepository

    return RateRepository(table())


@_factory
def idempotency() -> IdempotencyRepository:
    from posthorn.adapters.dynamodb.idempotency import IdempotencyRepository

    return IdempotencyRepository(table())


@_factory
def idempotency_keys() -> IdempotencyKeys:
    """The API's `Idempotency-Key`s: their store and how long an answer is kept."""
    from posthorn.logic.sending.idempotency import IdempotencyKeys
    from posthorn.settings import IntakeSettings

    return IdempotencyKeys(idempotency(), settings(IntakeSettings).idempotency_ttl_seconds)


@_factory
def credential_rates() -> CredentialRates:
    """The API's rate limit per credential (the `RateLimit-*` fields of its answers)."""
    from posthorn.logic.sending.rate_limits import CredentialRates
    from posthorn.settings import IntakeSettings

    return CredentialRates(rate_limits(), clock(), settings(IntakeSettings).default_rate_limit_per_second)


@_factory
def file_records() -> FileRepository:
    from posthorn.adapters.dynamodb.files import FileRepository

    return FileRepository(table())


# --- listing, stats and the deliverability guard ---------------------------------------------------------
@_factory
def stats() -> StatsRepository:
    from posthorn.adapters.dynamodb.stats import StatsRepository

    return StatsRepository(table())


@_factory
def held_messages() -> HeldMessageRepository:
    from posthorn.adapters.dynamodb.held import HeldMessageRepository

    return HeldMessageRepository(table(), retention())


@_factory
def alarm_topic() -> AlarmTopic:
    """The stack's alarm topic: the guard's announcements and the webhook sender's alarms."""
    from posthorn.adapters.alarm_topic import AlarmTopic
    from posthorn.settings import AlarmSettings

    return AlarmTopic(settings(AlarmSettings).alarm_topic_arn)


@_factory
def announcements() -> WebhookAndAlarmAnnouncements:
    """Where the guard announces a pause or resume: the alarm topic and the domain's webhooks."""
    import datetime

    from posthorn.logic.guard.pausing import WebhookAndAlarmAnnouncements
    from posthorn.logic.webhooks.fanout import announce_domain_event
    from posthorn.models.webhooks import WebhookEventType

    def to_webhooks(kind: str, domain: str, at: datetime.datetime, details: dict[str, object]) -> object:
        return announce_domain_event(webhook_fanout(), WebhookEventType(kind), domain, at, details)

    return WebhookAndAlarmAnnouncements(alarm_topic(), to_webhooks)


@_factory
def sending_pauses() -> SendingPauses:
    """The send worker's view of which domains the guard paused, kept for the warm process."""
    import time

    from posthorn.logic.sending.queue_drain import SendingPauses

    return SendingPauses(domains(), time.monotonic)


@_factory
def cursor_key() -> bytes:
    """The key that signs listing cursors, derived from the pepper (`logic/insight/cursors.py`)."""
    from posthorn.logic.insight.cursors import derive_key

    return derive_key(pepper())


def guard_policy() -> GuardPolicy:
    from posthorn.logic.guard.pausing import GuardPolicy
    from posthorn.settings import GuardSettings

    s = settings(GuardSettings)
    window = s.guard_window
    return GuardPolicy(
        window=window,
        minimum=min(s.guard_minimum, window),
        bounce_rate=s.guard_bounce_rate / 100,
        complaint_rate=s.guard_complaint_rate / 100,
    )


def guard_context() -> GuardContext:
    from posthorn.logic.guard.pausing import GuardContext

    return GuardContext(
        domains=domains(), counters=stats(), announcements=announcements(), policy=guard_policy()
    )


# --- SES, the queues, the bucket ------------------------------------------------------------------------
@_factory
def transport() -> SesSmtpTransport:
    """One SMTP connection pool per warm process: consecutive sends reuse the SES connection."""
    from posthorn.adapters.ses_smtp import transport_from_settings
    from posthorn.settings import SesSmtpSettings

    return transport_from_settings(settings(SesSmtpSettings))


@_factory
def send_queue() -> SqsSendQueue:
    from posthorn.adapters.send_queue import SqsSendQueue
    from posthorn.settings import SendQueueSettings

    s = settings(SendQueueSettings)
    return SqsSendQueue(s.send_queue_url, s.bucket_name)


@_factory
def identities() -> DomainIdentities:
    from posthorn.adapters.ses_identities import AutoVerifiedIdentities, SesIdentities
    from posthorn.settings import ApiSettings

    return AutoVerifiedIdentities() if settings(ApiSettings).auto_verify_domains else SesIdentities()


@_factory
def dead_letters() -> SqsDeadLetters | None:
    """Where the events function parks records it cannot parse; None where the stack has no such queue."""
    from posthorn.adapters.dead_letters import SqsDeadLetters
    from posthorn.settings import EventsSettings

    queue_url = settings(EventsSettings).events_dead_letter_queue_url
    return SqsDeadLetters(queue_url) if queue_url else None


@_factory
def objects() -> S3Objects:
    from posthorn.adapters.s3 import S3Objects
    from posthorn.settings import BucketSettings

    return S3Objects(settings(BucketSettings).bucket_name)


# --- the file cache: what sending attaches by key ------------------------------------------------------
@_factory
def file_contents() -> ContentCache:
    """Cached files' base64 bodies, one bounded cache per process (`FILE_CACHE_MAX_BYTES`): what lets many
    messages share one read of a file, in the API's file cache and the worker's attachments alike."""
    from posthorn.logic.files.bodies import ContentCache
    from posthorn.settings import FileContentsSettings

    return ContentCache(settings(FileContentsSettings).file_cache_max_bytes)


@_factory
def file_cache() -> FileCache:
    """The API's file cache: uploads, keys, and the contents of the files a message attaches."""
    from posthorn.logic.files.cache import FileCache
    from posthorn.settings import FileCacheSettings

    s = settings(FileCacheSettings)
    return FileCache(
        files=file_records(),
        objects=objects(),
        clock=clock(),
        retention_days=s.file_retention_days,
        upload_url_seconds=s.file_upload_url_seconds,
        contents=file_contents(),
    )


@_factory
def attachment_bodies() -> StoredFileBodies:
    """The send worker's attachments: a queued message's cached files, each read from S3 once."""
    from posthorn.logic.files.bodies import StoredFileBodies

    return StoredFileBodies(objects(), file_contents())


# --- what the use cases take -----------------------------------------------------------------------------
def send_context() -> SendContext:
    """The adapters a send needs (single sends and batches), as this warm process holds them: assembled
    per request (a few attribute reads), so it always holds what the factories answer now."""
    from posthorn.logic.sending.steps import SendContext
    from posthorn.settings import ApiSettings

    s = settings(ApiSettings)
    return SendContext(
        messages=announced_messages(),
        suppressions=suppressions(),
        domains=domains(),
        transport=transport(),
        queue=send_queue(),
        clock=clock(),
        configuration_sets=s.configuration_set,
        budget_seconds=s.send_budget_seconds,
        files=file_cache(),
    )


def intake_context(side_by_side: Executor) -> IntakeContext:
    """What the SMTP relay's intake needs, with the relay's own threads for the calls it makes together."""
    from posthorn.logic.submission.intake import IntakeContext
    from posthorn.settings import SubmissionSettings

    s = settings(SubmissionSettings)
    return IntakeContext(
        messages=messages(),
        queue=send_queue(),
        domains=domains(),
        suppressions=suppressions(),
        rate_limits=rate_limits(),
        idempotency=idempotency(),
        clock=clock(),
        configuration_sets=s.configuration_set,
        files=file_cache(),
        default_rate_per_second=s.default_rate_limit_per_second,
        idempotency_ttl_seconds=s.idempotency_ttl_seconds,
        side_by_side=side_by_side,
    )


# --- the send worker ----------------------------------------------------------------------------------------
@_factory
def ses_pace() -> Callable[[int], list[float]]:
    """The next n send times at the SES account's maximum send rate: the one schedule every worker takes its
    send times from (`reserve_slots`, shared through the rate store)."""
    import time

    from posthorn.logic.sending.rate_limits import SES_PACE_KEY, reserve_slots
    from posthorn.settings import WorkerSettings

    store, rate = rate_limits(), settings(WorkerSettings).ses_max_send_rate

    def reserve(count: int) -> list[float]:
        return reserve_slots(store, SES_PACE_KEY, rate=rate, count=count, now_us=time.time_ns() // 1000)

    return reserve


def send_worker_batch(
    records: list[dict[str, Any]], time_left: Callable[[], float]
) -> tuple[list[QueueItem], DrainContext]:
    """One SendQueue batch of the send worker: its items, and the drain's context with the batch's queue and
    the invocation's time left; the rest as this warm process holds it (assembled per batch, like
    `send_context`)."""
    import time

    from posthorn.adapters.send_queue import SqsWorkQueue
    from posthorn.logic.sending.queue_drain import DrainContext
    from posthorn.settings import WorkerSettings

    s = settings(WorkerSettings)
    queue = SqsWorkQueue(records, s.send_queue_url, s.bucket_name)
    smtp = transport()  # first: a new process's connection opens while the rest is built
    return queue.items, DrainContext(
        messages=announced_messages(),
        suppressions=suppressions(),
        transport=smtp,
        queue=queue,
        attachments=attachment_bodies(),
        reserve_slots=ses_pace(),
        wall_clock=time.time,
        monotonic=time.monotonic,
        sleep=time.sleep,
        time_left=time_left,
        store_calls=store_calls(),
        max_receives=s.send_max_receives,
        send_budget_seconds=s.worker_send_budget_seconds,
        retry_base_seconds=s.send_retry_base_seconds,
        retry_cap_seconds=s.send_retry_cap_seconds,
        pauses=sending_pauses(),
        held=held_messages(),
        requeue=send_queue(),
    )


@_factory
def store_calls() -> ThreadPoolExecutor:
    """The send worker's threads for store round trips, one per message of a batch, started once per warm
    process (starting them costs)."""
    return ThreadPoolExecutor(max_workers=SEND_QUEUE_BATCH_SIZE, thread_name_prefix="store")


def send_worker_imports() -> None:
    """Import what every batch uses during Lambda's init (the handler imports no adapter itself), so the
    first batch does not pay for it (figure 2 of `make bench`: with eight fresh instances on two cores, their
    first batches took ~2.7 s against 0.9 s): boto3 with the table's module, and the adapters that need no
    model beyond the handler's (figure 1 for the worker: 0.68x -> ~1.18x of its baseline, which imports
    boto3 too). The repositories and the webhook fan-out (their models: another ~0.1x there, for nothing
    measurable in figure 2) are imported by the first batch while its first SMTP connection opens
    (`transport`, built first), which waits about as long for SES's replies."""
    import posthorn.adapters.clock
    import posthorn.adapters.dynamodb.table
    import posthorn.adapters.s3
    import posthorn.adapters.secrets
    import posthorn.adapters.send_queue
    import posthorn.adapters.ses_smtp
    import posthorn.adapters.webhook_queue
    import posthorn.logic.files.bodies
    import posthorn.logic.sending.rate_limits  # noqa: F401


# --- webhooks: their table, the sender's queue, secrets, the endpoints -----------------------------------
@_factory
def webhooks_table() -> Table:
    """Webhooks and their deliveries: a table of their own (adapters/dynamodb/webhooks.py says why)."""
    from posthorn.adapters.dynamodb.table import Table
    from posthorn.settings import WebhookFanoutSettings

    return Table(settings(WebhookFanoutSettings).webhooks_table_name)


@_factory
def webhooks() -> WebhookRepository:
    from posthorn.adapters.dynamodb.webhooks import WebhookRepository

    return WebhookRepository(webhooks_table())


@_factory
def webhook_deliveries() -> DeliveryRepository:
    from posthorn.adapters.dynamodb.webhook_deliveries import DeliveryRepository

    return DeliveryRepository(webhooks_table(), retention())


@_factory
def delivery_notices() -> SqsDeliveryNotices:
    from posthorn.adapters.webhook_queue import SqsDeliveryNotices
    from posthorn.settings import WebhookFanoutSettings

    s = settings(WebhookFanoutSettings)
    return SqsDeliveryNotices(s.webhook_queue_url, s.webhook_slow_queue_url)


@_factory
def webhook_secrets() -> KmsSecretBox:
    from posthorn.adapters.webhook_secrets import KmsSecretBox
    from posthorn.settings import WebhookSecretSettings

    return KmsSecretBox(settings(WebhookSecretSettings).webhook_secrets_key_id)


@_factory
def webhook_poster() -> PinnedHttpPoster:
    from posthorn.adapters.webhook_http import PinnedHttpPoster
    from posthorn.settings import WebhookSenderSettings

    s = settings(WebhookSenderSettings)
    return PinnedHttpPoster(allow_loopback=s.webhook_allow_loopback, pool_size=s.webhook_endpoint_concurrency)


@_factory
def endpoint_gate() -> EndpointGate:
    from posthorn.logic.webhooks.sender import EndpointGate
    from posthorn.settings import WebhookSenderSettings

    return EndpointGate(settings(WebhookSenderSettings).webhook_endpoint_concurrency)


@_factory
def webhook_directory() -> RecentDirectory:
    """The webhooks of each domain as read in the last seconds, in front of `webhooks()`: what the fan-out
    reads and what the routes write through (so a change made in this process is seen by it at once)."""
    from posthorn.logic.webhooks.fanout import RecentDirectory

    return RecentDirectory(webhooks())


@_factory
def webhook_fanout() -> WebhookFanout:
    """What every recorder of events hands its events to (logic/webhooks/fanout.py)."""
    from posthorn.logic.webhooks.contexts import WebhookFanout

    return WebhookFanout(
        webhooks=webhook_directory(),
        deliveries=webhook_deliveries(),
        notices=delivery_notices(),
        clock=clock(),
    )


@_factory
def event_announcer() -> EventAnnouncer:
    """The events function's announcer, with its per-process cache of the messages events arrive for."""
    from posthorn.logic.webhooks.fanout import EventAnnouncer

    return EventAnnouncer(webhook_fanout(), message_events())


@_factory
def announced_messages() -> AnnouncingMessages:
    """The message store of the send path (the API, the send worker): `failed` and `suppressed` outcomes
    become webhook deliveries."""
    from posthorn.logic.webhooks.fanout import AnnouncingMessages

    return AnnouncingMessages(messages(), webhook_fanout())


def webhook_context() -> WebhookContext:
    from posthorn.logic.webhooks.contexts import WebhookContext
    from posthorn.settings import WebhookSecretSettings

    return WebhookContext(
        webhooks=webhook_directory().writing_through(),
        deliveries=webhook_deliveries(),
        notices=delivery_notices(),
        secrets=webhook_secrets(),
        allow_loopback=settings(WebhookSecretSettings).webhook_allow_loopback,
    )


def webhook_prompts(records: list[dict[str, Any]]) -> SqsPrompts:
    """The prompts of one sender event from WebhookQueue and WebhookSlowQueue: read, and put back on the
    queue each came from."""
    from posthorn.adapters.webhook_queue import SqsPrompts
    from posthorn.settings import WebhookFanoutSettings

    s = settings(WebhookFanoutSettings)
    return SqsPrompts(records, s.webhook_queue_url, s.webhook_slow_queue_url)


def webhook_sender_imports() -> None:
    """Import what every prompt batch uses during Lambda's init (the handler imports no adapter itself)."""
    import posthorn.adapters.webhook_queue  # noqa: F401


def sender_context() -> SenderContext:
    from posthorn.logic.webhooks.sender import SenderContext
    from posthorn.settings import WebhookSecretSettings

    return SenderContext(
        deliveries=webhook_deliveries(),
        webhooks=webhooks(),
        secrets=webhook_secrets(),
        poster=webhook_poster(),
        notices=delivery_notices(),
        alarms=alarm_topic(),
        clock=clock(),
        gate=endpoint_gate(),
        allow_loopback=settings(WebhookSecretSettings).webhook_allow_loopback,
        opened=opened_secrets(),
        recent=recent_webhooks(),
    )


@_factory
def recent_webhooks() -> RecentWebhooks:
    """The sender's webhooks as read in the last few seconds (logic/webhooks/sender.py, RecentWebhooks)."""
    from posthorn.logic.webhooks.sender import RecentWebhooks

    return RecentWebhooks()


@_factory
def opened_secrets() -> dict[str, str]:
    """Secrets the sender opened, by their sealed form: KMS is asked once per secret per warm process."""
    return {}


@_factory
def attempt_calls() -> ThreadPoolExecutor:
    """The sender's threads: one per attempt of a batch (10). A reset forgets them like any other factory:
    idle, they end once the pool is no longer referenced."""
    return ThreadPoolExecutor(max_workers=SEND_QUEUE_BATCH_SIZE, thread_name_prefix="webhook")


def reset() -> None:
    """Forget every adapter, client, secret and setting (the environment changed: tests, the local stack)."""
    from posthorn.adapters import reset_adapters

    with _building:
        _made.clear()
        _overrides.clear()
    reset_adapters()
