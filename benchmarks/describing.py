"""The description at speed: images per second of the scattering transform the workbook
uses (``helpers.data.scattering.scattering``) against the plain one (``scattering_plain``,
kymatio's algorithm, every step in Fourier space), side by side in one process on this
machine, alternately, ``--rounds`` times, on one thread; then the whole description
(transform, square root, projection) as ``Description`` runs it, a batch per core.

Shapes: 28x28 grey (Fashion-MNIST, USPS), 64x64 grey (the steel) and 64x64 colour (photos),
the sizes the workbook picks for those piles. Random images: the transform's cost does not
depend on what the pixels show. Also the largest difference between the two (they compute
the same numbers in another order).

    python -m benchmarks.describing [--rounds 5] [--images 2000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, markdown_table, save_report, summary

HERE = Path(__file__).resolve().parent
SHAPES = ((28, 28, 1), (64, 64, 1), (64, 64, 3))


def one_shape(shape: tuple[int, int, int], images: int, rounds: int) -> dict:
    """Both transforms on the same random images, alternately, a batch at a time."""
    from helpers.data.description import batch_size, fit_description, scales_for
    from helpers.data.scattering import scattering, scattering_plain

    n = max(1, images * 28 * 28 // (shape[0] * shape[1]))  # fewer of the larger images
    x = np.random.default_rng(0).random((n, *shape)).astype(np.float32)
    J, step = scales_for(shape[0]), batch_size(shape)
    largest = float(np.abs(scattering(x[:8], J) - scattering_plain(x[:8], J)).max())

    def rate(transform) -> float:
        start = time.perf_counter()
        for i in range(0, n, step):
            transform(x[i : i + step], J)
        return n / (time.perf_counter() - start)

    plain, fast = [], []
    for _ in range(rounds):
        plain.append(rate(scattering_plain))
        fast.append(rate(scattering))
    description = fit_description(x, seed=0)
    described = []
    for _ in range(rounds):
        start = time.perf_counter()
        description(x)
        described.append(n / (time.perf_counter() - start))
    ratios = [f / p for f, p in zip(fast, plain, strict=True)]
    return {
        "shape": list(shape),
        "images": n,
        "plain_images_per_s": summary(plain),
        "fast_images_per_s": summary(fast),
        "ratio": summary(ratios),
        "description_images_per_s": summary(described),
        "max_abs_difference": largest,
    }


def format_table(report: dict) -> list[str]:
    rows = []
    for r in report["shapes"]:
        rows.append(
            [
                "x".join(map(str, r["shape"])),
                f"{r['plain_images_per_s']['median']:,.0f}",
                f"{r['fast_images_per_s']['median']:,.0f}",
                f"{r['ratio']['median']:.2f}x ({r['ratio']['low']:.2f}-{r['ratio']['high']:.2f})",
                f"{r['description_images_per_s']['median']:,.0f}",
                f"{r['max_abs_difference']:.1e}",
            ]
        )
    header = ["image", "plain, img/s (1 thread)", "fast, img/s (1 thread)", "ratio (range)"]
    header += [f"description, img/s ({report['cores']} cores)", "largest difference"]
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=2000, help="28x28 images per round")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    report = {
        "command": command("describing", argv),
        "commit": commit(),
        "cores": os.cpu_count(),
        "shapes": [],
    }
    for shape in SHAPES:
        report["shapes"].append(one_shape(shape, args.images, args.rounds))
        print(report["shapes"][-1], flush=True)
    save_report(args.out, "describing.json", report)
    print("\n".join(format_table(report)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
