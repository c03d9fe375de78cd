"""Bytes of CloudWatch Logs per message on each path, at INFO as deployed: `python scripts/log_volume.py`
(`--lines` prints each path's lines too).

Ours is what tests/integration/test_log_volume.py captures from the real handlers and the relay (Powertools'
JSON lines and EMF metric blobs). Beside it, what AWS writes per invocation that we only shape: Lambda's
platform.start/platform.report lines (none at the default LambdaSystemLogLevel, WARN) and API Gateway's
access log line (the template's format, with typical values)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUEST_ID = "0f4e5a2b-8c1d-4e7f-9a3b-6d2c1e0f9a8b"
# Lambda's own lines per invocation in the JSON log format at SystemLogLevel INFO (platform.start and
# platform.report); the template's default, LambdaSystemLogLevel WARN, writes neither.
PLATFORM_AT_INFO = [
    json.dumps({"time": "2026-01-05T10:15:42.000Z", "type": "platform.start",
                "record": {"requestId": REQUEST_ID, "version": "$LATEST"}}),
    json.dumps({"time": "2026-01-05T10:15:42.042Z", "type": "platform.report",
                "record": {"requestId": REQUEST_ID, "status": "success",
                           "metrics": {"durationMs": 41.27, "billedDurationMs": 42, "memorySizeMB": 512,
                                       "maxMemoryUsedMB": 112}}}),
]  # fmt: skip
ACCESS_VALUES = {
    "requestId": REQUEST_ID,
    "identity.sourceIp": "203.0.113.40",
    "requestTime": "05/Jan/2026:10:15:42 +0000",
    "httpMethod": "POST",
    "resourcePath": "/v1/email",
    "status": "200",
    "responseLength": "231",
    "responseLatency": "212",
    "integration.status": "200",
    "error.responseType": "-",
    "identity.userAgent": "python-requests/2.32.3",
}


def access_log_line() -> str:
    template = (ROOT / "template.yaml").read_text()
    setting = template[template.index("AccessLogSetting:") :]
    folded = re.search(r"Format: >-\n((?:          .*\n)+)", setting)
    assert folded, "template.yaml has no AccessLogSetting Format"
    fmt = "".join(line.strip() for line in folded.group(1).splitlines())
    return re.sub(r"\$context\.([A-Za-z.]+)", lambda found: ACCESS_VALUES.get(found.group(1), "-"), fmt)


def system_log_level() -> str:
    """The template's default LambdaSystemLogLevel."""
    template = (ROOT / "template.yaml").read_text()
    found = re.search(r"\n  LambdaSystemLogLevel:\n(?:    .*\n)*?    Default: (\w+)", template)
    assert found, "template.yaml has no LambdaSystemLogLevel default"
    return found.group(1)


def measured() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.jsonl"
        env = {**os.environ, "POSTHORN_LOG_VOLUME_REPORT": str(report)}
        test = "tests/integration/test_log_volume.py"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
        subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603 (our interpreter, our tests)
        return [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []


def main() -> None:
    figures: dict[str, list[dict[str, object]]] = defaultdict(list)
    for figure in measured():
        figures[str(figure["path"])].append(figure)
    level = system_log_level()
    platform = sum(len(line) for line in PLATFORM_AT_INFO) if level in ("INFO", "DEBUG") else 0
    access = len(access_log_line())
    print(f"\nper invocation: Lambda's own lines {platform} B (LambdaSystemLogLevel {level}); "
          f"API access log line {access} B")  # fmt: skip
    print(f"{'path (bytes per message)':48} {'lines':>6} {'ours':>6} {'+ AWS':>7}")
    for path, runs in figures.items():
        messages = sum(int(str(run["messages"])) for run in runs)
        lines = sum(len(run["lines"]) for run in runs) / messages  # type: ignore[arg-type]
        ours = sum(int(str(run["bytes"])) for run in runs) / messages
        invocations = 0.0 if path.startswith("relay") else len(runs) / messages
        aws = invocations * platform + (len(runs) / messages * access if path.startswith("API") else 0)
        print(f"{path:48} {lines:6.2f} {ours:6.0f} {ours + aws:7.0f}")
        if "--lines" in sys.argv:
            print("\n".join(f"    {line}" for line in runs[0]["lines"]))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
