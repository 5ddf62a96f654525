"""How good are the labels? Fashion-MNIST test set (10,000 images), model trained on the
60,000 training images.

Reports cluster ACC / NMI / ARI, and for 1, 5 and 10 examples per class (5 seeded draws
from the training split each): accuracy when every image is labelled, and the largest
coverage at which the accepted labels are still >= 95% and >= 90% precise, for each
labelling option and for the tutorial's own rule. Writes a table, JSON and a
precision-coverage PNG into benchmarks/results/.

    python -m benchmarks.quality [--weights PATH] [--draws 5] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmarks.drawn import Points, draw_examples, label_draw, mean_of
from benchmarks.reports import command, commit, markdown_table, save_report
from helpers.data.description import fit_description
from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images
from helpers.labelling.calibration import calibrate_threshold
from helpers.labelling.cluster import METHODS, cluster_codes, cluster_metrics
from helpers.labelling.evaluation import (
    evaluate,
    label_quality,
    neighbour_agreement,
    precision_coverage_curve,
)
from helpers.labelling.held_out import PileScores
from helpers.labelling.settings import DEFAULT_SETTINGS, LabelSettings
from helpers.labelling.tutorial import tutorial_on_class
from helpers.model.autoencoder import encode, load_weights, reconstruct, shipped_weights_path

# Each row changes the library's defaults (DEFAULT_SETTINGS) in one or two ways; the rule
# is always named, so the one-example rows show each rule as it is. TODAY: the defaults
# without Poisson learning on the codes' graph, the rows measured before either.
TODAY = replace(DEFAULT_SETTINGS, poisson=0.0, graph="codes")
ROWS = [
    replace(TODAY, aggregate="mean", rule="image", threshold_on="loss", spread=0),
    replace(TODAY, aggregate="mean", rule="cluster", threshold_on="loss", spread=0),
    replace(TODAY, rule="image", threshold_on="loss", spread=0),
    replace(TODAY, rule="image", spread=0),
    replace(TODAY, rule="image", spread=0.5),
    replace(TODAY, rule="image"),  # spreading, the defaults before Poisson learning
    replace(TODAY, rule="image", spread=0.9),
    replace(TODAY, rule="cluster"),  # the same, one example per class
    replace(DEFAULT_SETTINGS, rule="image", graph="codes"),  # the defaults before the description
    replace(DEFAULT_SETTINGS, rule="cluster", graph="codes"),
    replace(DEFAULT_SETTINGS, rule="image", poisson=0.8),
    replace(DEFAULT_SETTINGS, rule="image"),  # the defaults
    replace(DEFAULT_SETTINGS, rule="image", threshold_on="margin"),  # the defaults before
    replace(DEFAULT_SETTINGS, rule="image", poisson=1.0),
    replace(DEFAULT_SETTINGS, rule="cluster"),
]
PER_CLASS = (1, 5, 10)


def row_name(settings: LabelSettings) -> str:
    """aggregate, rule, threshold on[, spread alpha][, poisson weight]: the table's row names."""
    name = f"{settings.aggregate}, {settings.rule}, {settings.threshold_on}"
    name += f", spread {settings.spread}" if settings.spread else ""
    name += f", poisson {settings.poisson}" if settings.poisson else ""
    return name + (", on the codes" if settings.graph == "codes" else "")


VARIANTS = {row_name(settings): settings for settings in ROWS}
# the precision-coverage plot: the tutorial's comparison, each step that moved it, the default
CURVES = [ROWS[0], ROWS[3], ROWS[5], ROWS[9], ROWS[12]]
CALIBRATED = {
    "defaults": DEFAULT_SETTINGS,
    "defaults, threshold on the margin": replace(DEFAULT_SETTINGS, threshold_on="margin"),
    "defaults on the codes' graph": replace(DEFAULT_SETTINGS, graph="codes"),
    "defaults without Poisson learning, on the codes' graph": TODAY,
}


def tutorial_scores(recon, clusters, sim, ex_recon, ex_labels, y):
    """The tutorial's rule on the cluster mapped to ankle boots (class 9), as it was shown."""
    rows = tutorial_on_class(recon, clusters, sim, ex_recon, ex_labels, 9, y)
    return {
        f"t={r['threshold']}": {k: r[k] for k in ("accepted", "coverage", "precision")}
        for r in rows
    }


def _mean_of_defined(values) -> float:
    """Mean over the draws where the value exists (precision of nothing accepted is NaN)."""
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=str(shipped_weights_path()))
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="KMeans seed")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_train, x_test = to_float_images(x_train), to_float_images(x_test)
    autoencoder, encoder, _ = load_weights(args.weights)
    codes, recon = encode(encoder, x_test), reconstruct(autoencoder, x_test)
    description = fit_description(x_test)
    points = Points(codes, description(x_test))
    by_method = {m: cluster_codes(codes, 10, method=m, seed=args.seed) for m in METHODS}
    described = {m: cluster_codes(points.description, 10, m, args.seed) for m in METHODS}
    clusters = described["spectral"]  # the default; "kmeans" on the codes is the tutorial's
    report = {
        "command": command("quality", argv),
        "commit": commit(),
        "settings": asdict(DEFAULT_SETTINGS),
        "weights": Path(args.weights).name,
        "cluster_seed": args.seed,
        "example_draw_seeds": list(range(args.draws)),
        "clusters": {m: cluster_metrics(c, y_test) for m, c in by_method.items()},
        "clusters_of_the_description": {
            m: cluster_metrics(c, y_test) for m, c in described.items()
        },
        "neighbour_agreement": neighbour_agreement(codes, y_test),
        "neighbour_agreement_of_the_description": neighbour_agreement(points.description, y_test),
        "labels": {},
        "tutorial_rule": {},
        "calibrated_default": {},
    }
    curves = {}
    for per in PER_CLASS:
        results = {name: [] for name in VARIANTS}
        tutorial, calibrated = [], []
        for draw in range(args.draws):
            train = (x_train, y_train)
            drawn = draw_examples(autoencoder, encoder, train, recon, per, draw, description)
            sim, ex_recon, ex_labels = drawn.similarity, drawn.reconstructions, drawn.labels
            for name, settings in VARIANTS.items():
                labels = label_draw(drawn, points, clusters, settings)
                results[name].append(label_quality(labels, y_test))
                if draw == 0 and per == 10 and settings in CURVES:
                    correct = labels.label == y_test
                    curves[name] = precision_coverage_curve(labels.doubt, correct)[:2]
            if per > 1:  # the threshold, calibrated on the examples alone
                for name, settings in CALIBRATED.items():
                    pile = PileScores(sim, points.of(settings), drawn.points.of(settings))
                    labels = label_draw(drawn, points, clusters, settings)
                    cal = calibrate_threshold(labels, ex_recon, ex_labels, settings, pile)
                    calibrated.append((name, evaluate(labels, y_test, cal.threshold)))
            km = by_method["kmeans"]  # the tutorial's rule on the tutorial's clusters
            tutorial.append(tutorial_scores(recon, km, sim, ex_recon, ex_labels, y_test))
        report["labels"][per] = {name: mean_of(rs) for name, rs in results.items()}
        if calibrated:
            report["calibrated_default"][per] = {
                name: {
                    k: float(np.mean([c[k] for n, c in calibrated if n == name]))
                    for k in ("threshold", "accepted", "coverage", "precision")
                }
                for name in CALIBRATED
            }
        report["tutorial_rule"][per] = {
            t: {k: _mean_of_defined([d[t][k] for d in tutorial]) for k in tutorial[0][t]}
            for t in tutorial[0]
        }
        print(f"{per} example(s) per class done ({time.time() - start:.0f} s)", flush=True)
    report["seconds"] = round(time.time() - start, 1)

    save_report(out, "quality.json", report)
    from helpers.notebook.plots import precision_coverage

    fig = precision_coverage(curves, title="10 examples per class (draw 0), Fashion-MNIST test")
    fig.savefig(out / "quality_curve.png", dpi=90)
    print(format_table(report))
    return 0


def format_table(report: dict) -> str:
    lines = [
        f"weights {report['weights']}; cluster seed {report['cluster_seed']}; "
        f"example draws seeded {report['example_draw_seeds']}; {report['seconds']} s; "
        f"10-NN class agreement of the codes {report['neighbour_agreement']:.3f}",
    ]
    lines += markdown_table(
        ["clusters of the codes", "ACC", "NMI", "ARI"],
        [
            [method, f"{c['acc']:.3f}", f"{c['nmi']:.3f}", f"{c['ari']:.3f}"]
            for method, c in report["clusters"].items()
        ],
    )
    lines += markdown_table(
        [
            "examples/class",
            "variant (aggregate, rule, threshold on, spread)",
            "accuracy, all labelled",
            "coverage at precision >= 0.95",
            "coverage at precision >= 0.90",
        ],
        [
            [
                str(per),
                name,
                f"{r['accuracy_all']:.3f}",
                f"{r['coverage_at_p95']:.3f}",
                f"{r['coverage_at_p90']:.3f}",
            ]
            for per, variants in report["labels"].items()
            for name, r in variants.items()
        ],
    )
    lines += markdown_table(
        [
            "examples/class",
            "threshold calibrated on the examples",
            "accepted",
            "coverage",
            "precision",
        ],
        [
            [
                str(per),
                f"{name}: {CALIBRATED[name].threshold_on} >= {r['threshold']:.4f} (mean)",
                f"{r['accepted']:.0f}",
                f"{r['coverage']:.3f}",
                f"{r['precision']:.3f}",
            ]
            for per, rows in report["calibrated_default"].items()
            for name, r in rows.items()
        ],
    )
    lines += markdown_table(
        ["examples/class", "tutorial rule (boots cluster)", "accepted", "coverage", "precision"],
        [
            [str(per), t, f"{r['accepted']:.1f}", f"{r['coverage']:.4f}", f"{r['precision']:.3f}"]
            for per, rows in report["tutorial_rule"].items()
            for t, r in rows.items()
        ],
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
