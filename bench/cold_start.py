"""Figure 1, cold start: the time to import each function's handler module in a fresh interpreter, as Lambda's
init does, against `import boto3` plus creating one client in a fresh interpreter.

What the child interpreter sees is what the deployed function sees:
- the path: the function's CodeUri, the layer's `posthorn` package, and the layer's dependencies only (the
  distributions layers/posthorn/requirements.txt pins and what they require, symlinked from this
  environment into a directory of their own). Dev-only packages (moto's `requests`, ...) are not found,
  as in Lambda, so nothing imports or patches them;
- Lambda's environment (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, the template's Globals at the
  parameters' defaults): with the default Tracing=PassThrough, POWERTOOLS_TRACE_DISABLED is true and the
  X-Ray SDK is not imported (BENCH_TRACING=Active measures a stack deployed with Tracing=Active, where it
  is, in its Lambda mode; botocore is not: posthorn/tracing.py patches it when the first client is made);
- bytecode caches for everything, ours included (compiled once by a warm-up run), as the baseline's
  site-packages have them, and as the built layer has them (layers/posthorn/Makefile compiles it; SAM's
  Python builder shipped no .pyc).

The runs of all snippets are interleaved, so a burst of load on this shared machine hits them alike; the
figure is the ratio of medians, the milliseconds are context. Alone: `python bench/cold_start.py`.

What the ratio is made of (`python -X importtime` and cProfile in this environment, 2026-12; ~260 ms
baseline, so 1 ms is ~0.004x): the frameworks alone, `import boto3`, pydantic with one model and
Powertools' Logger, Metrics and Tracer (the X-Ray SDK), come to ~1.02x with the collector paused as our
init pauses it (posthorn/coldstart.py); Powertools' APIGatewayRestResolver adds ~0.06x (its package
imports every resolver, the data_classes package and asyncio). The rest is our code: ~30 ms for the
worker, ~60 ms for the events function (of which the SES notification models every invocation parses,
~25 ms) and, for the API, what a send runs: the send and batch routes, their models, the MIME builder and
SMTP transport a send uses inline, the ports' dataclasses. The API's other routers (messages,
stats, suppressions, files, admin, webhooks: their models, use cases and declared answers, ~20 ms, ~0.08x, and
growing with every route) are registered by the first request that is not a send (send_api/app.py). Kept
at init as not worth a seam: `contract.answers(...)` (~2.4 ms for all ~30 routes, ~0.4 ms for the send
routes'), `send_api.examples` (~1.5 ms).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from bench.report import Row, run

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_COLD_RUNS", "15"))
TARGET = 1.3

# Logical id in template.yaml -> its CodeUri (the handler module comes from the template).
FUNCTIONS = {
    "SendFunction": "functions/send",
    "EventsFunction": "functions/bounce",
    "SendWorkerFunction": "functions/worker",
    "WebhookSenderFunction": "functions/webhooks",
}
BASELINE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
TIMER = "import time; started = time.perf_counter(); {code}; print((time.perf_counter() - started) * 1000)"


def layer_distributions() -> dict[str, metadata.Distribution]:
    """The layer's requirements and everything they require (extras and markers honoured)."""
    pending = [
        Requirement(line)
        for line in (ROOT / "layers/posthorn/requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found: dict[str, metadata.Distribution] = {}
    while pending:
        requirement = pending.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in found:
            continue
        distribution = metadata.distribution(requirement.name)
        found[name] = distribution
        for text in distribution.requires or []:
            needed = Requirement(text)
            extras = requirement.extras or {""}
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(needed)
    return found


def layer_site(directory: Path) -> Path:
    """A directory with the layer's packages (symlinks into this environment's site-packages)."""
    for distribution in layer_distributions().values():
        for file in distribution.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".pth")) or top in ("..", "__pycache__", "bin"):
                continue
            target = directory / top
            if not target.exists():
                target.symlink_to(Path(str(distribution.locate_file(top))).resolve())
    return directory


def lambda_environment(
    function: str, code_uri: str, site: Path, task_root: Path, pycache: Path
) -> dict[str, str]:
    from posthorn_local import template

    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POWERTOOLS_", "PYTHON", "AWS_"))
    }
    environment.update(
        {
            # -S below: no site-packages; only the layer, the function's code and the stdlib.
            "PYTHONPATH": os.pathsep.join([str(ROOT / code_uri), str(ROOT / "layers/posthorn"), str(site)]),
            "PYTHONPYCACHEPREFIX": str(pycache),
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    for name, value in template.global_environment().items():
        if name.startswith("POWERTOOLS_"):
            environment[name] = str(template.default_of(value))
    if os.environ.get("BENCH_TRACING") == "Active":
        environment["POWERTOOLS_TRACE_DISABLED"] = "false"
    return environment


def sample(code: str, environment: dict[str, str]) -> float:
    command = [sys.executable, "-S", "-c", TIMER.format(code=code)]  # our interpreter, a fixed snippet
    output = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    if output.returncode:
        raise RuntimeError(f"{code!r} failed:\n{output.stderr[-3000:]}")
    return float(output.stdout.strip().splitlines()[-1])


def main() -> list[Row]:
    from posthorn_local import template

    with tempfile.TemporaryDirectory(prefix="posthorn-bench-") as temporary:
        base = Path(temporary)
        for name in ("layer", "task"):
            (base / name).mkdir()
        site = layer_site(base / "layer")
        snippets: dict[str, tuple[str, dict[str, str]]] = {}
        for function, code_uri in FUNCTIONS.items():
            module = template.handler_of(function).rpartition(".")[0]
            environment = lambda_environment(function, code_uri, site, base / "task", base / "pycache")
            snippets[function] = (f"import {module}", environment)
        snippets["baseline"] = (BASELINE, snippets["SendFunction"][1])

        samples: dict[str, list[float]] = {name: [] for name in snippets}
        for run_number in range(RUNS + 1):
            # Alternate the order, so neither side always runs right after the other.
            order = list(snippets) if run_number % 2 else list(reversed(snippets))
            for name in order:
                code, environment = snippets[name]
                milliseconds = sample(code, environment)
                if run_number:  # the first run compiles our bytecode
                    samples[name].append(milliseconds)

    baseline = statistics.median(samples["baseline"])
    rows = []
    for function in FUNCTIONS:
        ours = statistics.median(samples[function])
        # Each run's ratio is against the baseline sampled in the same round (the same load on this
        # shared machine); the figure is their median.
        ratio = statistics.median(o / b for o, b in zip(samples[function], samples["baseline"], strict=True))
        rows.append(
            Row(
                figure=f"1. cold start: import {snippets[function][0].split()[-1]} ({function})",
                ours=round(ours, 1),
                baseline=round(baseline, 1),
                unit="ms",
                ratio=round(ratio, 2),
                target=f"<= {TARGET}x",
                passed=ratio <= TARGET,
                details={
                    "runs": RUNS,
                    "ours_ms_p25_p75": _quartiles(samples[function]),
                    "baseline_ms_p25_p75": _quartiles(samples["baseline"]),
                },
            )
        )
    return rows


def _quartiles(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4)
    return f"{quartiles[0]:.0f}-{quartiles[2]:.0f}"


if __name__ == "__main__":
    run(main)
