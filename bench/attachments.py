"""Figure 4, memory: the send worker sending 100 queued messages that all attach one 5 MB file from the file
cache. Target: peak resident memory at most 1.3x the attachment's encoded (base64) size above the worker's
idle memory (issue 20; 2x before), and one S3 read of the file.

What the peak is made of (2026-12-06, VmHWM read at each step; 8.4-8.7 MiB over idle for a 6.8 MiB body): the
file's base64 body, held once for all 100 messages (`encode_base64_chunks` writes it into one buffer of its
final size while the object streams in; the sends add ~0.2 MiB); S3's client, made by this first read of a
file (~1.2 MiB: the warm-up sends no attachment); the batch's store threads starting, ~0.5 MiB. The read
itself used to add 2.3 MiB more (1.56x): each 1 MiB chunk of the stream was joined to the remainder of the
previous one, a copy beside the chunk; the remainder is now filled from the chunk instead.

- AWS is the moto server and SES the local SES (STARTTLS, AUTH), each in a process of its own, so the
  worker's memory is its own. Not a speed figure: the seconds are context (the local SES is slow with
  large messages).
- The file is stored through the file cache, then 100 messages attaching it by `file_key` are accepted by
  POST /v1/email/batch in an API instance of their own (a fresh process); its peak memory is reported too.
- The worker instance is a fresh process: Lambda's init, one invocation sending a message without
  attachment (its clients and connection exist: a warm instance; that is "idle"), then the 10 SQS events
  of 10. Peak: VmHWM from /proc after resetting it at idle (`clear_refs`). S3 GetObject calls are counted
  with a botocore hook on the worker's S3 client.
Alone: `python bench/attachments.py` (`--json` for bench/run.py).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from bench.report import Row, run
from bench.services import kib, reset_peak
from bench.stack import BenchStack, served_stack

FILE_BYTES = 5 * 1024 * 1024
MESSAGES = 100
TARGET = 1.3


def _api_instance(body: dict[str, Any], warm_up: dict[str, Any], results: Any) -> None:
    """A fresh SendFunction instance: one small request (idle = warm), then the batch; its memory."""
    import gc

    from bench.stack import BenchStack

    stack = BenchStack(ids={}, session=None)
    status, _ = stack.api("POST", "/v1/email/batch", warm_up)
    gc.collect()
    idle = kib("VmRSS")
    reset_peak()
    started = time.perf_counter()
    status, answer = stack.api("POST", "/v1/email/batch", body)
    results.put(
        {
            "status": status,
            "count": (answer or {}).get("count"),
            "peak_kib": kib("VmHWM") - idle,
            "seconds": time.perf_counter() - started,
        }
    )


def _worker_instance(warm_up: dict[str, Any], events: list[dict[str, Any]], results: Any) -> None:
    """A fresh SendWorkerFunction instance: one invocation without attachment (idle = warm), then the
    events; its memory and its S3 reads."""
    import gc

    from posthorn.adapters.aws import client
    from posthorn_local.apigw import LambdaContext
    from send_worker.handler import lambda_handler

    reads = {"count": 0, "bytes": 0}

    def count(**kwargs: Any) -> None:
        reads["count"] += 1

    client("s3").meta.events.register("before-call.s3.GetObject", count)
    lambda_handler(warm_up, LambdaContext(function_name="send-worker"))
    gc.collect()
    idle = kib("VmRSS")
    reset_peak()
    failures = 0
    started = time.perf_counter()
    for event in events:
        answer = lambda_handler(event, LambdaContext(function_name="send-worker"))
        failures += len(answer["batchItemFailures"])
    results.put(
        {
            "idle_kib": idle,
            "peak_kib": kib("VmHWM") - idle,
            "s3_reads": reads["count"],
            "failures": failures,
            "seconds": time.perf_counter() - started,
        }
    )


def in_process(target: Any, *args: Any) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    process = spawn.Process(target=target, args=(*args, results))
    process.start()
    try:
        report: dict[str, Any] = results.get(timeout=600)
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return report


def sqs_events(stack: BenchStack) -> list[dict[str, Any]]:
    from posthorn_local.queue_poller import sqs_event

    arn = stack.queue_arn()
    return [sqs_event(batch, arn, "us-east-1") for batch in stack.receive_all()]


def main() -> list[Row]:
    from posthorn.models.raw_message import encoded_size

    with served_stack(
        reply_delay=0.0,
        SES_MAX_SEND_RATE="100000",
        DEFAULT_RATE_LIMIT_PER_SECOND="100000",
        # The local SES (aiosmtpd, line by line) takes seconds over a 7 MB DATA on this machine, where
        # SES takes a fraction of one: patience, so that no transaction times out and is sent twice.
        SES_SMTP_TIMEOUT_SECONDS="60",
        WORKER_SEND_BUDGET_SECONDS="20",
    ) as (stack, ses):
        from posthorn import wiring

        credential = wiring.credentials().get_credential("ph_bench")
        assert credential is not None
        record = wiring.file_cache().upload(
            credential, "report.pdf", "application/pdf", b"%PDF-1.7\n" + os.urandom(FILE_BYTES - 9)
        )
        plain = {
            "from_email": "hello@example.com",
            "to": ["warm@example.net"],
            "subject": "Warm-up",
            "body_text": "No attachment.",
        }
        with_file = [
            {
                "from_email": "hello@example.com",
                "to": [f"user{n}@example.net"],
                "subject": f"Report {n}",
                "body_text": "Your report is attached.",
                "attachments": [{"file_key": record.file_key}],
            }
            for n in range(MESSAGES)
        ]

        # The worker's warm-up message, queued and received on its own.
        stack.api("POST", "/v1/email/batch", {"messages": [plain]})
        warm_up = sqs_events(stack)[0]
        api = in_process(_api_instance, {"messages": with_file}, {"messages": [plain]})
        events = sqs_events(stack)
        ses.clear()
        worker = in_process(_worker_instance, warm_up, events)
        # Less the two warm-up messages: the worker's, and the API instance's (queued with the batch).
        delivered = ses.outbox_count() - 2

    encoded = encoded_size(FILE_BYTES)
    peak = worker["peak_kib"] * 1024
    ok = (
        worker["s3_reads"] == 1
        and worker["failures"] == 0
        and delivered == MESSAGES
        and peak <= TARGET * encoded
    )
    return [
        Row(
            figure=f"4. memory: worker sends {MESSAGES} messages sharing one 5 MB file (peak over idle)",
            ours=round(peak / 2**20, 1),
            baseline=round(encoded / 2**20, 1),
            unit="MiB",
            ratio=round(peak / encoded, 2),
            target=f"<= {TARGET}x encoded, 1 S3 read",
            passed=ok,
            details={
                "worker_s3_reads": worker["s3_reads"],
                "worker_idle_mib": round(worker["idle_kib"] / 1024, 1),
                "worker_seconds": round(worker["seconds"], 1),
                "delivered": delivered,
                "api_status": api["status"],
                "api_queued": api["count"],
                "api_peak_over_idle_mib": round(api["peak_kib"] / 1024, 1),
                "api_seconds": round(api["seconds"], 1),
            },
        )
    ]


if __name__ == "__main__":
    run(main)
