"""What the benchmarks print and save: markdown tables and JSON reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a markdown table, led by a blank line."""
    lines = ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def summary(values: list[float]) -> dict:
    """Median, lowest and highest of a benchmark's rounds, and the rounds themselves."""
    import numpy as np

    return {
        "median": float(np.median(values)),
        "low": float(np.min(values)),
        "high": float(np.max(values)),
        "rounds": [round(v, 1) for v in values],
    }


def save_report(out: str | Path, name: str, report: dict) -> Path:
    """``report`` as indented JSON in ``out/name`` (the folder made if needed)."""
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def commit() -> str:
    """The checked-out commit, with '+' when the code (helpers/, benchmarks/) has changes."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "helpers", "benchmarks/*.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return head + ("+" if dirty else "")


def command(name: str, argv: list[str] | None = None) -> str:
    """How benchmark ``name`` was run (its results file records it): the module and its
    arguments, ``argv`` or else this process's."""
    return f"python -m benchmarks.{name} " + " ".join(sys.argv[1:] if argv is None else argv)
