"""The benchmarks measure what the library does by default."""

from dataclasses import replace

from benchmarks import quality
from helpers.labelling.settings import DEFAULT_SETTINGS


def test_the_quality_benchmark_has_a_row_for_the_library_defaults():
    # each row names its rule; with more than one example per class the default rule
    # (None: decided by the number of examples) is "image", with one it is "cluster"
    for rule in ("image", "cluster"):
        rows = [
            name
            for name, s in quality.VARIANTS.items()
            if s == replace(DEFAULT_SETTINGS, rule=rule)
        ]
        assert rows, f"no row of benchmarks/quality.py measures the defaults with rule {rule!r}"
