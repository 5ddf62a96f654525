"""Speed against the tutorial's code, measured side by side in one run on this machine.

1. Pairwise SSIM (pairs/s), 10,000 reconstructions x 100 examples: the tutorial's loop (one
   ``tf.image.ssim`` call per pair, timed on 2,000 pairs) against
   ``helpers.ssim.pairwise_ssim``, alternately, ``--rounds`` times; with the largest
   difference from ``tf.image.ssim`` on real images.
2. Training throughput (images/s, the same architecture): the tutorial's code (``model.fit``
   on arrays, batch 64, its loss ``1 - mean(tf.image.ssim(..., 2.0))``, TensorFlow's default
   CPU kernels) against ``helpers.model.training.train`` with the workbook's recipe
   (``FAST_RECIPE``: bfloat16 compute where the CPU has it). TensorFlow reads its kernel
   setting once per process, so every round of each side is a fresh process, alternately,
   ``--rounds`` times on ``--images`` images.
3. Time to the tutorial's quality (``--full``): the workbook's recipe trained on all 60,000
   training images, its wall time and test-set SSIM (max_val 1.0), against the tutorial's 20
   epochs at the tutorial's measured throughput (20 x 60,000 images / its median images/s)
   and the SSIM its 20 epochs reached (the shipped weights).

Medians with the spread (lowest-highest) over the rounds; the machine is shared, so one
round can be off by 2x.

    python -m benchmarks.speed [--rounds 5] [--images 6400] [--full]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import command, markdown_table, save_report, summary

HERE = Path(__file__).resolve().parent

TRAIN_SNIPPET = r"""
import json, os, sys, time
side, n = sys.argv[1], int(sys.argv[2])
if side == "tutorial":
    import tensorflow as tf  # before helpers: TensorFlow's own kernel default
import numpy as np
import helpers.model.autoencoder as M
import helpers.model.training as T
from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images
(x, _), _ = load_fashion_mnist()
x = x[: n + 640]
if side == "tutorial":
    import keras
    import tensorflow as tf
    x = to_float_images(x)
    ae, _, _ = M.build_autoencoder()
    def SSIMLoss(y_true, y_pred):  # the tutorial's loss, verbatim
        return 1 - tf.reduce_mean(tf.image.ssim(y_true, y_pred, 2.0))
    ae.compile(optimizer="adam", loss=SSIMLoss)
    fit = lambda images: ae.fit(images, images, epochs=1, batch_size=64, verbose=0)
else:
    from dataclasses import replace
    x = x[..., None]  # the workbook keeps images as uint8
    ae, _, _ = M.build_autoencoder()
    recipe = replace(T.FAST_RECIPE, epochs=1)  # its batch size, precision, schedule
    fit = lambda images: T.train(ae, images, recipe, verbose=0)
fit(x[:640])  # warm up: build, trace, first allocations
t = time.perf_counter(); fit(x[640:]); dt = time.perf_counter() - t
print(json.dumps({"side": side, "images_per_s": n / dt,
                  "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}))
"""


def training(images: int, rounds: int) -> dict:
    seen = {"tutorial": [], "ours": []}
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for r in range(rounds):
        for side in ("tutorial", "ours") if r % 2 == 0 else ("ours", "tutorial"):
            out = subprocess.run(
                [sys.executable, "-c", TRAIN_SNIPPET, side, str(images)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  training, {side:8s}: {result['images_per_s']:7.0f} img/s", flush=True)
            seen[side].append(result["images_per_s"])
    ratios = [o / t for o, t in zip(seen["ours"], seen["tutorial"], strict=True)]
    return {
        "tutorial": summary(seen["tutorial"]),
        "ours": summary(seen["ours"]),
        "ratio": summary(ratios),
    }


def pairwise(rounds: int, loop_pairs: int = 2000) -> dict:
    import tensorflow as tf

    from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images
    from helpers.ssim import pairwise_ssim

    (x_train, _), (x_test, _) = load_fashion_mnist()
    a, b = to_float_images(x_test), to_float_images(x_train[:100])
    tf.image.ssim(a[:1], b[:1], 1.0)  # warm up
    pairwise_ssim(a[:600], b)  # warm up: compiles the block
    seen = {"tutorial_loop": [], "ours": []}
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(loop_pairs):  # the tutorial: one pair per call
            tf.image.ssim(a[i : i + 1], b[i % 100 : i % 100 + 1], 1.0)
        seen["tutorial_loop"].append(loop_pairs / (time.perf_counter() - start))
        start = time.perf_counter()
        matrix = pairwise_ssim(a, b)
        seen["ours"].append(matrix.size / (time.perf_counter() - start))
    rows = np.arange(0, len(a), 97)[:100]  # 100 images x 100 examples, pair by pair
    ref = tf.image.ssim(np.repeat(a[rows], 100, 0), np.tile(b, (len(rows), 1, 1, 1)), 1.0)
    diff = float(np.abs(matrix[rows] - ref.numpy().reshape(len(rows), 100)).max())
    ratios = [o / t for o, t in zip(seen["ours"], seen["tutorial_loop"], strict=True)]
    return {
        "tutorial_loop": summary(seen["tutorial_loop"]),
        "ours": summary(seen["ours"]),
        "ratio": summary(ratios),
        "max_abs_difference_from_tf_image_ssim": diff,
    }


def time_to_quality(tutorial_images_per_s: float) -> dict:
    """The workbook's recipe on all 60,000 training images: wall time and test SSIM."""
    import shutil

    from helpers.model.autoencoder import shipped_weights_info
    from helpers.model.shipped import train_fashion_mnist
    from helpers.model.training import FAST_RECIPE

    out = Path("runs/speed-bench")
    shutil.rmtree(out, ignore_errors=True)  # from scratch, not resumed
    start = time.perf_counter()
    info = train_fashion_mnist(
        FAST_RECIPE, checkpoint=out / "checkpoint.keras", out=out / "fast.weights.h5"
    )
    seconds = time.perf_counter() - start
    tutorial_seconds = 20 * 60_000 / tutorial_images_per_s
    return {
        "recipe": info["recipe"],
        "seconds": round(seconds, 1),
        "test_ssim": info["test_ssim"],
        "tutorial_test_ssim": shipped_weights_info()["test_ssim"],
        "tutorial_seconds_estimated": round(tutorial_seconds, 1),
        "share_of_tutorial_time": seconds / tutorial_seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=6400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also train the recipe fully")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPU cores")
    report = {"command": command("speed", argv)}
    report["pairwise_ssim"] = pairs = pairwise(args.rounds)
    report["training"] = train = training(args.images, args.rounds)
    if args.full:
        report["time_to_quality"] = time_to_quality(train["tutorial"]["median"])

    def cell(s, fmt="{:,.0f}"):
        return f"{fmt.format(s['median'])} ({fmt.format(s['low'])}-{fmt.format(s['high'])})"

    rows = [
        [
            "pairwise SSIM, pairs/s",
            cell(pairs["tutorial_loop"]),
            cell(pairs["ours"]),
            cell(pairs["ratio"], "{:.0f}x"),
        ],
        [
            f"training, images/s ({args.images:,} images)",
            cell(train["tutorial"]),
            cell(train["ours"]),
            cell(train["ratio"], "{:.2f}x"),
        ],
    ]
    if args.full:
        q = report["time_to_quality"]
        rows.append(
            [
                "time to the tutorial's test SSIM",
                f"{q['tutorial_seconds_estimated']:,.0f} s (20 epochs), "
                f"SSIM {q['tutorial_test_ssim']:.4f}",
                f"{q['seconds']:,.0f} s, SSIM {q['test_ssim']:.4f}",
                f"{q['share_of_tutorial_time']:.0%} of the time",
            ]
        )
    print(f"medians (lowest-highest) over {args.rounds} rounds, side by side")
    print("\n".join(markdown_table(["what", "tutorial's code", "ours", "ratio"], rows)))
    difference = pairs["max_abs_difference_from_tf_image_ssim"]
    print(f"largest difference from tf.image.ssim: {difference:.1e}")
    save_report(args.out, "speed.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
