"""Memory and S3 reads when many messages attach one cached file (issue 4's figure).

100 messages, each attaching the same 5 MB file by `file_key`, are built by `send_email` (logic/sending.py,
the code behind POST /v1/email) in one process, as one warm function would, against in-process moto: the
table is the template's, the file is uploaded through the file cache into moto's S3, each message is
recorded in DynamoDB, and a null transport stands in for SES (it takes the bytes and drops them).
There is no queue worker yet; when there is, its invocations build messages with this same code.

Printed: S3 GetObject calls per file (counted with a botocore event hook), the peak of Python allocations
during the sends (tracemalloc), and the process's resident memory (current and peak, from /proc).
For comparison, the same with the content cache turned off (10 messages: each one reads S3 again).

Run by `make bench` (bench/run.py); alone: PYTHONPATH=layers/posthorn:local python bench/attachments.py
"""

from __future__ import annotations

import gc
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def run(label: str, messages: int, cache_bytes: int) -> Result:
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
            messages=store, domains=store, transport=transport, clock=Clock(), configuration_set="",
            budget_seconds=10, files=files,
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


def mib(value: float) -> str:
    return f"{value / (1024 * 1024):.1f} MiB"


def main() -> int:
    results = [
        run(f"{MESSAGES} messages, one cached 5 MB file", MESSAGES, 96 * 1024 * 1024),
        run(f"{UNCACHED_MESSAGES} messages, content cache off", UNCACHED_MESSAGES, 0),
    ]
    print("Attachments: messages sharing one 5 MB file-cache attachment, built through send_email")
    print("(in-process moto for DynamoDB and S3, a null transport for SES; no queue worker exists yet)")
    header = (
        "scenario",
        "msgs",
        "S3 reads/file",
        "msg size",
        "peak: 1st msg",
        "peak: rest",
        "held",
        "peak RSS",
    )
    rows = [
        (
            r.label,
            str(r.messages),
            str(r.s3_reads),
            mib(r.message_bytes),
            mib(r.first_peak),
            mib(r.rest_peak),
            mib(r.held),
            "+" + mib(r.rss_peak_delta_kib * 1024) if r.rss_peak_delta_kib else "n/a",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(
        "peak: Python allocations (tracemalloc) above those before the sends, while the first message is\n"
        "built (it reads and encodes the file) and while the others are; held: still allocated after the\n"
        "last send (the cached base64 body, and moto's records of the messages); peak RSS: the\n"
        "process's peak resident memory during the sends above its resident memory before them.\n"
        f"Time for {MESSAGES} sends: {results[0].seconds:.1f} s."
    )
    ok = results[0].s3_reads == 1 and results[0].messages == MESSAGES
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
