"""A relabel after a round of reviews, on a run directory the headless run left (the
million-image pile, say): how long opening the session takes, the first relabel, and each
relabel after ``--per-round`` more reviews, stage by stage.

    python -m benchmarks.relabel --run-dir runs/pile-bench/run-augmented-1000000 [--rounds 3]
        [--per-round 20] [--pace 2] [--baseline ../other-checkout --baseline-run-dir DIR]

``--baseline``: first the same with another checkout's code (an earlier commit, from ``git
worktree add``) on the run directory its headless run left, then this one's, one after the
other on this machine, with the ratio of their median relabel times.

Reviews come at ``--pace`` seconds each, as a person's do, and each is passed to
``session.score_ahead`` as the review bar passes it: its SSIM column is scored in the
background meanwhile. ``--pace 0``: the reviews all at once, every column scored in the
relabel. The reviews go to a copy of the run's ``reviews.csv`` that is put back afterwards: the run
directory is left as it was found. Each review gives a seeded random image the class it is
labelled with now (what the labels are does not change what a relabel costs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import ROOT, commit, save_report

HERE = Path(__file__).resolve().parent


def measure(run_dir: Path, rounds: int, per_round: int, pace: float, seed: int = 0) -> dict:
    from helpers.core.run_dir import REVIEWS
    from helpers.run.reviews import ReviewLog
    from helpers.run.workflow import open_session

    reviews = run_dir / REVIEWS
    kept = run_dir / f".{REVIEWS}.before-benchmark"
    if reviews.exists():
        shutil.copy2(reviews, kept)
    try:
        start = time.perf_counter()
        session, split = open_session(str(run_dir))
        opened = time.perf_counter() - start
        start = time.perf_counter()
        labels, _ = session.relabel()
        first = time.perf_counter() - start
        rng = np.random.default_rng(seed)
        log, times = ReviewLog(reviews), []
        for _ in range(rounds):
            for i in rng.choice(len(split.test_ids), per_round, replace=False):
                log.append(str(split.test_ids[i]), split.class_names[labels.label[i]])
                session.score_ahead([i])
                time.sleep(pace)
            start = time.perf_counter()
            labels, _ = session.relabel()
            times.append(round(time.perf_counter() - start, 1))
            print(f"relabel after {per_round} more reviews: {times[-1]} s", flush=True)
    finally:
        if kept.exists():
            os.replace(kept, reviews)
        else:
            reviews.unlink(missing_ok=True)
    return {
        "images": len(split.test_ids),
        "open_session_seconds": round(opened, 1),
        "first_relabel_seconds": round(first, 1),
        "reviews_per_round": per_round,
        "seconds_per_review": pace,
        "relabel_after_reviews_seconds": times,
        "reconstructions_on_disk": session.reconstructions.on_disk is not None,
    }


def baseline(checkout: Path, run_dir: Path, rounds: int, per_round: int) -> dict:
    """This benchmark as ``checkout`` has it, with its code, on ``run_dir``."""
    with tempfile.TemporaryDirectory() as out:
        arguments = ["--run-dir", str(run_dir), "--rounds", str(rounds)]
        arguments += ["--per-round", str(per_round), "--out", out]
        subprocess.run(
            [sys.executable, "-m", "benchmarks.relabel", *arguments],
            env={**os.environ, "PYTHONPATH": str(checkout)},
            cwd=checkout,
            check=True,
        )
        return json.loads((Path(out) / "relabel.json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--pace", type=float, default=2.0, help="seconds a review takes")
    parser.add_argument("--baseline", default=None, help="another checkout, run first")
    parser.add_argument("--baseline-run-dir", default=None, help="its run directory")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    earlier = None
    if args.baseline:
        checkout, other_run = Path(args.baseline).resolve(), Path(args.baseline_run_dir).resolve()
        earlier = baseline(checkout, other_run, args.rounds, args.per_round)
        print(earlier, flush=True)
    report = {
        "commit": commit(),
        "command": "python -m benchmarks.relabel --run-dir "
        f"{os.path.relpath(run_dir, ROOT)} --rounds {args.rounds} --per-round {args.per_round} "
        f"--pace {args.pace}",
        "machine": f"{os.cpu_count()} CPU cores",
        **measure(run_dir, args.rounds, args.per_round, args.pace),
    }
    if earlier is not None:
        report["command"] += (
            f" --baseline {args.baseline} --baseline-run-dir {args.baseline_run_dir}"
        )
        report["baseline"] = earlier
        report["time_over_baseline"] = round(
            float(np.median(report["relabel_after_reviews_seconds"]))
            / float(np.median(earlier["relabel_after_reviews_seconds"])),
            3,
        )
    save_report(args.out, "relabel.json", report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
