"""Check that the built layer ships bytecode Lambda's python3.11 will use: every .py under
.aws-sam/build/PosthornLayer/python has a .pyc with Python 3.11's magic number, compiled with
`--invalidation-mode unchecked-hash` (the deployment zip keeps mtimes only to 2 seconds, so a timestamp
.pyc would be rejected, and Lambda's read-only filesystem means the module is then compiled on every cold
start). Run by `make build` after `sam build`; the layer is built by layers/posthorn/Makefile.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER_SITE = ROOT / ".aws-sam" / "build" / "PosthornLayer" / "python"
# PEP 552: the flags word of a hash-based .pyc whose source is never checked.
UNCHECKED_HASH = 0b01


def problems(site: Path) -> list[str]:
    """What is wrong with the bytecode under `site` (nothing when every module has a usable .pyc)."""
    if sys.version_info[:2] != (3, 11):
        return [f"run this check with Python 3.11 (the runtime's magic number), not {sys.version.split()[0]}"]
    sources = sorted(site.rglob("*.py"))
    if not sources:
        return [f"no modules under {site}: run `make build`"]
    found = []
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        if not compiled.exists():
            found.append(f"{source.relative_to(site)}: no {compiled.name}")
            continue
        header = compiled.read_bytes()[:8]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            found.append(f"{source.relative_to(site)}: bytecode is not Python 3.11's")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            found.append(f"{source.relative_to(site)}: bytecode is not unchecked-hash")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("site", nargs="?", type=Path, default=LAYER_SITE)
    site = parser.parse_args().site
    found = problems(site)
    for problem in found[:20]:
        print(problem, file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s) with the layer's bytecode in {site}", file=sys.stderr)
        return 1
    print(f"{site}: {len(list(site.rglob('*.py')))} modules, each with unchecked-hash 3.11 bytecode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
