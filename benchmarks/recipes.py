"""Which training recipe makes better codes? Train each recipe for the same number of
epochs on Fashion-MNIST's 60,000 training images, then measure on the 10,000 test images:
test-set SSIM, cluster ACC / NMI (spectral and KMeans), and the default labels with 10
and 1 examples per class (5 seeded draws). Each step changes one thing from the base recipe.

Training is resumable (one checkpoint per recipe under runs/recipes/): rerun the same
command after an interruption. Writes benchmarks/results/recipes.json and prints a table.

    python -m benchmarks.recipes [--epochs 5] [--draws 5] [--only base,cosine]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.drawn import quality_over_draws
from benchmarks.reports import command, markdown_table, save_report
from helpers.core import config
from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images
from helpers.labelling.cluster import METHODS, cluster_codes, cluster_metrics
from helpers.labelling.settings import DEFAULT_SETTINGS
from helpers.model.autoencoder import encode, load_weights, reconstruct, shipped_weights_path
from helpers.model.shipped import test_set_ssim, train_fashion_mnist

RECIPES = {
    # name: what changes from the base recipe (Adam 1e-3, batch 64, SSIM max_val 1.0)
    "base": {},
    "max_val 2.0 (the tutorial's)": {"max_val": 2.0},
    "cosine learning rate": {"schedule": "cosine"},
    "shift + mirror augmentation": {"augment": True},
}


def slug(name: str) -> str:
    return name.split(" (")[0].replace(" + ", "-").replace(" ", "-").replace(".", "")


def evaluate(weights: Path, data, draws: int) -> dict:
    _, (x_test, y_test) = data
    autoencoder, encoder, _ = load_weights(weights)
    codes, recon = encode(encoder, x_test), reconstruct(autoencoder, x_test)
    clusters = {m: cluster_codes(codes, 10, method=m) for m in METHODS}
    out = {
        "test_ssim": test_set_ssim(autoencoder, x_test),
        "clusters": {m: cluster_metrics(c, y_test) for m, c in clusters.items()},
    }
    pile = (codes, recon, clusters["spectral"])
    for per in (10, 1):
        quality = quality_over_draws(
            autoencoder, encoder, data, pile, per, draws, {"labels": DEFAULT_SETTINGS}
        )
        out[f"labels_{per}"] = quality["labels"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--only", default=None, help="comma-separated recipe slugs")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    root = config.project_root() / "runs" / "recipes"
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    data = ((to_float_images(x_train), y_train), (to_float_images(x_test), y_test))
    only = set(args.only.split(",")) if args.only else None
    report = {
        "command": command("recipes", argv),
        "epochs": args.epochs,
        "recipes": {},
    }
    for name, change in RECIPES.items():
        if only and slug(name) not in only:
            continue
        weights = root / f"{slug(name)}-{args.epochs}ep.weights.h5"
        start = time.time()
        if not weights.is_file():
            train_fashion_mnist(
                epochs=args.epochs,
                checkpoint=root / f"{slug(name)}-{args.epochs}ep" / "checkpoint.keras",
                out=weights,
                **change,
            )
        report["recipes"][name] = {"change": change, **evaluate(weights, data, args.draws)}
        print(f"{name}: done ({time.time() - start:.0f} s)", flush=True)
    shipped = shipped_weights_path()
    report["recipes"]["shipped weights (base, 20 epochs)"] = evaluate(shipped, data, args.draws)
    save_report(args.out, "recipes.json", report)
    print(format_table(report))
    return 0


def format_table(report: dict) -> str:
    header = [
        f"recipe ({report['epochs']} epochs unless said)",
        "test SSIM",
        "spectral ACC / NMI",
        "KMeans ACC / NMI",
        "10 ex.: accuracy / coverage at 0.95",
        "1 ex. (cluster rule): accuracy",
    ]
    rows = []
    for name, r in report["recipes"].items():
        s, k = r["clusters"]["spectral"], r["clusters"]["kmeans"]
        rows.append(
            [
                name,
                f"{r['test_ssim']:.4f}",
                f"{s['acc']:.3f} / {s['nmi']:.3f}",
                f"{k['acc']:.3f} / {k['nmi']:.3f}",
                f"{r['labels_10']['accuracy_all']:.3f} / {r['labels_10']['coverage_at_p95']:.3f}",
                f"{r['labels_1']['accuracy_all']:.3f}",
            ]
        )
    return "\n".join(markdown_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
