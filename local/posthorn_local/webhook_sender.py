"""The webhook sender as deployed, in this process: what Lambda's SQS event source does with WebhookQueue,
and the EventBridge schedule that sweeps due deliveries every minute (template.yaml, DueSweep).

Lambda's event source hands a function batches of *up to* 10; here each prompt is its own invocation, on up
to `instances` sender instances at once, so a slow endpoint holds only the instances of its own attempts
(at most WebhookEndpointConcurrency of them; the rest it is handed are put back for 2 s by the sender).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from posthorn.settings import Settings
from posthorn_local import template
from posthorn_local.http_server import LambdaFunction
from posthorn_local.queue_poller import sqs_event

logger = logging.getLogger(__name__)

FUNCTION = "WebhookSenderFunction"
SWEEP_SECONDS = 60.0  # rate(1 minute), as DueSweep in template.yaml


def scheduled_event() -> dict[str, Any]:
    """What EventBridge hands the function on schedule (the fields a Scheduled Event has)."""
    return {
        "version": "0",
        "id": "local-sweep",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/local-webhook-due-sweep"],
        "detail": {},
    }


class LocalWebhookSender:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        instances: int,
        sweep_seconds: float = SWEEP_SECONDS,
        settings: Settings | None = None,
    ):
        self.sqs = sqs
        self.settings = settings  # the function's own (None: the process's environment)
        self.queue_url = queue_url
        self.instances = instances
        self.sweep_seconds = sweep_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=instances, thread_name_prefix="local-webhook-sender")
        self._free = threading.Semaphore(instances)
        self._local = threading.local()
        self._sweeper = LambdaFunction(FUNCTION, template.handler_of(FUNCTION), settings)

    def _function(self) -> LambdaFunction:
        function = getattr(self._local, "function", None)
        if function is None:
            function = self._local.function = LambdaFunction(
                FUNCTION, template.handler_of(FUNCTION), self.settings
            )
        return function

    def sweep_now(self) -> Any:
        """One scheduled invocation (tests call it rather than wait a minute)."""
        return self._sweeper.invoke(scheduled_event())

    def _invoke_one(self, message: dict[str, Any]) -> None:
        try:
            answer = self._function().invoke(sqs_event([message], self.queue_arn, "us-east-1"))
            failed = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:
            logger.exception(
                "the webhook sender failed on a prompt; it comes back after its visibility timeout"
            )
        finally:
            self._free.release()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                received = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["All"],
                )
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("polling the webhook queue failed")
                self._stop.wait(1.0)
                continue
            for message in received.get("Messages", []):
                self._free.acquire()
                self._pool.submit(self._invoke_one, message)

    def _sweep(self) -> None:
        while not self._stop.wait(self.sweep_seconds):
            try:
                self.sweep_now()
            except Exception:
                logger.exception("the webhook sweep failed; the next one runs in a minute")

    def start(self) -> None:
        """Poll the queue; sweep every `sweep_seconds` too unless it is 0 (the slow lane's: one sweep)."""
        targets = [(self._poll, "local-webhook-queue")]
        if self.sweep_seconds:
            targets.append((self._sweep, "local-webhook-sweep"))
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
