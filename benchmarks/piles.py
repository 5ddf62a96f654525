"""The scoreboard: the workbook with its defaults on every pile with truth in shared data.

- ``fashion``: the 10,000 Fashion-MNIST test images, 10 examples per class drawn from the
  training split (notebook 05's seeded draw; the draw is the seed);
- ``usps``, ``intel-scenes``, ``neu-steel``: the pile copied into one folder under new,
  shuffled names (nothing in a name or a sub-folder tells the class), 5 examples per class
  drawn from it (seeded), and the truth as a path,label CSV.

Each pile is labelled once by the headless workbook (``python -m helpers run``, defaults,
full profile, draw 0's examples): its wall time and peak memory, and its labels.csv read
back. Then every draw is labelled in this process by the same steps notebook 05 takes (the
run directory's weights, codes, description and clusters reused), with the defaults and
with one part changed at a time, to measure what each part adds: the graph on the codes
instead of the description, no Poisson learning, no spreading, Poisson learning alone
(no SSIM), SSIM alone.

Per pile and labelling, means over the draws: accuracy (every image labelled), the best
share any threshold keeps at precision 0.95 (by the workbook's confidence), the share the
calibrated threshold accepts and the precision it delivers. Writes
benchmarks/results/piles.json with the commit, settings and command.

    python -m benchmarks.piles [--piles fashion,usps,intel-scenes,neu-steel] [--draws 0,1,2]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, save_report
from benchmarks.results_page import scoreboard
from helpers.core.config import get_profile
from helpers.labelling.evaluation import label_quality
from helpers.labelling.settings import DEFAULT_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
WORK = ROOT / "runs" / "piles"
FOLDER_PILES = ("usps", "intel-scenes", "neu-steel")
PILES = ("fashion", *FOLDER_PILES)
PER_CLASS = {"fashion": 10}  # else 5
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}
TARGET = 0.95

LABELLINGS = {
    "defaults": DEFAULT_SETTINGS,
    "graph on the codes": replace(DEFAULT_SETTINGS, graph="codes"),
    "no Poisson learning": replace(DEFAULT_SETTINGS, poisson=0.0),
    "no spreading": replace(DEFAULT_SETTINGS, spread=0.0),
    "Poisson learning alone": replace(DEFAULT_SETTINGS, spread=0.0, poisson=1.0),
    "SSIM alone": replace(DEFAULT_SETTINGS, spread=0.0, poisson=0.0),
}


def per_class(pile: str) -> int:
    return PER_CLASS.get(pile, 5)


def scatter(pile: str) -> tuple[Path, Path]:
    """The pile's images copied into one folder under shuffled names, and its truth CSV
    (made once; kept under runs/piles/<pile>)."""
    source = SHARED / pile
    folder, truth = WORK / pile / "images", WORK / pile / "truth.csv"
    if truth.is_file():
        return folder, truth
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in SUFFIXES)
    order = np.random.default_rng(0).permutation(len(files))
    folder.mkdir(parents=True, exist_ok=True)
    rows = [("path", "label")]
    for new, i in enumerate(order):
        name = f"image-{new:05d}{files[i].suffix.lower()}"
        shutil.copyfile(files[i], folder / name)
        rows.append((name, files[i].relative_to(source).parts[0]))
    _write_csv(truth, rows)
    return folder, truth


def examples_csv(pile: str, truth: Path, draw: int) -> Path:
    """``per_class`` examples of each class drawn from the pile with seed ``draw``."""
    with open(truth, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(draw)
    picked = [("path", "label")]
    for label in sorted({r["label"] for r in rows}):
        mine = [r["path"] for r in rows if r["label"] == label]
        picked += [(path, label) for path in rng.choice(mine, per_class(pile), replace=False)]
    path = WORK / pile / f"examples-{draw}.csv"
    _write_csv(path, picked)
    return path


def _write_csv(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def inputs_of(pile: str, draw: int) -> dict:
    """``data``, ``examples``, ``truth`` for the workbook (none for Fashion-MNIST)."""
    if pile == "fashion":
        return {}
    folder, truth = scatter(pile)
    return {
        "data": str(folder),
        "examples": str(examples_csv(pile, truth, draw)),
        "truth": str(truth),
    }


def headless(pile: str) -> dict:
    """``python -m helpers run`` with its defaults on draw 0: seconds, peak memory (of the
    run and its notebook kernels), and labels.csv's own account of the labels."""
    run_dir = WORK / pile / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    args = [sys.executable, "-m", "helpers", "run", "--profile", "full", "--run-dir", str(run_dir)]
    for name, value in inputs_of(pile, 0).items():
        args += [f"--{name}", value]
    # in a process of its own, which reports the peak memory of the run and its kernels
    measured = subprocess.run(
        [sys.executable, "-c", _TIMED, *args], check=True, cwd=ROOT, capture_output=True, text=True
    )
    seconds, peak_kib = json.loads(measured.stdout.strip().splitlines()[-1])
    with open(run_dir / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("true_label")]
    right = np.array([r["label"] == r["true_label"] for r in rows])
    accepted = np.array([r["accepted"] in ("True", "true", "1") for r in rows])
    return {
        "command": " ".join(["python", *args[1:]]).replace(str(ROOT) + "/", ""),
        "seconds": round(seconds, 1),
        "peak_rss_gib": round(peak_kib / 2**20, 2),
        "labels_csv": {
            "accuracy": float(right.mean()),
            "calibrated_share": float(accepted.mean()),
            "delivered_precision": float(right[accepted].mean()) if accepted.any() else None,
        },
    }


_TIMED = """
import json, resource, subprocess, sys, time
start = time.time()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(json.dumps([time.time() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""


def prepared(pile: str, draw: int) -> tuple:
    """Draw ``draw`` of ``pile`` as notebook 05 has it, from the headless run's directory
    (weights, codes, description and clusters reused): ``(steps, truth)``, where
    ``steps(settings, run=None)`` makes the label session with those settings, reviews
    kept in ``run`` (default: the pile's run directory)."""
    from helpers.run.weights import get_autoencoder
    from helpers.run.workflow import (
        get_clusters,
        get_codes,
        get_description,
        get_examples,
        get_reconstructions,
        get_similarity,
        label_session,
        setup,
    )

    profile, run, p = setup("full", str(WORK / pile / "run"), 0, **inputs_of(pile, draw))
    _, encoder, decoder, _ = get_autoencoder(run, profile, p, verbose=0)
    encoded = get_codes(run, encoder, p)
    recon = get_reconstructions(run, decoder, encoded)
    described = get_description(run, p)
    k = len(p.class_names)
    clusters = get_clusters(run, described.points, k)["clusters"]
    examples = get_examples(p, encoder, decoder, per_class(pile), draw, described)
    similarity = get_similarity(run, recon, examples, k)

    def steps(settings, reviews_in=None):
        return label_session(
            reviews_in or run,
            p,
            encoded,
            recon,
            clusters,
            examples,
            similarity,
            settings,
            described,
        )

    return steps, p.y_test


def label_draws(pile: str, draws: list[int]) -> dict:
    """Every draw labelled as notebook 05 labels it, with each of ``LABELLINGS``."""
    rows = {name: [] for name in LABELLINGS}
    for draw in draws:
        steps, truth = prepared(pile, draw)
        for name, settings in LABELLINGS.items():
            start = time.time()
            labels, calibration = steps(settings).relabel()
            rows[name].append(
                measure(labels, calibration.threshold, truth) | {"seconds": time.time() - start}
            )
            print(f"{pile} draw {draw} {name}: {rows[name][-1]}", flush=True)
    return {
        name: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for name, rs in rows.items()
    }


def measure(labels, threshold: float, truth: np.ndarray) -> dict:
    """Accuracy, best share at 0.95, and the calibrated threshold's share and precision."""
    quality = label_quality(labels, truth)
    accepted = labels.accepted(threshold)
    right = labels.label == truth
    return {
        "accuracy": quality["accuracy_all"],
        "best_share_at_95": quality["coverage_at_p95"],
        "calibrated_share": float(accepted.mean()),
        "delivered_precision": float(right[accepted].mean()) if accepted.any() else float("nan"),
    }


def arguments(doc: str) -> argparse.ArgumentParser:
    """The options this benchmark and benchmarks/description.py share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--piles", default=",".join(PILES))
    parser.add_argument("--draws", default="0,1,2")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    return parser


def main(argv=None) -> int:
    args = arguments(__doc__).parse_args(argv)
    piles = [p for p in args.piles.split(",") if p]
    draws = [int(d) for d in args.draws.split(",")]
    report = {
        "commit": commit(),
        "command": command("piles", argv),
        "draws": draws,
        "examples_per_class": {p: per_class(p) for p in piles},
        "profile": asdict(get_profile("full")),
        "settings": {name: asdict(s) for name, s in LABELLINGS.items()},
        "piles": {},
    }
    for pile in piles:
        headless_run = headless(pile)
        print(f"{pile} headless: {headless_run}", flush=True)
        report["piles"][pile] = {"headless": headless_run, "labellings": label_draws(pile, draws)}
        save_report(args.out, "piles.json", report)  # what is done so far
    print("\n".join(scoreboard("piles.json", report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
