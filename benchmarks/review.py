"""What reviews are worth: a careful reviewer (one who knows Fashion-MNIST's true labels)
reviews the 10,000 test images in rounds of 100, in the explorer's default order and in a
random order, starting from 10 examples per class (notebook 05's seeded draw).

After each round: the accuracy of all labels, the share of the pile labelled at precision
>= 0.95 (reviewed images count as labelled and right; the workbook's own labels at the
calibrated threshold, and at the best threshold), and the round's relabel time. Writes
benchmarks/results/review.json and review_curve.png.

    python benchmarks/review.py [--rounds 5] [--per-round 100] [--orders "least certain;random"]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from reports import markdown_table, save_report

from helpers.artifacts import RunDir
from helpers.cluster import cluster_codes
from helpers.data import CLASS_NAMES, choose_examples, load_fashion_mnist, to_float_images
from helpers.labels import DEFAULT_SETTINGS, Known
from helpers.model import encode, load_weights, reconstruct, shipped_weights_path
from helpers.session import REVIEW_ORDERS, LabelSession, review_order
from helpers.ssim import pairwise_ssim

HERE = Path(__file__).resolve().parent


def share_at_precision(labels, truth, accepted, target=0.95) -> tuple[float, float]:
    """(share at the given acceptance if its precision reaches ``target``, else 0; and the
    largest share reaching it with the best threshold). People's labels count as right."""
    person = labels.known >= 0
    correct = (labels.label == truth) | person
    precision = correct[accepted].mean() if accepted.any() else 0.0
    at_calibrated = accepted.mean() if precision >= target else 0.0
    auto = np.flatnonzero(~person)
    order = auto[np.argsort(labels.doubt[auto], kind="stable")]
    right = person.sum() + np.cumsum(correct[order])
    taken = person.sum() + np.arange(1, len(order) + 1)
    ok = np.flatnonzero(right / taken >= target)
    best = (taken[ok[-1]] if len(ok) else person.sum()) / len(labels)
    return float(at_calibrated), float(best)


def simulate(
    base: dict, truth: np.ndarray, order: str, rounds: int, per_round: int, clamp: bool, root: Path
) -> list[dict]:
    """Rounds of reviews in ``order``, each followed by a relabel; one row per round."""
    run_dir = root / f"{order.replace(' ', '-').replace(',', '')}{'-clamp' if clamp else ''}"
    shutil.rmtree(run_dir, ignore_errors=True)
    session = LabelSession(
        RunDir(run_dir), **base, settings=replace(DEFAULT_SETTINGS, clamp_known=clamp)
    )
    rows = []
    for r in range(rounds + 1):
        start = time.perf_counter()
        labels, calibration = session.relabel()
        seconds = time.perf_counter() - start
        accepted = labels.accepted(calibration.threshold)
        at_cal, best = share_at_precision(labels, truth, accepted)
        row = {
            "reviews": int((labels.known >= 0).sum()),
            "accuracy_all": float((labels.label == truth).mean()),
            "calibrated_threshold": float(calibration.threshold),
            "accepted_at_calibrated": float(accepted.mean()),
            "precision_at_calibrated": float(
                ((labels.label == truth) | (labels.known >= 0))[accepted].mean()
            ),
            "share_at_p95_calibrated": at_cal,
            "share_at_p95_best": best,
            "relabel_seconds": round(seconds, 2),
        }
        rows.append(row)
        print(f"  {order}, clamp {clamp}: {json.dumps(row)}", flush=True)
        if r < rounds:
            for i in review_order(labels, order)[:per_round]:
                session.log.append(str(base["image_ids"][i]), CLASS_NAMES[truth[i]])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument(
        "--orders",
        default=";".join(REVIEW_ORDERS),
        help="semicolon-separated, from: " + "; ".join(REVIEW_ORDERS),
    )
    parser.add_argument(
        "--compare-clamp", action="store_true", help="also with clamp_known the other way"
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_train, x_test = to_float_images(x_train), to_float_images(x_test)
    ae, enc, _ = load_weights(shipped_weights_path())
    codes, recon = encode(enc, x_test), reconstruct(ae, x_test)
    idx = choose_examples(y_train, 10, seed=0)
    ex_recon = reconstruct(ae, x_train[idx])
    base = dict(
        image_ids=np.arange(len(x_test)),
        class_names=CLASS_NAMES,
        codes=codes,
        reconstructions=recon,
        clusters=cluster_codes(codes, 10),
        similarity=pairwise_ssim(recon, ex_recon),
        example_labels=y_train[idx],
        example_codes=encode(enc, x_train[idx]),
        example_reconstructions=ex_recon,
        example_known=Known.of([], [], "example"),
    )
    report = {
        "command": "python benchmarks/review.py " + " ".join(argv or sys.argv[1:]),
        "runs": {},
    }
    root = Path("runs") / "review-bench"
    for order in args.orders.split(";"):
        default = DEFAULT_SETTINGS.clamp_known
        for clamp in (default, not default) if args.compare_clamp else (default,):
            name = order + (", reviews clamped while spreading" if clamp else "")
            report["runs"][name] = simulate(
                base, y_test, order, args.rounds, args.per_round, clamp, root
            )
    save_report(args.out, "review.json", report)
    curve(report).savefig(Path(args.out) / "review_curve.png", dpi=90, bbox_inches="tight")
    print(format_table(report))
    return 0


def curve(report: dict):
    """Share of the pile labelled at precision >= 0.95 against the number of reviews."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.6))
    for k, (name, runs) in enumerate(report["runs"].items()):
        reviews = [r["reviews"] for r in runs]
        for key, style, threshold in (("best", "o-", "best"), ("calibrated", "s--", "calibrated")):
            shares = [r[f"share_at_p95_{key}"] for r in runs]
            ax.plot(reviews, shares, style, color=f"C{k}", label=f"{name}, {threshold} threshold")
    ax.axhline(0.70, color="grey", lw=0.8, ls=":", label="target after 500 reviews")
    ax.set_xlabel("reviews (Fashion-MNIST test set, 10,000 images)")
    ax.set_ylabel("share labelled at precision >= 0.95")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("What reviews are worth (10 examples per class to start)")
    fig.tight_layout()
    return fig


def format_table(report: dict) -> str:
    header = [
        "order",
        "reviews",
        "accuracy, all",
        "share at p>=0.95, calibrated",
        "share at p>=0.95, best threshold",
        "relabel, s",
    ]
    rows = [
        [
            name,
            str(r["reviews"]),
            f"{r['accuracy_all']:.3f}",
            f"{r['share_at_p95_calibrated']:.3f}",
            f"{r['share_at_p95_best']:.3f}",
            f"{r['relabel_seconds']:.1f}",
        ]
        for name, runs in report["runs"].items()
        for r in runs
    ]
    return "\n".join(markdown_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
