"""The stack's alarm topic (SNS, AlarmTopic in template.yaml): what the operator is told, the way they learn
of the stack's CloudWatch alarms (AlarmEmail subscribes to the same topic). One adapter for both who tell it:

- the deliverability guard (`GuardAnnouncements`), when it pauses or resumes a domain. Best effort: the
  pause has been recorded before, and a failure to announce it must not make the events function fail (and
  SNS retry) a batch whose events are all stored. It is logged instead.
- the webhook sender (`Alarms`), when it disables a failing webhook. A failure to publish is raised: the
  sender's attempt fails and is made again, so the operator is told.
"""

from __future__ import annotations

import json
import logging

from botocore.exceptions import BotoCoreError, ClientError

from posthorn.adapters.aws import client
from posthorn.models.domains import DomainRecord, Reputation

log = logging.getLogger(__name__)


class AlarmTopic:
    """`GuardAnnouncements` and `Alarms` over one SNS topic (no topic: nothing is published)."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def announce_paused(self, record: DomainRecord, reputation: Reputation) -> None:
        self._publish(
            f"Posthorn paused sending from {record.domain}",
            {
                "type": "domain.paused",
                "domain": record.domain,
                "paused_at": record.paused_at.isoformat() if record.paused_at else None,
                "paused_reason": record.paused_reason,
                "reputation": reputation.model_dump(),
                "resume": f"POST /v1/domains/{record.domain}/resume",
            },
        )

    def announce_resumed(self, record: DomainRecord) -> None:
        self._publish(
            f"Posthorn resumed sending from {record.domain}",
            {"type": "domain.resumed", "domain": record.domain},
        )

    def alarm(self, subject: str, message: str) -> None:
        if not self.topic_arn:
            log.warning("no alarm topic: %s", subject)
            return
        self._send(subject, message)

    def _publish(self, subject: str, message: dict[str, object]) -> None:
        if not self.topic_arn:
            return
        try:
            self._send(subject, json.dumps(message))
        except (BotoCoreError, ClientError):
            log.warning("could not tell the alarm topic", exc_info=True)

    def _send(self, subject: str, message: str) -> None:
        client("sns").publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=message)
