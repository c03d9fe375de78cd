"""Figure 11, hot partitions: the write units a second each partition key takes when one domain sends RATE
messages a second, each with its life's SES events as figure 10 has them (Delivery and one Open: SES's Send
event is not published, template.yaml), against DynamoDB's limit of about 1,000 write units a second per
partition key.

The DynamoDB writes are the code's own: figure 10's lives (bench/cost.py: MESSAGES messages of one domain,
one credential, one tag, through each path's real handlers against in-process moto), each write priced in
write units on the partition it lands on, the table's or an index's (bench/meter.py). Then scaled to the
rate, per partition key:
- a key written for one message only (its value names the message, its SES id, its recipient or a hash of
  it: the message item and its events, the SES-id index entry, a recipient's listing entry, a duplicate
  claim) takes its units once in the message's life: at most those units in a second;
- any other key (a domain's counters, its listing partitions, a credential's rate, the send pace, a
  webhook's deliveries in the by_webhook index) is shared by the domain's messages: the units written to it
  for MESSAGES messages x RATE / MESSAGES a second. A key the code shards (a number it picks, shown as
  `<n>`) spreads them evenly over the shards seen: what hashed or random shards average to (the busiest
  shard of a short run is above its share by chance). A key that is the same as a sharded kind's without its
  `#<n>` is that kind's shard 0 (the code keeps the unsharded key as shard 0) and is averaged with it.
The send worker takes the relay's messages 10 at a time here (a busy queue fills its batches), the batch
path's as figure 10. The figure is the busiest key of the three judged paths (API single, batch, relay);
the webhook path (one webhook on `email.sent`, delivered and opened) is in the details, with the busiest
read partition (read units a second, against about 3,000). Keys are shown redacted to what they are
(`STATS#<domain>`).
What it cannot see: a key that changes every second (a per-second time bucket) would be spread over the
seconds this run took, not the rate's.
Alone: `python bench/partitions.py` (`--json` for bench/run.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from bench.report import Row, run

RATE = 2000
LIMIT = 1000
READ_LIMIT = 3000
MESSAGES = int(os.environ.get("BENCH_PARTITIONS_MESSAGES", "50"))
PER_MESSAGE = ("<message_id>", "<ses_id>", "<hash>", "<address>")
JUDGED = ("api", "batch", "relay")


def per_second(
    spent: Iterable[tuple[str, str, float]], messages: int, rate: int, *, own: Callable[[str], bool]
) -> dict[str, float]:
    """Units a second on each key of each kind of key at `rate` messages a second, from what `messages`
    messages' lives wrote: `spent` is (kind, key, units) per write, the kind being the key as shown (its
    shard number too). A message's own kind of key takes its units once in the message's life (at most those
    in a second); a shared kind its units per message times the rate, spread evenly over the keys seen of
    it (the code's shards)."""
    keys: dict[str, dict[str, float]] = {}
    for kind, key, units in spent:
        per_key = keys.setdefault(kind, {})
        per_key[key] = per_key.get(key, 0.0) + units
    rates: dict[str, float] = {}
    for kind, per_key in keys.items():
        if own(kind):
            rates[kind] = max(per_key.values())
        else:
            rates[kind] = sum(per_key.values()) / len(per_key) * rate / messages
    return rates


def _busiest(rates: dict[str, float]) -> tuple[str, float]:
    return max(rates.items(), key=lambda kv: kv[1]) if rates else ("-", 0.0)


def main() -> list[Row]:
    from bench.cost import measure, redact

    runs, _, _ = measure(MESSAGES, webhook=True, relay_batch=10)
    figures: dict[str, dict[str, Any]] = {}
    for name, path in runs.items():
        writes = [
            (_where(w.index, redact(w.partition, path)), f"{w.table}/{w.index}/{w.partition}", w.units)
            for w in path.tally.writes
        ]
        reads = [
            (_where(r.index, redact(r.partition, path)), f"{r.table}/{r.index}/{r.partition}", r.units)
            for r in path.tally.reads
        ]
        figures[name] = {
            "writes": _rates(writes, path.messages),
            "reads": _rates(reads, path.messages),
        }
    judged = {name: _busiest(figures[name]["writes"]) for name in JUDGED}
    worst_path = max(judged, key=lambda name: judged[name][1])
    key, busiest = judged[worst_path]
    top = sorted(figures[worst_path]["writes"].items(), key=lambda kv: -kv[1])[:6]
    details: dict[str, Any] = {
        "busiest_key": key,
        "path": worst_path,
        "busiest_per_path": {name: f"{k}: {v:.0f}" for name, (k, v) in judged.items()},
        "top_keys_wcu_s": {k: round(v) for k, v in top},
        "busiest_read_rcu_s": {
            name: "{}: {:.0f}".format(*_busiest(figures[name]["reads"])) for name in figures
        },
        "with_a_webhook": "{}: {:.0f}".format(*_busiest(figures["webhook"]["writes"])),
        "messages_measured": MESSAGES,
    }
    SUMMARY[:] = [f"partitions: busiest {busiest:.0f} WCU/s"]
    return [
        Row(
            figure=f"11. busiest partition key at {RATE:,} messages/s of one domain, with its events ({key})",
            ours=round(busiest),
            baseline=LIMIT,
            unit="WCU/s",
            ratio=round(busiest / LIMIT, 2),
            target=f"<= {LIMIT:,} WCU/s (1.0x)",
            passed=busiest <= LIMIT,
            details=details,
        )
    ]


def _where(index: str | None, key: str) -> str:
    """A partition as shown: the key, and the index it is in (the tables are told apart by their keys)."""
    return f"{key} ({index})" if index else key


def _rates(spent: list[tuple[str, str, float]], messages: int) -> dict[str, float]:
    return per_second(
        shard_zero(spent), messages, RATE, own=lambda kind: any(token in kind for token in PER_MESSAGE)
    )


def shard_zero(spent: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """Each write on an unsharded key counted under the sharded kind it is shard 0 of (`STATS#<domain>`
    under `STATS#<domain>#<n>`), when there is one."""
    sharded = {kind.replace("#<n>", ""): kind for kind, _, _ in spent if "#<n>" in kind}
    return [(sharded.get(kind, kind), key, units) for kind, key, units in spent]


SUMMARY: list[str] = []

if __name__ == "__main__":
    run(main, summary=lambda: SUMMARY[0] if SUMMARY else "partitions: not measured")
