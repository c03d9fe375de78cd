"""Generate layers/posthorn/requirements.txt from pyproject.toml's runtime dependencies.

`--write` regenerates the file, `--check` fails when it has drifted (run by `make lint`).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "layers" / "posthorn" / "requirements.txt"
HEADER = "# Generated from pyproject.toml by `make layer-requirements`; do not edit by hand.\n"


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return HEADER + "".join(f"{dependency}\n" for dependency in project["dependencies"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    expected = render()
    if args.write:
        REQUIREMENTS.write_text(expected)
        return 0
    if not REQUIREMENTS.exists() or REQUIREMENTS.read_text() != expected:
        print(
            f"{REQUIREMENTS.relative_to(ROOT)} is out of date: run `make layer-requirements`", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
