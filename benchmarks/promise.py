"""How the threshold's promise is kept, by its two settings, on the review benchmark's states.

``python -m benchmarks.review --keep-states`` keeps, after every round of every pile and
draw, what calibration works from: the pile's confidences, the held-out examples and
audits (right or wrong), and the truth. The review queue does not depend on where the
threshold is, so every way of placing it can be judged on the same states without
relabelling: ``helpers.labelling.precision.PrecisionEstimate`` with each
``MODEL_LABELS`` (what the model's estimate is worth, in fair labels) and
``PROMISE_FLOOR`` (what the 90% interval's lower end must reach once the audit round is
in; before it, the target itself), and one variant whose guess uses the floor too.

Per pile and round, means over the draws: the precision the workbook's own accepted labels
deliver (and the lowest draw), the share accepted and the efficiency (accepted / the best
share any threshold keeps at 0.95); for Fashion-MNIST the kept share at 0.93 and its
largest fall from one round to the next after the first. Writes
benchmarks/results/promise.json.

    python -m benchmarks.promise [--states runs/review-bench/states]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, save_report
from helpers.labelling import precision as P
from helpers.labelling.calibration import AUDITS_FOR_A_PROMISE
from helpers.labelling.precision import HeldOut, PrecisionEstimate, precision_model

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.95
VARIANTS = {
    f"model {k:g}, floor {f:g}": (k, f, False)
    for k in (20.0, 40.0, 80.0, 160.0)
    for f in (0.90, 0.91, 0.92, 0.95)
} | {"model 80, floor 0.91, the guess too": (80.0, 0.91, True)}


def load(folder: Path) -> dict:
    states = {}
    for path in sorted(folder.glob("review-*.npz")):
        pile, draw, r = re.fullmatch(r"review-(.+)-(\d+)-(\d+)", path.stem).groups()
        states[(pile, int(draw), int(r))] = dict(np.load(path))
    return states


def threshold(state: dict, model_labels: float, floor: float, guess_floor: bool) -> float:
    """Where the workbook's calibration puts the threshold with these settings."""
    open_ = state["known"] < 0
    examples = HeldOut(state["example_score"], state["example_right"])
    audit = HeldOut(state["audit_score"], state["audit_right"])
    audit = audit if len(audit) else None
    before = P.MODEL_LABELS
    P.MODEL_LABELS = model_labels
    try:
        estimate = PrecisionEstimate(precision_model(examples, audit), state["score"][open_], audit)
        promised = len(state["audit_score"]) >= AUDITS_FOR_A_PROMISE
        return estimate.threshold(TARGET, floor if promised or guess_floor else TARGET)
    finally:
        P.MODEL_LABELS = before


def measure(state: dict, t: float) -> dict:
    """Delivered precision, accepted share, best share at 0.95, kept share at 0.93."""
    person = state["known"] >= 0
    right = state["right"]
    auto = ~person & (state["score"] >= t)
    accepted = float((auto | person).mean())
    open_ = np.flatnonzero(~person)
    order = open_[np.argsort(state["doubt"][open_], kind="stable")]
    ok = np.flatnonzero(np.cumsum(right[order]) / np.arange(1, len(order) + 1) >= TARGET)
    best = (person.sum() + (ok[-1] + 1 if len(ok) else 0)) / len(right)
    delivered = float(right[auto].mean()) if auto.any() else float("nan")
    return {
        "delivered": delivered,
        "accepted": accepted,
        "efficiency": accepted / best if best else float("nan"),
        "kept_at_93": accepted if not auto.any() or delivered >= 0.93 else 0.0,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", default=str(ROOT / "runs" / "review-bench" / "states"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    states = load(Path(args.states))
    if not states:
        print(f"no states in {args.states}: run python -m benchmarks.review --keep-states")
        return 1
    piles = sorted({p for p, _, _ in states})
    report = {
        "commit": commit(),
        "command": command("promise", argv),
        "states": "python -m benchmarks.review --keep-states",
        "defaults": {"model_labels": P.MODEL_LABELS, "promise_floor": P.PROMISE_FLOOR},
        "variants": {},
    }
    for name, (k, floor, guess) in VARIANTS.items():
        rows = {key: measure(s, threshold(s, k, floor, guess)) for key, s in states.items()}
        out = {}
        for pile in piles:
            rounds = sorted({r for p, _, r in rows if p == pile})
            out[pile] = []
            for r in rounds:
                draws = [rows[(pile, d, r)] for p, d, rr in rows if p == pile and rr == r]
                delivered = [x["delivered"] for x in draws if np.isfinite(x["delivered"])]
                out[pile].append(
                    {
                        "round": r,
                        "delivered": float(np.mean(delivered)) if delivered else None,
                        "delivered_lowest": float(min(delivered)) if delivered else None,
                        **{
                            key: float(np.mean([x[key] for x in draws]))
                            for key in ("accepted", "efficiency", "kept_at_93")
                        },
                    }
                )
        report["variants"][name] = out
        print(
            name,
            {p: [(x["delivered"], round(x["accepted"], 3)) for x in v] for p, v in out.items()},
        )
    save_report(args.out, "promise.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
