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
