"""The vendors' own SDKs, driven from the compatible-endpoint tests: each `tests/e2e/clients/sdk-<vendor>/`
holds a `send.js` that takes one JSON argument, makes the SDK's calls against the local stack and prints
one JSON line with what the SDK resolved or rejected with (`make sdk-clients` installs them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENTS = Path(__file__).resolve().parent / "clients"


def run_sdk(
    vendor: str, package: str, config: Any, *, env: dict[str, str] | None = None, timeout: float = 60
) -> Any:
    """`node send.js '<config>'` in `clients/sdk-<vendor>`: the JSON on its last line of output. Without node
    or the SDK (`node_modules/<package>`) the test is skipped, and fails on CI, where `make e2e` installs
    them."""
    client = CLIENTS / f"sdk-{vendor}"
    node = shutil.which("node")
    if node is None or not (client / "node_modules" / package).is_dir():
        reason = f"the {package} SDK is not installed: run `make sdk-clients`"
        if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(  # noqa: S603 (our own script, the machine's node)
        [node, str(client / "send.js"), json.dumps(config)],
        cwd=client,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])
