"""What reviews are worth, and whether the calibrated threshold keeps its promise.

A careful reviewer (one who knows the true classes) works through the review queue in
rounds of 100 (the explorer's default order: least certain first, one pick in five an
audit drawn at random), each round ending with a relabel. Two piles with truth, three
example draws each:

- ``fashion``: the 10,000 Fashion-MNIST test images, the shipped weights, 10 examples per
  class from the training split (notebook 05's seeded draw, seeds 0, 1, 2);
- ``usps``: the 9,298 USPS digits (``../shared/data/usps``) as one folder, the autoencoder
  trained on it by the workbook with its defaults (kept in ``runs/review-usps``), 5
  examples per digit drawn from the pile.

After each round: accuracy of all labels; at the calibrated threshold, the share accepted,
the precision of the workbook's own accepted labels (the promise: 0.95) and the *kept*
share (reviewed images count as right, plus the accepted labels, if together they are at
least 0.95 precise; else 0); the best share any threshold keeps at 0.95; relabel seconds.
Writes benchmarks/results/review.json (with the commit and settings) and review_curve.png.

    python -m benchmarks.review [--piles fashion,usps] [--draws 0,1,2] [--rounds 5]
                                [--per-round 100]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, markdown_table, save_report
from helpers.core.run_dir import RunDir
from helpers.data.description import fit_description
from helpers.data.fashion_mnist import (
    CLASS_NAMES,
    choose_examples,
    load_fashion_mnist,
    to_float_images,
)
from helpers.labelling.cluster import cluster_codes
from helpers.labelling.labels import Known
from helpers.labelling.scoring import Reconstructions
from helpers.labelling.settings import DEFAULT_SETTINGS
from helpers.model.autoencoder import encode, load_weights, reconstruct, shipped_weights_path
from helpers.run.session import AUDIT_EVERY, LabelSession, review_queue

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
USPS = ROOT.parent / "shared" / "data" / "usps"
TARGET = 0.95


def kept_and_best(labels, truth, accepted, target=TARGET) -> tuple[float, float]:
    """(share kept at the given acceptance if its precision reaches ``target``, else 0; and
    the largest share any threshold keeps at ``target``). People's labels count as right."""
    person = labels.known >= 0
    correct = (labels.label == truth) | person
    precision = correct[accepted].mean() if accepted.any() else 0.0
    kept = accepted.mean() if precision >= target else 0.0
    auto = np.flatnonzero(~person)
    order = auto[np.argsort(labels.doubt[auto], kind="stable")]
    right = person.sum() + np.cumsum(correct[order])
    taken = person.sum() + np.arange(1, len(order) + 1)
    ok = np.flatnonzero(right / taken >= target)
    best = (taken[ok[-1]] if len(ok) else person.sum()) / len(labels)
    return float(kept), float(best)


def fashion_base(draw: int) -> tuple[dict, np.ndarray]:
    """The Fashion-MNIST test set with the shipped weights, 10 examples a class (seed ``draw``)."""
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_train, x_test = to_float_images(x_train), to_float_images(x_test)
    ae, enc, dec = load_weights(shipped_weights_path())
    recon = Reconstructions(dec, encode(enc, x_test))
    description = fit_description(x_test)  # the graph's points, as the workbook's
    points = description(x_test)
    idx = choose_examples(y_train, 10, seed=draw)
    ex_recon = reconstruct(ae, x_train[idx])
    base = dict(
        image_ids=np.arange(len(x_test)),
        class_names=CLASS_NAMES,
        codes=points,
        reconstructions=recon,
        clusters=cluster_codes(points, 10),
        similarity=recon.similarity(ex_recon),
        example_labels=y_train[idx],
        example_codes=description(x_train[idx]),
        example_reconstructions=ex_recon,
        example_known=Known.of([], [], "example"),
    )
    return base, y_test


def usps_base(draw: int) -> tuple[dict, np.ndarray]:
    """The USPS digits as a folder, labelled by the workbook's own steps with its defaults;
    5 examples per digit drawn from the pile (seed ``draw``)."""
    from helpers.run.weights import get_autoencoder
    from helpers.run.workflow import (
        get_clusters,
        get_codes,
        get_description,
        get_examples,
        get_similarity,
        setup,
    )

    inputs = ROOT / "runs" / "review-usps-inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    files = sorted(p.relative_to(USPS).as_posix() for p in USPS.rglob("*.png"))
    digits = [f.split("/")[0] for f in files]
    with open(inputs / "truth.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label"), *zip(files, digits, strict=True)])
    rng = np.random.default_rng(draw)
    rows = [("path", "label")]
    for d in sorted(set(digits)):
        mine = [f for f, g in zip(files, digits, strict=True) if g == d]
        rows += [(str(f), d) for f in rng.choice(mine, 5, replace=False)]
    with open(inputs / f"examples-{draw}.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    profile, run, split = setup(
        "full",
        str(ROOT / "runs" / "review-usps"),
        data=str(USPS),
        examples=str(inputs / f"examples-{draw}.csv"),
        truth=str(inputs / "truth.csv"),
        follow_run=False,
    )
    _, enc, dec, _ = get_autoencoder(run, profile, split, verbose=0)
    codes = get_codes(run, enc, split)["codes"]
    described = get_description(run, split)  # the graph's points, as the workbook's
    clusters = get_clusters(run, described.points, len(split.class_names))["clusters"]
    examples = get_examples(split, enc, dec, 5, described=described)
    recon = Reconstructions(dec, codes)
    base = dict(
        image_ids=split.test_ids,
        class_names=split.class_names,
        codes=described.points,
        reconstructions=recon,
        clusters=clusters,
        similarity=get_similarity(run, recon, examples, len(split.class_names)),
        example_labels=examples.labels,
        example_codes=examples.points,
        example_reconstructions=examples.reconstructions,
        example_known=examples.known(),
    )
    return base, split.y_test


PILES = {"fashion": fashion_base, "usps": usps_base}


def simulate(
    base: dict, truth: np.ndarray, rounds: int, per_round: int, run_dir: Path, settings
) -> list[dict]:
    """Rounds of reviews from the review queue, each followed by a relabel; a row a round."""
    shutil.rmtree(run_dir, ignore_errors=True)
    session = LabelSession(RunDir(run_dir), **base, settings=settings)
    rows = []
    for r in range(rounds + 1):
        start = time.perf_counter()
        labels, calibration = session.relabel()
        seconds = time.perf_counter() - start
        accepted = labels.accepted(calibration.threshold)
        auto = accepted & (labels.known < 0)
        kept, best = kept_and_best(labels, truth, accepted)
        row = {
            "reviews": int((labels.source == "reviewed").sum()),
            "audit_reviews": int(calibration.n_audit),
            "accuracy_all": float((labels.label == truth).mean()),
            "calibrated_threshold": float(calibration.threshold),
            "accepted_at_calibrated": float(accepted.mean()),
            "precision_of_accepted_auto": float((labels.label == truth)[auto].mean())
            if auto.any()
            else float("nan"),
            "estimated_precision": float(calibration.estimated_precision),
            "kept_at_p95_calibrated": kept,
            "kept_at_p95_best": best,
            "relabel_seconds": round(seconds, 2),
        }
        rows.append(row)
        print(f"  {run_dir.name}: {json.dumps(row)}", flush=True)
        if r < rounds:
            queue, is_audit = review_queue(labels, per_round)
            for i, audit in zip(queue, is_audit, strict=True):
                name = base["class_names"][truth[i]]
                session.log.append(str(base["image_ids"][i]), name, audit=bool(audit))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--piles", default="fashion,usps")
    parser.add_argument("--draws", default="0,1,2", help="example draws (seeds)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument(
        "--threshold-on",
        default=None,
        help="what the threshold applies to (default: the library's); another writes "
        "review-<it>.json",
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    settings = DEFAULT_SETTINGS
    if args.threshold_on:
        settings = replace(DEFAULT_SETTINGS, threshold_on=args.threshold_on)
    default = settings == DEFAULT_SETTINGS
    name = "review" if default else f"review-{settings.threshold_on}"
    report = {
        "command": command("review", argv),
        "commit": commit(),
        "settings": {**asdict(settings), "audit_every": AUDIT_EVERY},
        "runs": {},
    }
    for pile in args.piles.split(","):
        for draw in (int(d) for d in args.draws.split(",")):
            base, truth = PILES[pile](draw)
            run_dir = ROOT / "runs" / "review-bench" / f"{name}-{pile}-{draw}"
            report["runs"][f"{pile}, draw {draw}"] = simulate(
                base, truth, args.rounds, args.per_round, run_dir, settings
            )
            save_report(args.out, f"{name}.json", report)
    report["summary"] = summary(report)
    save_report(args.out, f"{name}.json", report)
    figure = curve(report)
    figure.savefig(Path(args.out) / f"{name}_curve.png", dpi=90, bbox_inches="tight")
    print(format_table(report))
    return 0


MEASURES = (
    "accuracy_all",
    "accepted_at_calibrated",
    "precision_of_accepted_auto",
    "kept_at_p95_calibrated",
    "kept_at_p95_best",
    "relabel_seconds",
)


def summary(report: dict) -> dict:
    """Per pile and round: the mean, lowest and highest of each measure over the draws."""
    out: dict = {}
    for name, rows in report["runs"].items():
        pile = name.split(",")[0]
        for r, row in enumerate(rows):
            out.setdefault(pile, {}).setdefault(r, {"reviews": row["reviews"]})
            for key in MEASURES:
                out[pile][r].setdefault(key, []).append(row[key])
    for rounds in out.values():
        for row in rounds.values():
            for key in MEASURES:
                values = np.asarray(row[key], np.float64)
                row[key] = {
                    "mean": float(np.nanmean(values)),
                    "min": float(np.nanmin(values)),
                    "max": float(np.nanmax(values)),
                }
    return out


def curve(report: dict):
    """Share of the pile kept at precision >= 0.95 against the number of reviews."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.4))
    for k, (pile, rounds) in enumerate(report["summary"].items()):
        reviews = [row["reviews"] for row in rounds.values()]
        for key, style, what in (
            ("kept_at_p95_best", "o-", "best threshold"),
            ("kept_at_p95_calibrated", "s--", "calibrated threshold"),
        ):
            ax.plot(
                reviews,
                [row[key]["mean"] for row in rounds.values()],
                style,
                color=f"C{k}",
                label=f"{pile}, {what} (mean of draws)",
            )
    ax.set_xlabel("reviews")
    ax.set_ylabel("share kept at precision >= 0.95")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("What reviews are worth (least certain first, one in five an audit)")
    fig.tight_layout()
    return fig


def format_table(report: dict) -> str:
    """The summary as a markdown table: mean (lowest-highest) over the draws."""
    header = [
        "pile",
        "reviews",
        "accuracy, all",
        "accepted at calibrated",
        "precision of accepted (promise 0.95)",
        "kept at 0.95, calibrated",
        "kept at 0.95, best threshold",
        "relabel, s",
    ]

    def cell(m, digits=3):
        return f"{m['mean']:.{digits}f} ({m['min']:.{digits}f}-{m['max']:.{digits}f})"

    rows = [
        [pile, str(row["reviews"])]
        + [cell(row[key], 1 if key == "relabel_seconds" else 3) for key in MEASURES]
        for pile, rounds in report["summary"].items()
        for row in rounds.values()
    ]
    return "\n".join(markdown_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
