"""`make bench`: run each benchmark script in a fresh interpreter (so its memory figures are its own), collect
the rows each prints with `--json`, print them as one table and write bench/results.json.

The scripts find the project's packages through PYTHONPATH, as pytest does through pyproject.toml's
`pythonpath`. Alone, any script prints its own rows: `PYTHONPATH=... python bench/events.py`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import table  # noqa: E402  (bench/ is not installed; the repository root is its home)

SOURCES = [
    "layers/posthorn",
    "functions/send",
    "functions/bounce",
    "functions/worker",
    "functions/webhooks",
    "services/smtp_relay",
    "local",
    ".",
]
# In the order of the figures.
BENCHMARKS = [
    "bench/cold_start.py",
    "bench/worker.py",
    "bench/batch.py",
    "bench/attachments.py",
    "bench/events.py",
    "bench/relay.py",
    "bench/listing.py",
    "bench/webhooks.py",
    "bench/cost.py",
    "bench/partitions.py",
]
RESULTS = ROOT / "bench" / "results.json"


def environment() -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / path) for path in SOURCES),
        # Never a real AWS account: the benchmarks run against in-process moto.
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env


def run_script(script: str, env: dict[str, str]) -> tuple[list[dict[str, object]], float, bool, str]:
    """The rows one script printed, its wall time, whether it ran, and its one-line summary if it has one.
    A script that broke gives one failed row."""
    started = time.monotonic()
    command = [sys.executable, str(ROOT / script), "--json"]  # our own scripts, by fixed paths
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if result.stderr.strip():
        sys.stderr.write(result.stderr)
    try:
        printed = json.loads(result.stdout.strip().splitlines()[-1])
        if result.returncode == 0:
            return list(printed["rows"]), elapsed, True, str(printed.get("summary", ""))
    except (IndexError, ValueError, KeyError, TypeError):
        pass
    failure = f"{script} exited with {result.returncode}"
    row = {"figure": failure, "ours": None, "baseline": None, "unit": "", "ratio": None, "target": "-"}
    return [{**row, "passed": False, "details": {"stdout": result.stdout[-2000:]}}], elapsed, False, ""


def main() -> int:
    env = environment()
    rows: list[dict[str, object]] = []
    timings: dict[str, float] = {}
    summaries: list[str] = []
    broken = 0
    for script in BENCHMARKS:
        print(f"running {script} ...", file=sys.stderr, flush=True)
        script_rows, timings[script], ran, summary = run_script(script, env)
        rows += script_rows
        broken += not ran
        summaries += [summary] if summary else []
    print(table(rows))
    for row in rows:
        if row.get("details"):
            details = ", ".join(f"{key}={value}" for key, value in dict(row["details"]).items())
            print(f"- {row['figure']}: {details}")
    total = sum(timings.values())
    print(f"({total:.0f} s: " + ", ".join(f"{Path(s).stem} {t:.0f} s" for s, t in timings.items()) + ")")
    for summary in summaries:  # the scripts' one-line verdicts, last (figures 10 and 11)
        print(summary)
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "seconds": {Path(s).stem: round(t, 1) for s, t in timings.items()},
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    # Unmet targets show as FAIL in the table; the exit status is for scripts that broke.
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
