"""The row every benchmark script produces, and how it is printed.

A script's `main()` returns its rows; `report.run(main)` prints them as a table, or with `--json` as one
JSON line (`{"rows": [...]}`, and `"summary"` when the script has a one-line verdict) that bench/run.py
collects from every script into one table and bench/results.json.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One figure: our value against the baseline measured in the same run; the ratio is what is judged.

    `ratio` is ours / baseline for costs (lower is better) and ours / baseline for rates (higher is
    better); `target` says which way it must go. `passed` is decided by the script, which may check more
    than the ratio (e.g. a drain time, or an S3 read count), and `details` says what else it measured."""

    figure: str
    ours: float
    baseline: float
    unit: str
    ratio: float
    target: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)


def table(rows: Sequence[dict[str, Any]]) -> str:
    header = ("figure", "ours", "baseline", "ratio", "target", "result")
    lines = [
        (
            str(row["figure"]),
            _value(row["ours"], row["unit"]),
            _value(row["baseline"], row["unit"]),
            f"{row['ratio']:.2f}x" if row.get("ratio") is not None else "-",
            str(row["target"]),
            "pass" if row["passed"] else "FAIL",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *lines]
    )


def _value(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    number = float(value)
    shown = f"{number:.0f}" if abs(number) >= 100 else f"{number:.3g}"
    return f"{shown} {unit}".strip()


def run(main: Callable[[], list[Row]], summary: Callable[[], str] | None = None) -> None:
    """Print `main()`'s rows; then `summary()`, a script's one-line verdict, as the last line (with `--json`,
    in the JSON: bench/run.py prints every script's at the end)."""
    rows = [asdict(row) for row in main()]
    if "--json" in sys.argv[1:]:
        print(json.dumps({"rows": rows, **({"summary": summary()} if summary is not None else {})}))
        return
    print(table(rows))
    for row in rows:
        if row["details"]:
            print(f"{row['figure']}: " + ", ".join(f"{k}={v}" for k, v in row["details"].items()))
    if summary is not None:
        print(summary())
