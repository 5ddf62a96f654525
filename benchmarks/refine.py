"""Do codes that learn from what is known label better? Fashion-MNIST test set (10,000
images) as the pile, the shipped weights, examples drawn from the training split.

For each variant: label with the defaults, calibrate the threshold, refine the
autoencoder on the pile with the class term learning the accepted labels and the examples
(``helpers.model.refine``), then encode, cluster, label and calibrate again; and the manifold
step, UMAP of the codes before the graph and the clusters (N2D's, umap-learn), with no
training. Every row reports accuracy (all labelled), best coverage at precision 0.95, the
calibrated threshold's coverage and precision, the codes' 10-NN class agreement, and the
spectral clusters' ACC / NMI. Writes benchmarks/results/refine.json.

    python -m benchmarks.refine [--per-class 10] [--draws 0] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, markdown_table, save_report
from helpers.data.fashion_mnist import choose_examples, load_fashion_mnist
from helpers.labelling.calibration import calibrate_threshold
from helpers.labelling.cluster import cluster_codes, cluster_metrics
from helpers.labelling.evaluation import evaluate, label_quality, neighbour_agreement
from helpers.labelling.held_out import PileScores
from helpers.labelling.labels import label_images
from helpers.labelling.settings import DEFAULT_SETTINGS
from helpers.model.autoencoder import encode, load_weights, reconstruct, shipped_weights_path
from helpers.model.refine import DEFAULT_REFINE, refine, training_set
from helpers.ssim import pairwise_ssim

# name: (refinement settings, which accepted labels it learns); None: no refinement
VARIANTS = {
    "no refinement": None,
    "SSIM fine-tune only (class weight 0)": (replace(DEFAULT_REFINE, class_weight=0.0), "all"),
    "class weight 0.1": (replace(DEFAULT_REFINE, class_weight=0.1), "all"),
    "class weight 1": (replace(DEFAULT_REFINE, class_weight=1.0), "all"),
    "class weight 1, class-balanced labels, rate 1e-4": (
        replace(DEFAULT_REFINE, class_weight=1.0, learning_rate=1e-4),
        "balanced",
    ),
    "UMAP of the codes (n_neighbors 20, 10-D, min_dist 0)": "umap",
}


def measure(autoencoder, encoder, pile, truth, examples, example_labels, space=None) -> tuple:
    """Label the pile with the defaults; the labels, the calibration and the measures."""
    codes, recon = encode(encoder, pile), reconstruct(autoencoder, pile)
    ex_codes = encode(encoder, examples)
    if space is not None:  # a map of the codes to another space (UMAP's)
        codes, ex_codes = space(codes, ex_codes)
    clusters = cluster_codes(codes, 10, method="spectral")
    ex_recon = reconstruct(autoencoder, examples)
    sim = pairwise_ssim(recon, ex_recon)
    settings = DEFAULT_SETTINGS
    labels = label_images(
        sim, example_labels, 10, codes, clusters, settings, example_codes=ex_codes
    )
    pile_scores = PileScores(sim, codes, ex_codes)
    cal = calibrate_threshold(labels, ex_recon, example_labels, settings, pile_scores)
    at = evaluate(labels, truth, cal.threshold)
    quality = label_quality(labels, truth)
    found = cluster_metrics(clusters, truth)
    return (
        labels,
        cal,
        {
            "accuracy_all": quality["accuracy_all"],
            "best_coverage_at_p95": quality["coverage_at_p95"],
            "calibrated_coverage": at["coverage"],
            "calibrated_precision": at["precision"],
            "neighbour_agreement": neighbour_agreement(codes, truth),
            "cluster_acc": found["acc"],
            "cluster_nmi": found["nmi"],
        },
    )


def learned_classes(labels, cal, which: str) -> np.ndarray:
    """The class the refinement learns for each pile image (-1: none): every accepted
    label, or as many of each class's surest as the accepted count over the classes."""
    ok = labels.accepted(cal.threshold)
    if which == "all":
        return np.where(ok, labels.label, -1)
    per_class = int(ok.sum()) // (int(labels.label.max()) + 1)
    classes = np.full(len(labels), -1)
    for c in np.unique(labels.label):
        mine = np.flatnonzero(labels.label == c)
        classes[mine[np.argsort(-labels.confidence[mine], kind="stable")[:per_class]]] = c
    return classes


def umap_space(seed: int):
    import umap

    def space(codes, ex_codes):
        reducer = umap.UMAP(n_neighbors=20, n_components=10, min_dist=0.0, random_state=seed)
        return reducer.fit_transform(codes), reducer.transform(ex_codes)

    return space


def run_variant(name, variant, data, per_class: int, draw: int) -> dict:
    (x_train, y_train), (x_test, y_test) = data
    autoencoder, encoder, _ = load_weights(shipped_weights_path())
    idx = choose_examples(y_train, per_class, seed=draw)
    examples, example_labels = x_train[idx], y_train[idx]
    start = time.time()
    row = {"variant": name, "per_class": per_class, "draw": draw}
    if variant == "umap":
        _, _, row["after"] = measure(
            autoencoder, encoder, x_test, y_test, examples, example_labels, umap_space(draw)
        )
    else:
        labels, cal, row["after"] = measure(
            autoencoder, encoder, x_test, y_test, examples, example_labels
        )
    if isinstance(variant, tuple):
        settings, which = variant
        classes = learned_classes(labels, cal, which)
        learned = classes >= 0
        row["learned"] = {
            "labels": int(learned.sum()),
            "right": float((classes[learned] == y_test[learned]).mean()),
            "which": which,
        }
        row["refine"] = asdict(settings)
        images, targets = training_set(x_test, classes, examples, example_labels)
        refine(autoencoder, images, targets, 10, settings, seed=draw, precision="auto", verbose=0)
        _, _, row["after"] = measure(autoencoder, encoder, x_test, y_test, examples, example_labels)
    row["seconds"] = round(time.time() - start, 1)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--draws", default="0", help="comma-separated example draw seeds")
    parser.add_argument("--only", default=None, help="comma-separated variant numbers (0-based)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    data = ((x_train[..., None], y_train), (x_test[..., None], y_test))
    chosen = list(VARIANTS.items())
    if args.only:
        chosen = [chosen[int(i)] for i in args.only.split(",")]
    report = {
        "command": command("refine", argv),
        "commit": commit(),
        "weights": shipped_weights_path().name,
        "label_settings": asdict(DEFAULT_SETTINGS),
        "pile": "Fashion-MNIST test split, 10,000 images",
        "rows": [],
    }
    for draw in (int(d) for d in args.draws.split(",")):
        for name, variant in chosen:
            row = run_variant(name, variant, data, args.per_class, draw)
            report["rows"].append(row)
            print(row, flush=True)
            save_report(args.out, "refine.json", report)
    print("\n".join(format_table(report)))
    return 0


def format_table(report: dict) -> list[str]:
    keys = list(report["rows"][0]["after"])
    return markdown_table(
        ["variant", "draw", *keys, "seconds"],
        [
            [r["variant"], str(r["draw"]), *(f"{r['after'][k]:.3f}" for k in keys)]
            + [str(r["seconds"])]
            for r in report["rows"]
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
