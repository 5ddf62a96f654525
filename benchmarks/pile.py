"""A pile of your own: how long each step takes, and how much memory, on this machine.
Three sub-commands, one job each; each adds its part to ``results/pile.json``.

    python -m benchmarks.pile steps [--sizes 10000,30000,100000] [--root runs/pile-bench]

writes Fashion-MNIST's 70,000 images as files (PNG and JPEG, three sizes, grey and colour,
nested folders) plus copies up to the largest size, and 10 examples per class (from the
training split) as class folders. Then, for each size, in a fresh process, runs the
workbook's steps as the notebooks do (read the folder, train with the default epochs for
its size, encode, cluster, score against the examples, label, calibrate) and reports each
step's seconds and the process's peak memory. Also, once: the test split written as PNG
files, labelled through the folder path with the shipped weights, against the array path.

    python -m benchmarks.pile engines --engine local,ray,ray-2-nodes [--sizes 100000]

times only the per-image map (read, decode, encode, decode the codes, SSIM against the 100
examples) on the piles of ``--sizes``, shipped weights, each engine in a fresh process,
alternately: images/s, Ray's overhead against local (a Ray started here, and a cluster of
two nodes of one CPU each), and the peak memory of the driver process.

    python -m benchmarks.pile headless 1000000 [--baseline ../other-checkout]
        [--baseline-only | --kept-baseline]

writes that many 28x28 PNG files (Fashion-MNIST's 70,000, then copies rolled, mirrored and
noisy) and labels them with ``python -m helpers run`` in a subprocess: wall time, peak
memory of the run and its kernels, seconds per notebook and per cell that took more than
5 s (from the executed notebooks). ``--baseline``: first the same with another checkout's
``helpers`` (an earlier commit, say, from ``git worktree add``), then this one's, one
after the other on this machine, with the ratio of their times. ``--baseline-only`` measures
the other checkout alone and keeps its result; a later ``--kept-baseline`` run (the same
session, the same machine) measures this checkout and sets the two side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import ROOT, command, commit, markdown_table, save_report

HERE = Path(__file__).resolve().parent
SELF = [sys.executable, "-m", "benchmarks.pile"]  # a fresh process of this benchmark


def write_pile(root: Path, n: int) -> None:
    """``n`` image files made from Fashion-MNIST (train + test, then copies)."""
    from PIL import Image

    from helpers.data.fashion_mnist import load_fashion_mnist

    done = root / f".written-{n}"
    if done.is_file():
        return
    (x_train, _), (x_test, _) = load_fashion_mnist()
    images = np.concatenate([x_test, x_train])
    for i in range(n):
        image = Image.fromarray(images[i % len(images)])
        folder = root / f"part{i % 7}" / f"{(i // 1000):03d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 4
        if kind == 0:
            image.save(folder / f"{i:06d}.png")
        elif kind == 1:
            image.resize((56, 56)).save(folder / f"{i:06d}.jpg", quality=90)
        elif kind == 2:
            image.convert("RGB").resize((42, 28)).save(folder / f"{i:06d}.png")
        else:
            image.resize((84, 84)).convert("RGB").save(folder / f"{i:06d}.jpg", quality=90)
    done.write_text("")


def write_augmented_pile(root: Path, n: int, seed: int = 0) -> None:
    """``n`` 28x28 grey PNG files: Fashion-MNIST's 70,000 images, each copy rolled (wrapping
    round) by up to 3 pixels, mirrored half of the time and given a little noise (1,000
    files a folder)."""
    from PIL import Image

    from helpers.data.fashion_mnist import load_fashion_mnist

    done = root / f".written-{n}"
    if done.is_file():
        return
    (x_train, _), (x_test, _) = load_fashion_mnist()
    images = np.concatenate([x_test, x_train])
    rng = np.random.default_rng(seed)
    for start in range(0, n, 1000):
        folder = root / f"part{start // 100_000}" / f"{(start // 1000) % 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(n, start + 1000)):
            image = images[i % len(images)]
            if i >= len(images):
                dy, dx = rng.integers(-3, 4, 2)
                image = np.roll(image, (dy, dx), axis=(0, 1))
                image = image[:, ::-1] if rng.random() < 0.5 else image
                image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(folder / f"{i:07d}.png", compress_level=1)
    done.write_text("")


def write_examples(root: Path) -> None:
    from PIL import Image

    from helpers.data.fashion_mnist import CLASS_NAMES, choose_examples, load_fashion_mnist

    if root.is_dir():
        return
    (x_train, y_train), _ = load_fashion_mnist()
    for i in choose_examples(y_train, 10, seed=0):
        folder = root / CLASS_NAMES[y_train[i]].replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x_train[i]).save(folder / f"{i}.png")


def one_size(pile: Path, examples: Path, run_dir: Path) -> dict:
    """The workbook's steps on one pile, timed, in this process."""
    from helpers.labelling.calibration import calibrate_threshold
    from helpers.labelling.held_out import PileScores
    from helpers.labelling.labels import label_images
    from helpers.labelling.scoring import Reconstructions
    from helpers.run.weights import get_autoencoder
    from helpers.run.workflow import get_clusters, get_codes, get_examples, get_similarity, setup

    seconds = {}

    def step(name, fn):
        start = time.perf_counter()
        out = fn()
        seconds[name] = round(time.perf_counter() - start, 1)
        return out

    start = time.perf_counter()
    profile, run, split = step(
        "read",
        lambda: setup("full", run_dir, follow_run=False, data=str(pile), examples=str(examples)),
    )
    ae, enc, dec, info = step("train", lambda: get_autoencoder(run, profile, split, verbose=0))
    encoded = step("encode", lambda: get_codes(run, enc, split))
    k = len(split.class_names)
    clusters = step("cluster", lambda: get_clusters(run, encoded["codes"], k)["clusters"])

    def score():
        ex = get_examples(split, enc, dec, per_class=10)
        return ex, get_similarity(run, Reconstructions(dec, encoded["codes"]), ex, k)

    examples_, sim = step("score", score)

    def label():
        labels = label_images(
            sim, examples_.labels, k, encoded["codes"], clusters, example_codes=examples_.codes
        )
        pile_scores = PileScores(sim, encoded["codes"], examples_.codes)
        return calibrate_threshold(
            labels, examples_.reconstructions, examples_.labels, pile=pile_scores
        )

    step("label + calibrate", label)
    return {
        "images": len(split.x_test),
        "skipped": len(split.skipped),
        "epochs": len(info.get("history", {}).get("loss", [])),
        "seconds": seconds,
        "read_images_per_s": round(len(split.x_test) / max(seconds["read"], 1e-9)),
        "train_seconds_per_epoch": round(
            seconds["train"] / max(1, len(info["history"]["loss"])), 1
        ),
        "total_seconds": round(time.perf_counter() - start, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def folder_against_arrays(root: Path) -> dict:
    """Fashion-MNIST's 10,000 test images as PNG files, labelled through the folder path and
    the array path with the shipped weights: precision and coverage at the calibrated
    threshold, 10 examples per class as class folders."""
    from PIL import Image

    from helpers.data.fashion_mnist import choose_examples, load_fashion_mnist, to_float_images
    from helpers.labelling.calibration import calibrate_threshold
    from helpers.labelling.cluster import cluster_codes
    from helpers.labelling.evaluation import evaluate
    from helpers.labelling.held_out import PileScores
    from helpers.labelling.labels import label_images
    from helpers.model.autoencoder import encode, load_weights, reconstruct, shipped_weights_path
    from helpers.run.workflow import setup
    from helpers.ssim import pairwise_ssim

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    pile = root / "test-png"
    if not (pile / ".written").is_file():
        for i, image in enumerate(x_test):
            folder = pile / f"{i // 1000}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:05d}.png")
        (pile / ".written").write_text("")
        lines = ["path,label"] + [f"{i // 1000}/{i:05d}.png,{int(c)}" for i, c in enumerate(y_test)]
        (root / "test-truth.csv").write_text("\n".join(lines) + "\n")
    ae, enc, _ = load_weights(shipped_weights_path())
    idx = choose_examples(y_train, 10, seed=0)

    def measure(images, truth, ex_images, ex_labels):
        codes, recon = encode(enc, images), reconstruct(ae, images)
        ex_recon = reconstruct(ae, ex_images)
        sim = pairwise_ssim(recon, ex_recon)
        ex_codes = encode(enc, ex_images)
        labels = label_images(
            sim, ex_labels, 10, codes, cluster_codes(codes, 10), example_codes=ex_codes
        )
        cal = calibrate_threshold(
            labels, ex_recon, ex_labels, pile=PileScores(sim, codes, ex_codes)
        )
        r = evaluate(labels, truth, cal.threshold)
        return {k: r[k] for k in ("threshold", "accepted", "coverage", "precision")}

    arrays = measure(to_float_images(x_test), y_test, to_float_images(x_train[idx]), y_train[idx])
    examples = root / "examples-digits"
    if not examples.is_dir():
        for i in idx:  # class folders named 0-9, so folder order is class order
            (examples / str(y_train[i])).mkdir(parents=True, exist_ok=True)
            Image.fromarray(x_train[i]).save(examples / str(y_train[i]) / f"{i}.png")
    _, _, split = setup(
        "full",
        root / "run-test-png",
        follow_run=False,
        data=str(pile),
        examples=str(examples),
        truth=str(root / "test-truth.csv"),
    )
    folder = measure(split.x_test, split.y_test, *split.labelled_images())
    return {"arrays": arrays, "folder": folder}


def per_image_map(
    pile: Path, examples: Path, engine: str, size: int = 28, color: str = "grey"
) -> dict:
    """The per-image work on one pile with one engine, in this process: ``local``, ``ray``
    (a Ray started here) or ``ray-2-nodes`` (a head and a worker node of one CPU each,
    ``ray.cluster_utils.Cluster``). On Ray the decoded pile goes to a memory-mapped file, as
    notebook 01 does it; the driver's anonymous memory (not the mapped file's pages) is
    sampled through the run."""
    from helpers.core.config import get_profile
    from helpers.data.folders import folder_from_results, read_files
    from helpers.data.images import ImageFormat
    from helpers.data.inputs import Inputs, read_examples
    from helpers.data.pile import pile_files
    from helpers.data.read_on_ray import read_files_on_ray
    from helpers.labelling.scoring import Reconstructions, score_images_on_ray
    from helpers.model.autoencoder import (
        build_autoencoder,
        decode,
        encode,
        load_weights,
        shipped_weights_path,
    )

    fmt = ImageFormat(size, color)
    if fmt == ImageFormat():
        _, enc, dec = load_weights(shipped_weights_path())
    else:  # no weights of that shape: a seeded model costs the same
        _, enc, dec = build_autoencoder(fmt.shape, seed=0)
    root, files, _ = pile_files(get_profile("full"), 0, Inputs(str(pile), str(examples)))
    some = read_files(root, files[:1], fmt)  # read_examples wants a pile
    targets = decode(dec, encode(enc, read_examples(examples, some, fmt).images))
    cluster, address = None, None
    if engine == "ray-2-nodes":
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        address = cluster.address
    sampler = AnonymousMemory()
    start = time.perf_counter()
    try:
        if engine == "local":
            folder = read_files(root, files, fmt)
            codes = encode(enc, folder.images)
            Reconstructions(dec, codes, keep_up_to=0).similarity(targets)
        else:
            mapped = pile.parent / f".{pile.name}-{engine}.npy"
            into = np.lib.format.open_memmap(mapped, "w+", np.uint8, (len(files), *fmt.shape))
            results = read_files_on_ray(files, fmt, into, address)
            folder = folder_from_results(root, files, results, into)
            score_images_on_ray(folder.images, enc, dec, targets, 1.0, address)
            del into
            mapped.unlink()
    finally:
        seconds = time.perf_counter() - start
        if cluster is not None:
            cluster.shutdown()
        sampler.stop()
    n = len(folder.images)
    return {
        "engine": engine,
        "images": n,
        "format": f"{size} {color}",
        "skipped": len(folder.skipped),
        "seconds": round(seconds, 1),
        "images_per_s": round(n / seconds),
        "driver_peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "driver_peak_anonymous_gib": round(sampler.peak / 2**30, 2),
        "decoded_pile_gib": round(folder.images.nbytes / 2**30, 3),
    }


class AnonymousMemory:
    """The peak of this process's anonymous memory (``RssAnon``: its heap, not the pages of
    files it maps), sampled every 0.2 s in a thread."""

    def __init__(self, every: float = 0.2):
        import threading

        self.peak, self._done = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _watch(self, every: float) -> None:
        while not self._done.wait(every):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def engines(
    root: Path, sizes: list[int], names: list[str], out: Path, rounds: int, size: int, color: str
) -> dict:
    """``per_image_map`` for each size and engine, alternately, in fresh processes."""
    saved = out / "pile.json"
    report = json.loads(saved.read_text()) if saved.is_file() else {"sizes": {}}
    result, made_at = {}, commit()
    for n in sizes:
        write_pile(root / f"pile-{n}", n)
        runs = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                child = [*SELF, "engines", "--map", str(n), "--engine", name]
                child += ["--image-size", str(size), "--color", color, "--root", str(root)]
                done = subprocess.run(child, capture_output=True, text=True, cwd=ROOT)
                if done.returncode:
                    raise RuntimeError(done.stdout[-2000:] + done.stderr[-3000:])
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(runs[name][-1]), flush=True)
        rate = {
            name: float(np.median([r["images_per_s"] for r in rs])) for name, rs in runs.items()
        }
        result[n] = {"runs": runs, "median_images_per_s": rate}
        for name in names:
            if name != "local" and "local" in rate:
                result[n][f"{name}_time_over_local"] = round(rate["local"] / rate[name], 2)
    engines = report.get("engines", {})
    if "sizes" in engines:  # the layout before formats: one engines run, 28 grey
        engines = {}
    engines[f"{size} {color}"] = {
        "commit": made_at,
        "command": f"python -m benchmarks.pile engines --engine {','.join(names)} --sizes "
        f"{','.join(map(str, sizes))} --rounds {rounds} --image-size {size} --color {color}",
        "machine": f"{os.cpu_count()} CPU cores",
        "sizes": result,
    }
    report["engines"] = engines
    save_report(out, "pile.json", report)
    return engines[f"{size} {color}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    steps_ = modes.add_parser("steps", help="each step's time and memory at --sizes files")
    steps_.add_argument("--sizes", default="10000,30000,100000")
    steps_.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    engines_ = modes.add_parser("engines", help="the per-image map on each engine")
    engines_.add_argument("--engine", default="local,ray", help="local,ray,ray-2-nodes")
    engines_.add_argument("--sizes", default="100000")
    engines_.add_argument("--rounds", type=int, default=1, help="runs of each engine")
    engines_.add_argument("--image-size", type=int, default=28)
    engines_.add_argument("--color", default="grey", help="grey or rgb")
    engines_.add_argument("--map", type=int, default=None, help=argparse.SUPPRESS)
    headless_ = modes.add_parser("headless", help="the whole workbook on N files, headless")
    headless_.add_argument("files", type=int)
    headless_.add_argument("--baseline", default=None, help="another checkout, run first")
    headless_.add_argument(
        "--baseline-only", action="store_true", help="measure --baseline alone, and keep it"
    )
    headless_.add_argument(
        "--kept-baseline", action="store_true", help="the baseline a --baseline-only run kept"
    )
    for mode in (steps_, engines_, headless_):
        mode.add_argument("--root", default="runs/pile-bench")
        mode.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    write_examples(root / "examples")
    if args.mode == "engines" and args.map is not None:  # the child: one engine, one size
        result = per_image_map(
            root / f"pile-{args.map}", root / "examples", args.engine, args.image_size, args.color
        )
        print(json.dumps(result))
        return 0
    if args.mode == "engines":
        sizes = [int(s) for s in args.sizes.split(",")]
        names = args.engine.split(",")
        result = engines(
            root, sizes, names, Path(args.out), args.rounds, args.image_size, args.color
        )
        print(json.dumps(result, indent=1))
        return 0
    if args.mode == "headless":
        saved = Path(args.out) / "pile.json"
        report = json.loads(saved.read_text()) if saved.is_file() else {"sizes": {}}
        baseline, kept = None, report.get("headless", {}).get(str(args.files), {})
        if args.kept_baseline:
            baseline = kept["kept_baseline"]
        elif args.baseline:
            baseline = headless(root, args.files, Path(args.baseline).resolve())
            print(json.dumps(baseline, indent=1), flush=True)
        if args.baseline_only:
            kept["kept_baseline"] = baseline
            report.setdefault("headless", {})[str(args.files)] = kept
            save_report(args.out, "pile.json", report)
            return 0
        result = headless(root, args.files)
        if baseline is not None:
            result["baseline"] = baseline
            result["time_over_baseline"] = round(
                result["total_seconds"] / baseline["total_seconds"], 3
            )
        report.setdefault("headless", {})[str(args.files)] = result
        save_report(args.out, "pile.json", report)
        plot(report, Path(args.out) / "pile.png")
        print(json.dumps(result, indent=1))
        return 0
    if args.one is not None:  # the child: one size
        result = one_size(root / f"pile-{args.one}", root / "examples", root / f"run-{args.one}")
        print(json.dumps(result))
        return 0
    return steps(root, [int(s) for s in args.sizes.split(",")], Path(args.out), argv)


def steps(root: Path, sizes: list[int], out: Path, argv) -> int:
    """``one_size`` at each size, each in a fresh process, and the folder against arrays."""
    saved = out / "pile.json"  # sizes measured earlier stay, unless measured again
    earlier = json.loads(saved.read_text()) if saved.is_file() else {}
    report = {**earlier, "command": command("pile", argv), "commit": commit()}
    kept = earlier.get("sizes", {}).items()
    report["sizes"] = {int(n): r for n, r in kept if int(n) not in sizes}
    report["machine"] = f"{os.cpu_count()} CPU cores"
    report["folder_against_arrays"] = folder_against_arrays(root)
    print(json.dumps(report["folder_against_arrays"]), flush=True)
    for n in sizes:
        t = time.perf_counter()
        write_pile(root / f"pile-{n}", n)
        print(f"wrote {n} files in {time.perf_counter() - t:.0f} s", flush=True)
        done = subprocess.run(
            [*SELF, "steps", "--one", str(n), "--root", str(root)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode:
            print(done.stderr[-3000:])
            return done.returncode
        report["sizes"][n] = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(report["sizes"][n]), flush=True)
        report["sizes"] = dict(sorted(report["sizes"].items()))
        save_report(out, "pile.json", report)
    plot(report, out / "pile.png")
    print(format_table(report))
    return 0


def headless(root: Path, n: int, checkout: Path | None = None) -> dict:
    """The whole workbook, headless, on ``n`` augmented files: time and peak memory; with
    ``checkout``, that checkout's ``helpers`` (into a run directory of its own)."""
    pile, run_dir = root / f"augmented-{n}", root / f"run-augmented-{n}"
    start = time.perf_counter()
    write_augmented_pile(pile, n)
    print(f"{n:,} files ready in {time.perf_counter() - start:.0f} s", flush=True)
    began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    made_at, env, cwd = commit(), None, None
    if checkout is not None:
        made_at = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env, cwd = {**os.environ, "PYTHONPATH": str(checkout)}, checkout
        run_dir = root / f"run-augmented-{n}-{made_at}"
    workbook = [sys.executable, "-m", "helpers", "run", "--data", str(pile)]
    workbook += ["--examples", str(root / "examples"), "--run-dir", str(run_dir)]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _TIMED, *workbook], capture_output=True, text=True, env=env, cwd=cwd
    )
    seconds = time.perf_counter() - start
    code, peak_kib = json.loads(done.stdout.strip().splitlines()[-1])
    if code:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-3000:])
    notebooks = {}
    for line in done.stdout.splitlines():
        name, _, rest = line.partition(": ")
        if name[:2].isdigit() and rest.endswith(" s"):
            notebooks[name] = float(rest[:-2])
    return {
        "images": n,
        "commit": made_at,
        "began": began,
        "command": " ".join(
            os.path.relpath(c, ROOT) if c.startswith("/") else c for c in workbook[1:]
        ),
        "total_seconds": round(seconds, 1),
        "peak_rss_gib": round(peak_kib / 2**20, 2),
        "notebook_seconds": notebooks,
        "slow_cells": slow_cells(run_dir / "notebooks"),
    }


# Runs a command and prints its exit code and peak memory (KiB, of it and its children: a
# process of its own per run, so that two runs measured one after the other each get theirs).
_TIMED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:])
print(json.dumps([done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""


def slow_cells(folder: Path, over: float = 5.0) -> list[dict]:
    """Cells of the executed notebooks that took more than ``over`` seconds."""
    from datetime import datetime

    out = []
    for path in sorted(folder.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            timing = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
                continue
            began, ended = (
                datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            if (ended - began).total_seconds() > over:
                source = "".join(cell["source"]).strip().splitlines()
                code = next(
                    (
                        line
                        for line in source
                        if line.strip() and not line.startswith(("%", "from ", "import "))
                    ),
                    "",
                )
                out.append(
                    {
                        "notebook": path.stem,
                        "seconds": round((ended - began).total_seconds(), 1),
                        "cell": code[:80],
                    }
                )
    return out


def plot(report: dict, path: Path) -> Path:
    """Time and peak memory against pile size, log-log: steps in-process and headless runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    series = [
        ("steps in one process (earlier code)", report.get("sizes", {}), "o-"),
        ("headless, all five notebooks", report.get("headless", {}), "s--"),
    ]
    for name, runs, style in series:
        if not runs:
            continue
        n = sorted(int(k) for k in runs)
        left.plot(
            n,
            [runs[str(k) if str(k) in runs else k]["total_seconds"] for k in n],
            style,
            label=name,
        )
        right.plot(
            n, [runs[str(k) if str(k) in runs else k]["peak_rss_gib"] for k in n], style, label=name
        )
    for ax, what in ((left, "wall time, s"), (right, "peak memory, GiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("images in the pile")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    left.axhline(1800, color="grey", lw=0.8)
    left.text(1.2e4, 1900, "30 min", fontsize=8, color="grey")
    right.axhline(4, color="grey", lw=0.8)
    right.text(1.2e4, 4.2, "4 GiB", fontsize=8, color="grey")
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def format_table(report: dict) -> str:
    steps = ["read", "train", "encode", "cluster", "score", "label + calibrate"]
    rows = []
    for n, r in report["sizes"].items():
        s = r["seconds"]
        rows.append(
            [
                f"{int(n):,}",
                f"{r['read_images_per_s']:,}",
                f"{r['epochs']} x {r['train_seconds_per_epoch']}",
            ]
            + [str(s[k]) for k in steps[2:]]
            + [str(r["total_seconds"]), f"{r['peak_rss_gib']}"]
        )
    header = ["images", "read, img/s", "train, epochs x s", "encode, s", "cluster, s", "score, s"]
    header += ["label + calibrate, s", "total, s", "peak memory, GiB"]
    return "\n".join(markdown_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
