"""The committed OpenAPI document (docs/openapi.json) is what `GET /v1/docs?format=json` serves.

`--write` regenerates it from the code; `--check` fails when it has drifted (a test runs the same check).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"


def served_document() -> dict[str, Any]:
    """Ask the real handler for its document, as a client of the deployed API would."""
    from posthorn_local.apigw import LambdaContext, build_event
    from send_api.app import app

    event = build_event("GET", "/v1/docs", resource="/v1/docs", query="format=json")
    response = app.resolve(event, LambdaContext())
    document: dict[str, Any] = json.loads(response["body"])
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    expected = render(served_document())
    if args.write:
        DOCUMENT.write_text(expected)
        return 0
    if not DOCUMENT.exists() or DOCUMENT.read_text() != expected:
        print("docs/openapi.json is out of date: run `make openapi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
