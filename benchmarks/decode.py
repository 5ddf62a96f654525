"""The decoder's inference speed: as trained (transposed convolutions, batch norms) against
its folded twin (``helpers.model.folded``), side by side, alternately, ``--rounds`` times on the
same codes (the shipped weights; codes of the Fashion-MNIST test images). Reports images/s
of each, their ratio (median, lowest-highest) and the largest difference between the two.

    python -m benchmarks.decode [--rounds 5] [--images 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import command, commit, save_report
from helpers.data.fashion_mnist import load_fashion_mnist
from helpers.model.autoencoder import _predict, encode, load_weights, shipped_weights_path
from helpers.model.folded import folded_decoder


def spread(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "low": min(values), "high": max(values)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    (_, _), (x_test, _) = load_fashion_mnist()
    _, encoder, decoder = load_weights(shipped_weights_path())
    codes = encode(encoder, x_test[..., None])
    codes = np.resize(codes, (args.images, codes.shape[1]))  # the test codes, repeated
    models = {"as trained": decoder, "folded": folded_decoder(decoder)}
    outputs = {name: _predict(m, codes[:512], 512, lambda c: c) for name, m in models.items()}
    seen = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            outputs[name] = _predict(model, codes, 512, lambda c: c)
            seen[name].append(args.images / (time.perf_counter() - start))
    ratios = [f / p for f, p in zip(seen["folded"], seen["as trained"], strict=True)]
    report = {
        "command": command("decode", argv),
        "commit": commit(),
        "weights": shipped_weights_path().name,
        "images": args.images,
        "rounds": args.rounds,
        "images_per_s": {name: spread(v) for name, v in seen.items()},
        "ratio": spread(ratios),
        "largest_difference": float(np.abs(outputs["folded"] - outputs["as trained"]).max()),
    }
    save_report(args.out, "decode.json", report)
    for name, values in report["images_per_s"].items():
        print(f"{name}: {values['median']:.0f} images/s ({values['low']:.0f}-{values['high']:.0f})")
    r = report["ratio"]
    print(
        f"folded / as trained: {r['median']:.2f}x ({r['low']:.2f}-{r['high']:.2f}); "
        f"largest difference {report['largest_difference']:.2g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
