"""How fast the threshold explorer answers, at 10,000 and 1,000,000 images.

Labels from random class losses (10 classes, thresholded on the margin), random 28x28
images and a truth with about 20% mistakes. For each size: building the explorer, then 8
slider moves across the range, 3 class picks and the switch to *least certain* (each timed
as the callback that redraws the counts and the gallery).

    python -m benchmarks.explorer [--sizes 10000,1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, markdown_table, save_report

HERE = Path(__file__).resolve().parent


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def one_size(n: int, seed: int = 0) -> dict:
    from helpers.labelling.labels import assign_labels
    from helpers.notebook.explorer import ThresholdExplorer

    rng = np.random.default_rng(seed)
    losses = rng.random((n, 10), dtype=np.float32)
    labels = assign_labels(losses, np.zeros(n, np.int64), 1, "image", "margin")
    truth = np.where(rng.random(n) < 0.8, labels.label, rng.integers(0, 10, n))
    images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    names = [f"class {c}" for c in range(10)]
    explorer = None

    def build():
        nonlocal explorer
        explorer = ThresholdExplorer(labels, images, names, 0.2, true_labels=truth)

    build_ms = _ms(build)
    values = np.linspace(0.02, 0.6, 8)

    def move(v):
        explorer.slider.value = float(v)

    slider = [_ms(lambda v=v: move(v)) for v in values]

    picks = [_ms(lambda c=c: setattr(explorer.picker, "value", c)) for c in (3, 7, 3)]
    order = _ms(lambda: setattr(explorer.order, "value", "least certain"))
    slider_in_order = [_ms(lambda v=v: move(v)) for v in values[::-1]]
    return {
        "images": n,
        "build_ms": round(build_ms, 1),
        "slider_ms_median": round(float(np.median(slider)), 2),
        "slider_ms_max": round(float(np.max(slider)), 2),
        "class_pick_ms": [round(t, 1) for t in picks],
        "least_certain_switch_ms": round(order, 1),
        "slider_ms_max_least_certain": round(float(np.max(slider_in_order)), 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = [one_size(int(n)) for n in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} CPU cores")
    header = [
        "images",
        "build, ms",
        "slider move, ms (median / max of 8)",
        "class picks, ms",
        "switch to least certain, ms",
    ]
    table = [
        [
            f"{r['images']:,}",
            f"{r['build_ms']:.0f}",
            f"{r['slider_ms_median']:.1f} / {r['slider_ms_max']:.1f}",
            " / ".join(f"{t:.0f}" for t in r["class_pick_ms"]),
            f"{r['least_certain_switch_ms']:.0f}",
        ]
        for r in rows
    ]
    print("\n".join(markdown_table(header, table)))
    report = {"command": command("explorer", argv), "commit": commit(), "sizes": rows}
    save_report(args.out, "explorer.json", {**report, "machine": f"{os.cpu_count()} CPU cores"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
