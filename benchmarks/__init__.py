"""The benchmarks: each measures what the library does by default, prints its tables and
writes its results file (``benchmarks/results/``). Run one from the repository root:
``python -m benchmarks.quality`` (``--help`` for its options)."""
