"""The documentation's figures are the benchmarks' own: docs/results.md is written from
benchmarks/results/*.json, and must be what that writes today."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_results_page_is_written_from_the_results_files():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.results_page", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_results_page_check_fails_when_a_figure_changes(tmp_path):
    import json
    import shutil

    from benchmarks import results_page

    results = tmp_path / "results"
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    before = results_page.page(results)
    decode = json.loads((results / "decode.json").read_text())
    decode["ratio"]["median"] += 0.5
    (results / "decode.json").write_text(json.dumps(decode))
    assert results_page.page(results) != before


def test_every_helpers_name_in_the_docs_exists():
    """A module or function the docs name (``helpers.x.y``) is one that can be imported."""
    import importlib
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {m for page in pages for m in re.findall(r"\bhelpers(?:\.[a-z_]+)+", page.read_text())}
    missing = []
    for name in sorted(named):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                thing = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attribute in parts[cut:]:
                    thing = getattr(thing, attribute)
            except AttributeError:
                missing.append(name)
            break
    assert named and not missing, missing
