"""The webhook sender's queues (WebhookQueue, WebhookSlowQueue): prompts `{"delivery_id", "webhook_id"}` to
attempt a delivery now or after a short delay (SQS's DelaySeconds, at most 15 minutes), sent by
`SqsDeliveryNotices` and received by the sender as `SqsPrompts`. The webhooks table holds what is due; a
prompt that cannot be queued is reported, not raised: the sender's sweep finds the delivery anyway."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from posthorn.adapters.aws import client
from posthorn.models.webhooks import DueDelivery

logger = logging.getLogger(__name__)


def prompt_body(due: DueDelivery) -> str:
    return json.dumps({"delivery_id": due.delivery_id, "webhook_id": due.webhook_id, "slow": due.slow})


def read_prompt(body: str) -> DueDelivery | None:
    try:
        values = json.loads(body)
        return DueDelivery(str(values["delivery_id"]), str(values["webhook_id"]), bool(values.get("slow")))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def queue_url_of(queue_arn: str, urls: list[str]) -> str | None:
    """Which of `urls` is the queue `queue_arn` names (an SQS URL ends with the queue's name)."""
    name = queue_arn.rsplit(":", 1)[-1]
    return next((url for url in urls if url and url.rstrip("/").rsplit("/", 1)[-1] == name), None)


class SqsDeliveryNotices:
    """Prompts to WebhookQueue, or to WebhookSlowQueue for webhooks whose endpoint is slow."""

    def __init__(self, queue_url: str, slow_queue_url: str = "") -> None:
        self.queue_url = queue_url
        self.slow_queue_url = slow_queue_url or queue_url

    def notify(self, deliveries: list[DueDelivery], *, delay_seconds: int = 0) -> bool:
        if not self.queue_url or not deliveries:
            return not deliveries
        queued = True
        for slow in (False, True):
            lane = [due for due in deliveries if due.slow is slow]
            if lane:
                queued &= self._send(self.slow_queue_url if slow else self.queue_url, lane, delay_seconds)
        return queued

    def _send(self, queue_url: str, deliveries: list[DueDelivery], delay_seconds: int) -> bool:
        delay = max(0, min(900, delay_seconds))
        sqs = client("sqs")
        queued = True
        for start in range(0, len(deliveries), 10):
            entries = [
                {"Id": str(index), "MessageBody": prompt_body(due), "DelaySeconds": delay}
                for index, due in enumerate(deliveries[start : start + 10])
            ]
            try:
                answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as error:
                logger.warning(
                    "webhook prompts not queued; the sweep will find them: %s", type(error).__name__
                )
                queued = False
                continue
            if answer.get("Failed"):
                queued = False
        return queued


def put_back(queue_url: str, receipt_handles: list[str], seconds: int) -> None:
    """Make received prompts visible again after `seconds` (they are then reported as batch item failures)."""
    sqs = client("sqs")
    for start in range(0, len(receipt_handles), 10):
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for index, handle in enumerate(receipt_handles[start : start + 10])
        ]
        try:
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as error:  # they come back after the queue's own timeout
            logger.warning("webhook prompts not put back early: %s", type(error).__name__)


class SqsPrompts:
    """The prompts of one Lambda SQS event from the sender's two queues (WebhookQueue, WebhookSlowQueue):
    each record read (`items`, or `unreadable`), and those the sender hands back put back on the queue they
    came from (the fast one when the record does not say)."""

    def __init__(self, records: list[dict[str, Any]], queue_url: str, slow_queue_url: str = "") -> None:
        self.queue_url = queue_url
        self.slow_queue_url = slow_queue_url
        self.items: list[tuple[str, DueDelivery]] = []
        self.unreadable: list[Any] = []  # the records' SQS message ids, for the log
        self._records = records
        for record in records:
            due = read_prompt(str(record.get("body", "")))
            if due is None:
                self.unreadable.append(record.get("messageId"))
            else:
                self.items.append((str(record["messageId"]), due))

    def put_back(self, item_ids: Collection[str], seconds: int) -> None:
        """Make these records visible again after `seconds` (then reported as batch item failures)."""
        queues = [self.queue_url, self.slow_queue_url]
        by_queue: dict[str, list[str]] = {}
        for record in self._records:
            if str(record["messageId"]) in item_ids:
                url = queue_url_of(str(record.get("eventSourceARN", "")), queues) or self.queue_url
                by_queue.setdefault(url, []).append(str(record.get("receiptHandle", "")))
        for url, handles in by_queue.items():
            put_back(url, handles, seconds)
