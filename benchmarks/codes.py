"""Which training makes codes whose neighbours share a class? Train the autoencoder with
each setting (the invariance weight, mirrored views or not) on a seeded sample of
Fashion-MNIST's training images, then measure the codes of the 10,000 test images: the
share of each image's 10 nearest images that have its class, test SSIM, KMeans ACC, and
with ``--labels`` the spectral clusters and the default labels at 1, 5 and 10 examples.

Each run is saved as it ends (runs/codes/, resumable; results in benchmarks/results/
codes.json keyed by setting and seed), so screening a dozen settings and confirming two
over three seeds are the same command with other arguments.

    python -m benchmarks.codes --images 20000 --epochs 2 --settings 0,vicreg-1
    python -m benchmarks.codes --images 60000 --epochs 8 --seeds 0,1,2 --labels ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.drawn import quality_over_draws
from benchmarks.reports import markdown_table, save_report
from helpers.core import config
from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images
from helpers.labelling.cluster import cluster_codes, cluster_metrics
from helpers.labelling.evaluation import neighbour_agreement
from helpers.labelling.settings import DEFAULT_SETTINGS
from helpers.model.autoencoder import (
    build_autoencoder,
    encode,
    load_weights,
    reconstruct,
    save_weights,
)
from helpers.model.invariance import INVARIANCE_KINDS
from helpers.model.shipped import test_set_ssim
from helpers.model.training import FAST_RECIPE, Recipe, train


def parse_setting(name: str) -> dict:
    """'0' (no invariance term), or KIND-W[-mirror][-clean][-projN][-bN]: loss kind (vicreg,
    ntxent), weight W, mirrored views allowed, each view's code reconstructing the image
    itself, a projection head of N units, batches of N images."""
    if name == "0":
        return {"invariance": 0.0}
    kind, weight, *flags = name.split("-")
    sized = {f for f in flags if f.startswith(("proj", "b")) and f.lstrip("projb").isdigit()}
    if kind not in INVARIANCE_KINDS or not set(flags) - sized <= {"mirror", "clean"}:
        raise ValueError(f"unknown setting {name!r}")
    out = {
        "invariance": float(weight),
        "invariance_kind": kind,
        "mirror": "mirror" in flags,
        "view_target": "image" if "clean" in flags else "view",
    }
    for flag in sized:
        key = "projection" if flag.startswith("proj") else "batch_size"
        out[key] = int(flag.lstrip("projb"))
    return out


def run_one(name: str, seed: int, args, data) -> dict:
    (x_train, _), (x_test, y_test) = data
    stem = f"{name}-{args.images}x{args.epochs}-seed{seed}"
    root = config.project_root() / "runs" / "codes"
    weights = root / f"{stem}.weights.h5"
    autoencoder, encoder, _ = build_autoencoder(seed=seed)
    start = time.time()
    recipe = Recipe(
        epochs=args.epochs,
        schedule=FAST_RECIPE.schedule,
        precision=FAST_RECIPE.precision,
        **parse_setting(name),
    )
    train(
        autoencoder,
        x_train,
        recipe,
        n_images=args.images,
        seed=seed,
        verbose=0,
        checkpoint=root / stem / "checkpoint.keras",
    )
    seconds = time.time() - start
    save_weights(autoencoder, weights)
    codes = encode(encoder, x_test)
    out = {
        "setting": name,
        "seed": seed,
        "weights": str(weights.relative_to(config.project_root())),
        "train_seconds": round(seconds, 1),
        "test_ssim": test_set_ssim(autoencoder, to_float_images(x_test)),
        "neighbour_agreement": neighbour_agreement(codes, y_test),
        "kmeans": cluster_metrics(cluster_codes(codes, 10, method="kmeans"), y_test),
    }
    if args.labels:
        out.update(label_measures(autoencoder, encoder, codes, data, args.draws))
    return out


# the labels measured for each run: the defaults, and the same without Poisson learning
LABELLINGS = {"labels": DEFAULT_SETTINGS, "ssim_only": replace(DEFAULT_SETTINGS, poisson=0.0)}


def label_measures(autoencoder, encoder, codes, data, draws: int) -> dict:
    """Spectral clusters, and labels at 1, 5, 10 examples per class (``LABELLINGS``)."""
    _, (x_test, y_test) = data
    clusters = cluster_codes(codes, 10, method="spectral")
    recon = reconstruct(autoencoder, x_test)
    out = {"spectral": cluster_metrics(clusters, y_test)}
    for per in (1, 5, 10):
        quality = quality_over_draws(
            autoencoder, encoder, data, (codes, recon, clusters), per, draws, LABELLINGS
        )
        for name, measures in quality.items():
            out[f"{name}_{per}"] = measures
    return out


def relabel(run: dict, data, draws: int) -> dict:
    """``label_measures`` again for a run already trained, from its saved weights."""
    autoencoder, encoder, _ = load_weights(config.project_root() / run["weights"])
    codes = encode(encoder, data[1][0])
    return {**run, **label_measures(autoencoder, encoder, codes, data, draws)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", default="0,vicreg-0.3,vicreg-1,vicreg-3")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--labels", action="store_true")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    data = ((x_train[..., None], y_train), (x_test[..., None], y_test))
    path = Path(args.out) / "codes.json"
    report = json.loads(path.read_text()) if path.is_file() else {"runs": {}}
    for name in args.settings.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            key = f"{name}, {args.images} images x {args.epochs} epochs, seed {seed}"
            done = report["runs"].get(key)
            if done and (not args.labels or "ssim_only_10" in done):
                continue
            if done and args.labels:  # trained before the labels were asked for
                report["runs"][key] = relabel(done, data, args.draws)
            else:
                report["runs"][key] = run_one(name, seed, args, data)
            save_report(args.out, "codes.json", report)
            print(key, json.dumps(report["runs"][key]), flush=True)
    print(format_table(report))
    print(format_seeds(report))
    return 0


def format_seeds(report: dict) -> str:
    """Runs with labels, by setting and training over their seeds: mean (lowest-highest)."""
    groups: dict[str, list[dict]] = {}
    for key, r in report["runs"].items():
        if "ssim_only_10" in r:
            groups.setdefault(key.rsplit(", seed", 1)[0], []).append(r)
    measures = {
        "10-NN agreement": lambda r: r["neighbour_agreement"],
        "test SSIM": lambda r: r["test_ssim"],
        "spectral ACC": lambda r: r["spectral"]["acc"],
        "spectral NMI": lambda r: r["spectral"]["nmi"],
        "10 ex.: accuracy": lambda r: r["labels_10"]["accuracy_all"],
        "10 ex.: coverage at 0.95": lambda r: r["labels_10"]["coverage_at_p95"],
        "5 ex.: accuracy": lambda r: r["labels_5"]["accuracy_all"],
        "1 ex.: accuracy": lambda r: r["labels_1"]["accuracy_all"],
        "10 ex., SSIM only: accuracy": lambda r: r["ssim_only_10"]["accuracy_all"],
        "10 ex., SSIM only: coverage at 0.95": lambda r: r["ssim_only_10"]["coverage_at_p95"],
        "1 ex., SSIM only: accuracy": lambda r: r["ssim_only_1"]["accuracy_all"],
    }
    rows = []
    for name, runs in groups.items():
        row = [f"{name} ({len(runs)} seeds)"]
        for get in measures.values():
            values = [get(r) for r in runs]
            row.append(f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})")
        rows.append(row)
    return "\n".join(markdown_table(["setting, training", *measures], rows))


def format_table(report: dict) -> str:
    rows = []
    for key, r in report["runs"].items():
        row = [key, f"{r['neighbour_agreement']:.3f}", f"{r['test_ssim']:.4f}"]
        row.append(f"{r['kmeans']['acc']:.3f} / {r['kmeans']['nmi']:.3f}")
        row.append(f"{r['train_seconds']:.0f}")
        rows.append(row)
    header = ["setting, training, seed", "10-NN agreement", "test SSIM", "KMeans ACC / NMI", "s"]
    return "\n".join(markdown_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
