"""Markdown tables for the benchmarks' printed reports."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a markdown table, led by a blank line."""
    lines = ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
