"""What reviews are worth, and whether the calibrated threshold keeps its promise.

A careful reviewer (one who knows the true classes) works through the review queue in
rounds of 100 (the explorer's default order: the audit round first, then least certain
first with one pick in five an audit drawn at random), each round ending with a relabel.
Every pile with truth (benchmarks/piles.py's piles, run directories and example draws:
run ``python -m benchmarks.piles`` first), three example draws each, 3 rounds (Fashion-MNIST
5).

After each round: accuracy of all labels; at the calibrated threshold, the share accepted,
the precision of the workbook's own accepted labels (the promise: 0.95), the estimate and
whether a promise is made; the *kept* share (the accepted share, reviewed images
included, if the workbook's own accepted labels are at least 0.95, or 0.93, precise; else
0); the best share any threshold keeps so at 0.95, and the efficiency (accepted share /
that best share);
relabel seconds. Writes benchmarks/results/review.json (with the commit and settings) and
review_curve.png; with ``--keep-states``, each round's scores and held-out labels under
runs/review-bench (to study the calibration without relabelling).

    python -m benchmarks.review [--piles fashion,usps,intel-scenes,neu-steel]
                                [--draws 0,1,2] [--rounds 3] [--per-round 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from benchmarks.piles import PILES, prepared
from benchmarks.reports import command, commit, markdown_table, save_report
from helpers.core.run_dir import RunDir
from helpers.labelling.calibration import AUDITS_FOR_A_PROMISE
from helpers.labelling.settings import DEFAULT_SETTINGS
from helpers.run.session import AUDIT_EVERY, review_queue

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = 0.95
ROUNDS = {"fashion": 5}  # else --rounds


def kept_and_best(labels, truth, accepted, target=TARGET) -> tuple[float, float]:
    """(the share accepted, reviewed images included, if the workbook's own accepted labels
    are at least ``target`` precise, else 0; and the largest share any threshold keeps so).
    The promise is about the workbook's labels: a person's are always accepted, and are
    not allowed to make up for wrong ones."""
    person = labels.known >= 0
    right = labels.label == truth
    auto = accepted & ~person
    kept = accepted.mean() if not auto.any() or right[auto].mean() >= target else 0.0
    open_ = np.flatnonzero(~person)
    order = open_[np.argsort(labels.doubt[open_], kind="stable")]
    share = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(share >= target)
    best = (person.sum() + (ok[-1] + 1 if len(ok) else 0)) / len(labels)
    return float(kept), float(best)


def simulate(steps, truth, rounds: int, per_round: int, run_dir: Path, settings, keep=None):
    """Rounds of reviews from the review queue, each followed by a relabel; a row a round."""
    shutil.rmtree(run_dir, ignore_errors=True)
    session = steps(settings, RunDir(run_dir))
    rows = []
    for r in range(rounds + 1):
        start = time.perf_counter()
        labels, calibration = session.relabel()
        seconds = time.perf_counter() - start
        accepted = labels.accepted(calibration.threshold)
        auto = accepted & (labels.known < 0)
        kept, best = kept_and_best(labels, truth, accepted)
        kept_93, _ = kept_and_best(labels, truth, accepted, 0.93)
        row = {
            "reviews": int((labels.source == "reviewed").sum()),
            "audit_reviews": int(calibration.n_audit),
            "promise": bool(calibration.promised),
            "accuracy_all": float((labels.label == truth).mean()),
            "calibrated_threshold": float(calibration.threshold),
            "accepted_at_calibrated": float(accepted.mean()),
            "precision_of_accepted_auto": float((labels.label == truth)[auto].mean())
            if auto.any()
            else float("nan"),
            "estimated_precision": float(calibration.estimated_precision),
            "kept_at_p95_calibrated": kept,
            "kept_at_p93_calibrated": kept_93,
            "kept_at_p95_best": best,
            "efficiency": float(accepted.mean() / best) if best else float("nan"),
            "relabel_seconds": round(seconds, 2),
        }
        rows.append(row)
        print(f"  {run_dir.name}: {json.dumps(row)}", flush=True)
        if keep is not None:
            _keep_state(keep / f"{run_dir.name}-{r}.npz", labels, calibration, truth)
        if r < rounds:
            queue, is_audit = review_queue(labels, per_round, audited=len(session.audit))
            for i, audit in zip(queue, is_audit, strict=True):
                name = session.class_names[truth[i]]
                session.log.append(str(session.image_ids[i]), name, audit=bool(audit))
    return rows


def _keep_state(path: Path, labels, calibration, truth) -> None:
    """What calibration works from after a round, with the truth, to study it offline."""
    e, a = calibration._examples, calibration._audit
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        score=labels.score,
        right=labels.label == truth,
        known=labels.known,
        doubt=labels.doubt,
        example_score=e.score if e is not None else np.zeros(0),
        example_right=e.correct if e is not None else np.zeros(0, bool),
        audit_score=a.score if a is not None else np.zeros(0),
        audit_right=a.correct if a is not None else np.zeros(0, bool),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--piles", default=",".join(PILES))
    parser.add_argument("--draws", default="0,1,2", help="example draws (seeds)")
    parser.add_argument("--rounds", type=int, default=3, help="(Fashion-MNIST: 5)")
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--keep-states", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    settings = DEFAULT_SETTINGS
    work = ROOT / "runs" / "review-bench"
    report = {
        "command": command("review", argv),
        "commit": commit(),
        "settings": {
            **asdict(settings),
            "audit_every": AUDIT_EVERY,
            "audits_for_a_promise": AUDITS_FOR_A_PROMISE,
        },
        "runs": {},
    }
    for pile in args.piles.split(","):
        for draw in (int(d) for d in args.draws.split(",")):
            steps, truth = prepared(pile, draw)
            report["runs"][f"{pile}, draw {draw}"] = simulate(
                steps,
                truth,
                ROUNDS.get(pile, args.rounds),
                args.per_round,
                work / f"review-{pile}-{draw}",
                settings,
                work / "states" if args.keep_states else None,
            )
            save_report(args.out, "review.json", report)
    report["summary"] = summary(report)
    save_report(args.out, "review.json", report)
    figure = curve(report)
    figure.savefig(Path(args.out) / "review_curve.png", dpi=90, bbox_inches="tight")
    print(format_table(report))
    return 0


MEASURES = (
    "accuracy_all",
    "accepted_at_calibrated",
    "precision_of_accepted_auto",
    "kept_at_p95_calibrated",
    "kept_at_p93_calibrated",
    "kept_at_p95_best",
    "efficiency",
    "relabel_seconds",
)


def summary(report: dict) -> dict:
    """Per pile and round: the mean, lowest and highest of each measure over the draws
    (NaN where no draw has it: nothing of the workbook's own accepted), the audits, and
    how many draws made a promise."""
    out: dict = {}
    for name, rows in report["runs"].items():
        pile = name.split(",")[0]
        for r, row in enumerate(rows):
            step = out.setdefault(pile, {}).setdefault(r, {"reviews": row["reviews"]})
            step["audit_reviews"] = row["audit_reviews"]
            step["promised"] = step.get("promised", 0) + int(row["promise"])
            for key in MEASURES:
                step.setdefault(key, []).append(row[key])
    for rounds in out.values():
        for row in rounds.values():
            for key in MEASURES:
                values = np.asarray(row[key], np.float64)
                seen = values[np.isfinite(values)]
                row[key] = {
                    stat: float(f(seen)) if len(seen) else float("nan")
                    for stat, f in (("mean", np.mean), ("min", np.min), ("max", np.max))
                }
    return out


def curve(report: dict):
    """The share the calibrated threshold accepts, and the best share at 0.95, against the
    number of reviews."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.4))
    for k, (pile, rounds) in enumerate(report["summary"].items()):
        reviews = [row["reviews"] for row in rounds.values()]
        for key, style, what in (
            ("kept_at_p95_best", "o-", "best share at 0.95"),
            ("accepted_at_calibrated", "s--", "accepted at the calibrated threshold"),
        ):
            ax.plot(
                reviews,
                [row[key]["mean"] for row in rounds.values()],
                style,
                color=f"C{k}",
                label=f"{pile}, {what} (mean of draws)",
            )
    ax.set_xlabel("reviews")
    ax.set_ylabel("share of the pile")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("What reviews are worth (the audit round, then least certain first)")
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
        "kept at 0.93, calibrated",
        "kept at 0.95, best threshold",
        "efficiency",
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
