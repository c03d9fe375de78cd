"""A bounded load run against the local stack (loopback only), optionally with SES faults injected.

    PYTHONPATH=layers/posthorn:functions/send:functions/bounce:functions/worker:local:. \\
        .venv/bin/python scripts/load_run.py --clients 4 --duration 20 --transient-rate 0.3

Without `--url` it starts its own local stack in this process (so it can inject faults into the local SES
and read its outbox); with `--url http://127.0.0.1:3000 --admin-key ...` it drives a running `make run`
(no faults) and reads `/_local/outbox`. It never talks to anything but loopback.

1. One batch of 500: how long the 202 takes, and how long until all 500 reached the local SES.
2. `--clients` threads send for `--duration` seconds (at most `--max-requests` requests in all): single
   sends, and every `--batch-every`th request a batch of `--batch-size`.
3. Waits (at most `--drain-timeout` s) for the queue to drain, then reports requests answered by status,
   the 5xx count, messages accepted vs. reached SES (each Posthorn message id counted once), and
   duplicates (a message id received more than once: only the ambiguous window may cause that).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ADMIN_KEY = "ph_loadadmin.load-run-admin-secret-not-for-production-0123456789"
DOMAIN = "example.com"


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    messages_requested: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    def __init__(self, base_url: str) -> None:
        host = urlsplit(base_url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit(f"load_run only talks to the local stack on loopback, not {host!r}")
        self.base_url = base_url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback, checked above
                return answer.status, _json(answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _json(error.read())

    def raw(self, outbox_id: str) -> bytes:
        url = f"{self.base_url}/_local/outbox/{outbox_id}/raw"
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback, checked above
            return bytes(answer.read())


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def message(index: int) -> dict[str, Any]:
    return {
        "from_email": f"load@{DOMAIN}",
        "to": [f"success+{index}@simulator.amazonses.com"],
        "subject": f"Load run {index}",
        "body_text": "Hello from the load run.",
        "tags": ["load"],
    }


def posthorn_id(raw: bytes) -> str | None:
    tags = str(message_from_bytes(raw).get("X-SES-MESSAGE-TAGS", ""))
    for tag in tags.split(","):
        name, _, value = tag.strip().partition("=")
        if name == "posthorn_message_id":
            return value
    return None


class Outbox:
    """Posthorn message ids the local SES received, with how often each arrived."""

    def __init__(self, client: Client, stack: Any | None) -> None:
        self.client = client
        self.stack = stack
        self.seen: dict[str, str | None] = {}

    def counts(self) -> Counter[str]:
        if self.stack is not None:
            received = [(m.id, m.raw) for m in self.stack.ses.outbox.list()]
            for outbox_id, raw in received:
                if outbox_id not in self.seen:
                    self.seen[outbox_id] = posthorn_id(raw)
        else:
            _, listing = self.client.call("GET", "/_local/outbox")
            for item in listing["messages"]:
                if item["id"] not in self.seen:
                    self.seen[item["id"]] = posthorn_id(self.client.raw(item["id"]))
        return Counter(value for value in self.seen.values() if value)

    def wait_for(self, ids: set[str], timeout: float) -> float | None:
        """Seconds until every id in `ids` arrived, or None at the timeout."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if ids <= set(self.counts()):
                return time.perf_counter() - started
            time.sleep(0.25)
        return None


def setup_credential(client: Client, admin_key: str, rate: int) -> str:
    status, body = client.call("POST", "/v1/domains", {"domain": DOMAIN}, admin_key)
    if status not in (200, 201):
        raise SystemExit(f"cannot register {DOMAIN}: {status} {body}")
    request = {
        "name": "load run",
        "domains": [DOMAIN],
        "permissions": ["send", "read"],
        "rate_limit_per_second": rate,
    }
    status, body = client.call("POST", "/v1/credentials", request, admin_key)
    if status != 201:
        raise SystemExit(f"cannot create a credential: {status} {body}")
    return str(body["api_key"])


def batch_probe(client: Client, key: str, outbox: Outbox, size: int, drain_timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    status, body = client.call(
        "POST", "/v1/email/batch", {"messages": [message(i) for i in range(size)]}, key
    )
    accept = time.perf_counter() - started
    if status != 202:
        return {"status": status, "accept_seconds": round(accept, 2), "error": body}
    ids = {r["message_id"] for r in body["results"] if r["status"] == "queued"}
    drain = outbox.wait_for(ids, drain_timeout)
    return {
        "status": status,
        "accepted": len(ids),
        "accept_seconds": round(accept, 2),
        "drain_seconds": round(drain, 1) if drain is not None else None,
    }


def load(client: Client, key: str, args: argparse.Namespace) -> Tally:
    tally = Tally()
    stop_at = time.monotonic() + args.duration
    counter = iter(range(args.max_requests))
    counter_lock = threading.Lock()

    def worker() -> None:
        while time.monotonic() < stop_at:
            with counter_lock:
                number = next(counter, None)
            if number is None:
                return
            is_batch = args.batch_every > 0 and number % args.batch_every == args.batch_every - 1
            if is_batch:
                path = "/v1/email/batch"
                body: Any = {"messages": [message(number * 1000 + i) for i in range(args.batch_size)]}
            else:
                path, body = "/v1/email", message(number)
            started = time.perf_counter()
            status, answer = client.call("POST", path, body, key)
            elapsed = time.perf_counter() - started
            with tally.lock:
                tally.statuses[status] += 1
                tally.latencies.append(elapsed)
                tally.messages_requested += args.batch_size if is_batch else 1
                if status in (200, 202) and is_batch:
                    tally.accepted |= {r["message_id"] for r in answer["results"] if r["status"] == "queued"}
                elif status in (200, 202):
                    tally.accepted.add(answer["message_id"])

    threads = [threading.Thread(target=worker, name=f"load-{n}") for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running local stack (loopback); default: start one in this process")
    parser.add_argument("--admin-key", help="its admin api_key (POSTHORN_ADMIN_KEY), with --url")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (bounded)")
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--batch-every", type=int, default=10, help="every Nth request is a batch (0: none)")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument(
        "--probe-batch", type=int, default=500, help="size of the first, timed batch (0: skip)"
    )
    parser.add_argument(
        "--rate", type=int, default=10_000, help="the load credential's rate_limit_per_second"
    )
    parser.add_argument("--send-rate", type=float, default=None, help="SES max send rate (own stack only)")
    parser.add_argument("--transient-rate", type=float, default=0.0, help="421/451/454 share (own stack)")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="drops before SES accepts (own stack)")
    parser.add_argument("--accepted-drop-rate", type=float, default=0.0, help="drops after (own stack)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.duration > 600 or args.max_requests > 20_000 or args.clients > 32:
        raise SystemExit("keep the run bounded: --duration <= 600, --max-requests <= 20000, --clients <= 32")

    stack = None
    if args.url is None:
        # The functions run in this process: keep their logs and metrics off the report.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        from posthorn_local.ses_smtp_server import FaultPlan
        from posthorn_local.stack import LocalStack

        stack = LocalStack(port=0, admin_key=ADMIN_KEY, ses_max_send_rate=args.send_rate)
        stack.start()
        stack.ses.faults = FaultPlan(
            transient_rate=args.transient_rate,
            drop_rate=args.drop_rate,
            accepted_drop_rate=args.accepted_drop_rate,
            seed=args.seed,
        )
        base_url, admin_key = stack.api_url, ADMIN_KEY
    else:
        if not args.admin_key:
            raise SystemExit("--url needs --admin-key")
        base_url, admin_key = args.url, args.admin_key
    # In-process functions print their EMF metrics on stdout: keep them off the report.
    quiet = contextlib.redirect_stdout(io.StringIO()) if stack is not None else contextlib.nullcontext()
    with quiet:
        try:
            report, failed = run(Client(base_url), admin_key, stack, args)
        finally:
            if stack is not None:
                stack.stop()
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


def run(
    client: Client, admin_key: str, stack: Any | None, args: argparse.Namespace
) -> tuple[dict[str, Any], bool]:
    key = setup_credential(client, admin_key, args.rate)
    outbox = Outbox(client, stack)
    report: dict[str, Any] = {}
    if args.probe_batch:
        report["probe_batch"] = batch_probe(client, key, outbox, args.probe_batch, args.drain_timeout)
    started = time.perf_counter()
    tally = load(client, key, args)
    report["load_seconds"] = round(time.perf_counter() - started, 1)
    drain = outbox.wait_for(tally.accepted, args.drain_timeout)
    counts = outbox.counts()
    reached = tally.accepted & set(counts)
    latencies = sorted(tally.latencies) or [0.0]
    report["load"] = {
        "clients": args.clients,
        "requests_answered": sum(tally.statuses.values()),
        "by_status": {str(status): count for status, count in sorted(tally.statuses.items())},
        "5xx": sum(count for status, count in tally.statuses.items() if status >= 500),
        "messages_requested": tally.messages_requested,
        "messages_accepted": len(tally.accepted),
        "messages_reached_ses": len(reached),
        "duplicates": sum(counts[i] - 1 for i in reached if counts[i] > 1),
        "latency_p50_ms": round(statistics.median(latencies) * 1000),
        "latency_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000),
        "drain_after_load_seconds": round(drain, 1) if drain is not None else None,
    }
    if stack is not None:
        report["faults_injected"] = dict(stack.ses.faults.injected)
    failed = bool(report["load"]["5xx"]) or len(reached) < len(tally.accepted)
    return report, failed


if __name__ == "__main__":
    sys.exit(main())
