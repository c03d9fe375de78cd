"""Memory and S3 reads when many messages attach one cached file (issue 4's figure).

100 messages, each attaching the same 5 MB file by `file_key`, are built by `send_email` (logic/sending.py,
the code behind POST /v1/email) in one process, as one warm function would, against in-process moto: the
table is the template's, the file is uploaded through the file cache into moto's S3, each message is
recorded in DynamoDB, and a null transport stands in for SES (it takes the bytes and drops them).
There is no queue worker yet; when there is, its invocations build messages with this same code.

Printed: S3 GetObject calls per file (counted with a botocore event hook), the peak of Python allocations
during the sends (tracemalloc), and the process's resident memory (current and peak, from /proc).
For comparison, the same with the content cache turned off (10 messages: each one reads S3 again).

Run by `make bench` (bench/run.py); alone: PYTHONPATH=layers/posthorn:functions/send:functions/bounce:
functions/worker:local:. python bench/attachments.py
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.report import Row, run

FILE_BYTES = 5 * 1024 * 1024
MESSAGES = 100
UNCACHED_MESSAGES = 10


def _memory_kib(field: str) -> int:
    """VmRSS (current) or VmHWM (peak) of this process, in KiB; 0 where /proc is not available."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux: /proc/self/clear_refs), so the peak is the sends'."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


@dataclass
class NullTransport:
    """Accepts every message like SES would, and keeps nothing but a count."""

    messages: int = 0
    bytes_sent: int = 0

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, *, deadline: float) -> Any:
        from posthorn.logic.ports import DeliveryReceipt

        self.messages += 1
        self.bytes_sent += len(raw)
        return DeliveryReceipt(ses_message_id=f"bench-{self.messages}")


@dataclass
class Result:
    label: str
    messages: int
    s3_reads: int
    message_bytes: int
    first_peak: int
    rest_peak: int
    held: int
    rss_peak_delta_kib: int
    seconds: float


def run_sends(label: str, messages: int, cache_bytes: int) -> Result:
    import boto3
    from moto import mock_aws

    from posthorn.adapters.dynamodb import DynamoFileStore, DynamoStore
    from posthorn.adapters.s3 import S3Objects
    from posthorn.logic.file_cache import ContentCache, FileCache
    from posthorn.logic.sending import SendContext, send_email
    from posthorn.models.credentials import Credential, CredentialStatus, Permission
    from posthorn.models.domains import DomainRecord, DomainStatus
    from posthorn.models.email import SendEmailRequest
    from posthorn_local.provision import LocalSmtpSecret, provision

    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        ids = provision(session, prefix="bench", smtp=LocalSmtpSecret("user", "password"))
        dynamodb, s3 = session.client("dynamodb"), session.client("s3")
        reads = {"count": 0}
        s3.meta.events.register(
            "before-call.s3.GetObject", lambda **_: reads.__setitem__("count", reads["count"] + 1)
        )

        store = DynamoStore(ids["Table"], dynamodb)
        store.put_domain(
            DomainRecord(
                domain="example.com", status=DomainStatus.VERIFIED, dns_records=[], created_at=Clock().now()
            )
        )
        credential = Credential(
            username="ph_bench",
            secret_hash="not-a-secret",
            name="bench",
            domains=["example.com"],
            permissions=[Permission.SEND, Permission.FILES],
            status=CredentialStatus.ACTIVE,
            created_at=Clock().now(),
        )
        files = FileCache(
            files=DynamoFileStore(ids["Table"], dynamodb),
            objects=S3Objects(ids["FilesBucket"], s3),
            clock=Clock(),
            retention_days=30,
            contents=ContentCache(cache_bytes),
        )
        record = files.upload(
            credential, "report.pdf", "application/pdf", b"%PDF-1.7\n" + os.urandom(FILE_BYTES - 9)
        )
        transport = NullTransport()
        context = SendContext(
            messages=store, domains=store, transport=transport, queue=None, clock=Clock(),
            configuration_set="", budget_seconds=10, files=files,
        )  # fmt: skip
        requests = [
            SendEmailRequest.model_validate(
                {
                    "from_email": "hello@example.com",
                    "to": [f"user{n}@example.net"],
                    "subject": f"Report {n}",
                    "body_text": "Your report is attached.",
                    "attachments": [{"file_key": record.file_key}],
                }
            )
            for n in range(messages)
        ]

        gc.collect()
        _reset_peak_rss()
        rss_before = _memory_kib("VmRSS")
        tracemalloc.start()
        started_traced, _ = tracemalloc.get_traced_memory()
        started = time.perf_counter()
        send_email(requests[0], credential, context)
        _, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for request in requests[1:]:
            send_email(request, credential, context)
        elapsed = time.perf_counter() - started
        held, rest_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return Result(
            label=label,
            messages=transport.messages,
            s3_reads=reads["count"],
            message_bytes=transport.bytes_sent // max(transport.messages, 1),
            first_peak=first_peak - started_traced,
            rest_peak=rest_peak - started_traced,
            held=held - started_traced,
            rss_peak_delta_kib=_memory_kib("VmHWM") - rss_before,
            seconds=elapsed,
        )


def main() -> list[Row]:
    from posthorn.logic.mime import encoded_size

    cached = run_sends(f"{MESSAGES} messages, one cached 5 MB file", MESSAGES, 96 * 1024 * 1024)
    uncached = run_sends(f"{UNCACHED_MESSAGES} messages, content cache off", UNCACHED_MESSAGES, 0)
    encoded = encoded_size(FILE_BYTES)
    peak = cached.rss_peak_delta_kib * 1024
    ok = cached.s3_reads == 1 and cached.messages == MESSAGES and peak <= 2 * encoded
    return [
        Row(
            figure=f"4. memory: {MESSAGES} sends sharing one 5 MB file (peak RSS over idle vs encoded file)",
            ours=round(peak / 2**20, 1),
            baseline=round(encoded / 2**20, 1),
            unit="MiB",
            ratio=round(peak / encoded, 2),
            target="<= 2x, 1 S3 read",
            passed=ok,
            details={
                "s3_reads": cached.s3_reads,
                "message_mib": round(cached.message_bytes / 2**20, 1),
                "python_peak_first_mib": round(cached.first_peak / 2**20, 1),
                "python_peak_rest_mib": round(cached.rest_peak / 2**20, 1),
                "seconds": round(cached.seconds, 1),
                "uncached_s3_reads": uncached.s3_reads,
                "uncached_peak_rss_mib": round(uncached.rss_peak_delta_kib / 1024, 1),
            },
        )
    ]


if __name__ == "__main__":
    run(main)
