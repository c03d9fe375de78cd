"""`make bench`: run each benchmark script in a fresh interpreter (so its memory figures are its own) and
print what it prints. The scripts find the project's packages through PYTHONPATH, as pytest does through
pyproject.toml's `pythonpath`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["layers/posthorn", "functions/send", "functions/bounce", "local", "."]
BENCHMARKS = ["bench/cold_start.py", "bench/attachments.py", "bench/events.py"]


def main() -> int:
    environment = {
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
        environment.pop(name, None)
    failed = 0
    for script in BENCHMARKS:
        print(f"== {script}", flush=True)
        command = [sys.executable, str(ROOT / script)]  # our own scripts, by fixed paths
        result = subprocess.run(command, cwd=ROOT, env=environment, check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
