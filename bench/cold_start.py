"""Cold start of each API-facing function: the time to import its handler module in a fresh interpreter
(as Lambda's init does, with the layer on the path), against `import boto3` plus creating one client in a
fresh interpreter. Medians of several runs; the ratio is the figure, the milliseconds are context."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
TARGET = 1.3

HANDLERS = {"SendFunction": "send_api.handler"}
BASELINE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
TIMER = "import time; started = time.perf_counter(); {code}; print((time.perf_counter() - started) * 1000)"


def milliseconds(code: str) -> float:
    """The median wall time of `code` in a fresh interpreter, over RUNS runs (after one warm-up run)."""
    environment = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": "posthorn",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    }
    command = [sys.executable, "-c", TIMER.format(code=code)]
    samples = []
    for run in range(RUNS + 1):
        # Our own interpreter running a fixed snippet.
        output = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True
        )
        if run:
            samples.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> list[dict[str, object]]:
    baseline = milliseconds(BASELINE)
    rows: list[dict[str, object]] = []
    for function, module in HANDLERS.items():
        ours = milliseconds(f"import {module}")
        rows.append(
            {
                "figure": f"cold start: import {module} ({function})",
                "ours_ms": round(ours),
                "baseline_ms": round(baseline),
                "ratio": round(ours / baseline, 2),
                "target": f"<= {TARGET}x",
                "pass": ours / baseline <= TARGET,
            }
        )
    return rows


if __name__ == "__main__":
    for row in main():
        print(json.dumps(row) if "--json" in sys.argv else "  ".join(f"{k}: {v}" for k, v in row.items()))
