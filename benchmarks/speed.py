"""Speed against the tutorial's code, measured side by side in one run on this machine.

1. Training throughput (images/s, batch 64, the same architecture): the tutorial's code
   (``model.fit`` with ``1 - mean(tf.image.ssim(..., 2.0))`` and TensorFlow's default CPU
   kernels) against ours (``helpers.model.train``: the keras.ops SSIM loss, oneDNN kernels).
   TensorFlow reads its kernel setting once per process, so each side runs in its own
   subprocess, alternately, ``--rounds`` times; the best round of each is compared.
2. Pairwise SSIM (pairs/s): the tutorial's loop, one ``tf.image.ssim`` call per pair,
   against ``helpers.ssim.pairwise_ssim`` on the same reconstructed-size images.

    python benchmarks/speed.py [--images 3200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TRAIN_SNIPPET = r"""
import json, os, sys, time
import numpy as np
side, n = sys.argv[1], int(sys.argv[2])
if side == "ours":
    import helpers.model as M  # sets TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow loads
    import keras
else:
    import tensorflow as tf, keras
    import helpers.model as M
from helpers.data import load_fashion_mnist, to_float_images
(x, _), _ = load_fashion_mnist()
x = to_float_images(x[: n + 640])
ae, _, _ = M.build_autoencoder()
if side == "ours":
    warm = lambda: M.train(ae, x[:640], epochs=1, verbose=0)
    run = lambda: ae.fit(x[640:], x[640:], epochs=1, batch_size=64, verbose=0)
else:
    import tensorflow as tf
    def SSIMLoss(y_true, y_pred):  # the tutorial's loss, verbatim
        return 1 - tf.reduce_mean(tf.image.ssim(y_true, y_pred, 2.0))
    ae.compile(optimizer="adam", loss=SSIMLoss)
    warm = lambda: ae.fit(x[:640], x[:640], epochs=1, batch_size=64, verbose=0)
    run = lambda: ae.fit(x[640:], x[640:], epochs=1, batch_size=64, verbose=0)
warm()
t = time.perf_counter(); run(); dt = time.perf_counter() - t
print(json.dumps({"side": side, "images_per_s": n / dt,
                  "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}))
"""


def training(images: int, rounds: int) -> dict:
    best = {"tutorial": 0.0, "ours": 0.0}
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for _ in range(rounds):
        for side in ("tutorial", "ours"):
            out = subprocess.run(
                [sys.executable, "-c", TRAIN_SNIPPET, side, str(images)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  training, {side:8s}: {r['images_per_s']:7.0f} img/s", flush=True)
            best[side] = max(best[side], r["images_per_s"])
    return {**best, "ratio": best["ours"] / best["tutorial"]}


def pairwise(n_loop_pairs: int = 300) -> dict:
    import numpy as np
    import tensorflow as tf

    from helpers.data import load_fashion_mnist, to_float_images
    from helpers.ssim import pairwise_ssim

    _, (x, _) = load_fashion_mnist()
    x = to_float_images(x[:2100])
    a, b = x[:2000], x[2000:2100]
    tf.image.ssim(a[:1], b[:1], 2.0)  # warm up
    t = time.perf_counter()
    for i in range(n_loop_pairs):  # the tutorial: one pair per call
        tf.image.ssim(a[i : i + 1], b[i % 100 : i % 100 + 1], 2.0)
    loop = n_loop_pairs / (time.perf_counter() - t)
    pairwise_ssim(a[:100], b)  # warm up
    t = time.perf_counter()
    m = pairwise_ssim(a, b)
    ours = m.size / (time.perf_counter() - t)
    assert np.isfinite(m).all()
    return {"tutorial_loop": loop, "ours": ours, "ratio": ours / loop}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPU cores")
    train = training(args.images, args.rounds)
    pairs = pairwise()
    print()
    print("| what | tutorial's code | ours | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| training, img/s (batch 64, best of {args.rounds}) | {train['tutorial']:.0f} | "
        f"{train['ours']:.0f} | {train['ratio']:.2f}x |"
    )
    print(
        f"| pairwise SSIM, pairs/s | {pairs['tutorial_loop']:.0f} | {pairs['ours']:.0f} | "
        f"{pairs['ratio']:.0f}x |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
