"""The benchmarks measure what the library does by default."""

import sys
from dataclasses import replace
from pathlib import Path

from helpers.labelling.settings import DEFAULT_SETTINGS

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_the_quality_benchmark_has_a_row_for_the_library_defaults():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import quality
    finally:
        sys.path.remove(str(BENCHMARKS))
    # each row names its rule; with more than one example per class the default rule
    # (None: decided by the number of examples) is "image", with one it is "cluster"
    for rule in ("image", "cluster"):
        rows = [
            name
            for name, s in quality.VARIANTS.items()
            if s == replace(DEFAULT_SETTINGS, rule=rule)
        ]
        assert rows, f"no row of benchmarks/quality.py measures the defaults with rule {rule!r}"
