"""The send queue (SQS) and the messages too big for it (S3).

An SQS message is `{"message_id", "parts"}`: the MIME as `RawMessage.parts()` gives it, each part a string
(ASCII text), `{"b64": ...}` (anything else, kept intact) or `{"file_key", "object_key", "sha256"}` (a
file-cache attachment, by reference: the worker reads the file once per process, not once per message).
When that is over `INLINE_LIMIT`, the same document waits in the files bucket under
`queue/<message_id>.json` (private, encrypted, expired by the bucket's lifecycle rule) and SQS carries
`{"message_id", "parts_key"}`; the worker deletes the object once the message's outcome is recorded. The
record in DynamoDB holds everything else (sender, recipients, status).
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from posthorn.adapters.aws import client, side_by_side
from posthorn.errors import QueuedBodyMissing
from posthorn.models.raw_message import Base64Body, FileBody
from posthorn.models.send_queue import QueuedMessage, QueueItem

# SQS takes 256 KB per message and per SendMessageBatch call (1 MiB since 2025; 256 KB stays portable).
INLINE_LIMIT = 200 * 1024
BATCH_BYTES = 250 * 1024
BATCH_ENTRIES = 10
BODY_PREFIX = "queue/"


def encode_parts(parts: list[Base64Body | FileBody]) -> list[str | dict[str, str]]:
    encoded: list[str | dict[str, str]] = []
    for part in parts:
        if isinstance(part, FileBody):
            encoded.append({"file_key": part.file_key, "object_key": part.object_key, "sha256": part.sha256})
            continue
        try:
            encoded.append(part.decode("ascii"))
        except UnicodeDecodeError:  # the MIME Posthorn builds is 7-bit; keep anything else intact anyway
            encoded.append({"b64": base64.b64encode(part).decode()})
    return encoded


def decode_parts(encoded: list[Any]) -> list[Base64Body | FileBody]:
    parts: list[Base64Body | FileBody] = []
    for part in encoded:
        if isinstance(part, str):
            parts.append(part.encode("ascii"))
        elif "b64" in part:
            parts.append(base64.b64decode(part["b64"]))
        else:
            parts.append(FileBody(str(part["file_key"]), str(part["object_key"]), str(part["sha256"])))
    return parts


def encode(message: QueuedMessage) -> str:
    return json.dumps({"message_id": message.message_id, "parts": encode_parts(message.raw.parts())})


def parts_key(message_id: str) -> str:
    return f"{BODY_PREFIX}{message_id}.json"


class SqsSendQueue:
    """`SendQueue`: SendMessageBatch in groups of 10 (and 250 KB), several groups at once."""

    def __init__(self, queue_url: str, bucket: str) -> None:
        self.queue_url = queue_url
        self.bucket = bucket

    def enqueue(self, messages: list[QueuedMessage]) -> set[str]:
        failed: set[str] = set()
        bodies: list[tuple[str, str]] = []
        big: list[tuple[str, str]] = []
        for message in messages:
            body = encode(message)
            if len(body) > INLINE_LIMIT:
                big.append((message.message_id, body))
            else:
                bodies.append((message.message_id, body))
        pool = side_by_side()
        for (message_id, _), parked in zip(big, pool.map(self._park, big), strict=True):
            if parked:
                pointer = {"message_id": message_id, "parts_key": parts_key(message_id)}
                bodies.append((message_id, json.dumps(pointer)))
            else:
                failed.add(message_id)
        for unsent in pool.map(self._send_batch, _batches(bodies)):
            failed |= unsent
        return failed

    def send_bodies(self, bodies: list[str]) -> set[int]:
        """Queue messages exactly as they were received (held messages a resume releases)."""
        entries = [(f"b{position}", body) for position, body in enumerate(bodies)]
        failed: set[int] = set()
        for unsent in side_by_side().map(self._send_batch, _batches(entries)):
            failed |= {int(entry_id[1:]) for entry_id in unsent}
        return failed

    def _park(self, entry: tuple[str, str]) -> bool:
        message_id, body = entry
        try:
            client("s3").put_object(
                Bucket=self.bucket,
                Key=parts_key(message_id),
                Body=body.encode(),
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        except (BotoCoreError, ClientError):
            return False
        return True

    def _send_batch(self, entries: list[tuple[str, str]], attempts: int = 5) -> set[str]:
        pending = entries
        for attempt in range(attempts):
            try:
                response = client("sqs").send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": message_id, "MessageBody": body} for message_id, body in pending],
                )
                refused = {entry["Id"] for entry in response.get("Failed", [])}
            except (BotoCoreError, ClientError):
                refused = {message_id for message_id, _ in pending}
            pending = [(message_id, body) for message_id, body in pending if message_id in refused]
            if not pending:
                return set()
            time.sleep(min(1.0, 0.05 * 2**attempt))
        return {message_id for message_id, _ in pending}


def _batches(bodies: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    size = 0
    for entry in bodies:
        length = len(entry[1])
        if batch and (len(batch) == BATCH_ENTRIES or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += length
    if batch:
        yield batch


@dataclass(frozen=True)
class _Delivery:
    receipt_handle: str
    body: dict[str, Any]


class SqsWorkQueue:
    """`WorkQueue` over the records of one Lambda SQS event."""

    def __init__(self, records: list[dict[str, Any]], queue_url: str, bucket: str) -> None:
        self.queue_url = queue_url
        self.bucket = bucket
        self.items: list[QueueItem] = []
        self._deliveries: dict[str, _Delivery] = {}
        for record in records:
            item_id = str(record["messageId"])
            try:
                body = json.loads(record["body"])
                message_id = str(body["message_id"]) if isinstance(body, dict) else None
            except (ValueError, KeyError):
                body, message_id = {}, None
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
            self.items.append(QueueItem(item_id, message_id, receives))
            self._deliveries[item_id] = _Delivery(str(record.get("receiptHandle", "")), body)

    def load(self, item: QueueItem) -> list[Base64Body | FileBody]:
        body = self._deliveries[item.id].body
        try:
            if "parts_key" in body:
                return decode_parts(json.loads(self._read(str(body["parts_key"])))["parts"])
            return decode_parts(body["parts"])
        except (KeyError, TypeError, ValueError, BotoCoreError, ClientError) as error:
            raise QueuedBodyMissing(f"the queued MIME could not be read: {error!r}") from None

    def _read(self, key: str) -> bytes:
        response = client("s3").get_object(Bucket=self.bucket, Key=key)
        return bytes(response["Body"].read())

    def retry_after(self, item: QueueItem, seconds: int) -> None:
        client("sqs").change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=self._deliveries[item.id].receipt_handle,
            VisibilityTimeout=max(0, min(seconds, 43_200)),
        )

    def defer(self, item: QueueItem, seconds: int) -> None:
        client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(self._deliveries[item.id].body),
            DelaySeconds=max(0, min(seconds, 900)),
        )

    def body(self, item: QueueItem) -> str:
        return json.dumps(self._deliveries[item.id].body)

    def finished(self, item: QueueItem) -> None:
        body = self._deliveries[item.id].body
        key = body.get("parts_key")
        if key:
            # If this fails, the bucket's lifecycle rule expires the object.
            with contextlib.suppress(BotoCoreError, ClientError):
                client("s3").delete_object(Bucket=self.bucket, Key=str(key))
