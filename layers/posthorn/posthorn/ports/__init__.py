"""What the logic needs from the outside world, one Protocol per consumer, a module per feature; this
package re-exports them all, so a use case imports `from posthorn.ports import X`. The adapters implement
them (`adapters/dynamodb/` one repository per aggregate, `adapters/s3.py`, `adapters/ses_smtp.py`, ...);
tests pass the in-memory fakes of `tests/support/fakes.py`. Each port is as small as its consumer needs, so
a fake implements nothing it is not asked for. The values they exchange are NamedTuples in `models/`.

Which adapter implements which port is written once, in `wiring.py`, and checked by mypy there: a table here
would only drift from it. By module:

- `common`: `Clock`, `ConfigurationSets`.
- `accounts`: credentials, sending domains, SES's identities.
- `sending`: message records and send claims, rate limits, `Idempotency-Key`, SES's SMTP, the send queue.
- `events`: recording SES events, the suppression list, announcing message events.
- `files`: file records, stored objects, cached files' bodies.
- `insight`: a message read back, the listing indexes, the stats counters.
- `guard`: the guard's counters and domains, its announcements, held messages.
- `webhooks`: webhooks, deliveries and their claims, secrets, the HTTP poster, alarms.
"""

from posthorn.ports.accounts import CredentialStore, DomainIdentities, DomainStore, SenderDomains
from posthorn.ports.common import Clock, ConfigurationSets
from posthorn.ports.events import (
    EventRecorder,
    MessageRecords,
    SuppressionLookup,
    SuppressionRecorder,
    SuppressionSnapshots,
    SuppressionStore,
)
from posthorn.ports.files import AttachmentBodies, CachedFiles, FileStore, FileUploads, ObjectStore
from posthorn.ports.guard import GuardAnnouncements, GuardCounters, GuardDomains, HeldMessages, QueueBodies
from posthorn.ports.insight import MessageIndex, MessageReader, StatsReader, SuppressionIndex
from posthorn.ports.sending import (
    DeliveryRecorder,
    IdempotencyStore,
    MailTransport,
    MessageRecorder,
    RateStore,
    SendClaims,
    SendQueue,
    WorkQueue,
)
from posthorn.ports.webhooks import (
    Alarms,
    DeliveryClaims,
    DeliveryNotices,
    DeliveryStore,
    DeliveryWriter,
    SecretBox,
    WebhookDirectory,
    WebhookHealth,
    WebhookPoster,
    WebhookStore,
)

__all__ = [
    "Alarms",
    "AttachmentBodies",
    "CachedFiles",
    "Clock",
    "ConfigurationSets",
    "CredentialStore",
    "DeliveryClaims",
    "DeliveryNotices",
    "DeliveryRecorder",
    "DeliveryStore",
    "DeliveryWriter",
    "DomainIdentities",
    "DomainStore",
    "EventRecorder",
    "FileStore",
    "FileUploads",
    "GuardAnnouncements",
    "GuardCounters",
    "GuardDomains",
    "HeldMessages",
    "IdempotencyStore",
    "MailTransport",
    "MessageIndex",
    "MessageReader",
    "MessageRecorder",
    "MessageRecords",
    "ObjectStore",
    "QueueBodies",
    "RateStore",
    "SecretBox",
    "SendClaims",
    "SendQueue",
    "SenderDomains",
    "StatsReader",
    "SuppressionIndex",
    "SuppressionLookup",
    "SuppressionRecorder",
    "SuppressionSnapshots",
    "SuppressionStore",
    "WebhookDirectory",
    "WebhookHealth",
    "WebhookPoster",
    "WebhookStore",
    "WorkQueue",
]
