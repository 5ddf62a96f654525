"""What the benchmarks print and save: markdown tables and JSON reports."""

from __future__ import annotations

import json
from pathlib import Path


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a markdown table, led by a blank line."""
    lines = ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def save_report(out: str | Path, name: str, report: dict) -> Path:
    """``report`` as indented JSON in ``out/name`` (the folder made if needed)."""
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
