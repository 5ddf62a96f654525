"""Which description of the images makes the best neighbour graph, on every pile with truth.

No autoencoder is needed to compare graphs: each pile is read at a working size and colour,
described, and labelled by Poisson learning alone from the examples' places in the graph
(``helpers.labelling.poisson.poisson_scores``; SSIM plays no part; the confidence is the
lead of the first class's score over the second's), with the examples of
``benchmarks/piles.py`` (the same draws). Per pile, working size and colour, and way of
describing: the 10-nearest-neighbour class agreement, the accuracy and the best share at
precision 0.95 (means over the draws). The winner is then checked whole, with the
autoencoder and SSIM, by ``benchmarks/piles.py``.

    python -m benchmarks.description [--piles fashion,usps,intel-scenes,neu-steel]
                                     [--draws 0,1,2] [--auto-only]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.piles import WORK, arguments, inputs_of, per_class
from benchmarks.reports import command, commit, save_report
from helpers.core.config import get_profile
from helpers.data.description import fit_description
from helpers.data.fashion_mnist import choose_examples
from helpers.data.inputs import resolve_inputs
from helpers.data.pile import load_pile
from helpers.labelling.evaluation import coverage_at_precision, neighbour_agreement
from helpers.labelling.poisson import poisson_scores

ROOT = Path(__file__).resolve().parent.parent
# (image size, colour) each folder pile is read at; Fashion-MNIST is 28 x 28 grey
READS = {
    "usps": [(16, "grey"), (28, "grey")],
    "intel-scenes": [(32, "rgb"), (48, "grey"), (48, "rgb")],
    "neu-steel": [(32, "grey"), (64, "grey")],
}


@dataclass(frozen=True)
class Variant:
    """A way of describing images: ``fit(images)`` gives the function that describes them."""

    about: str
    fit: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]


def _pca_whitened(features_of) -> Callable:
    """Features -> PCA (100 directions) fitted on the pile, whitened, unit length."""
    from sklearn.decomposition import PCA

    def fit(images):
        features = features_of(images)
        pca = PCA(min(100, *features.shape), whiten=True, random_state=0).fit(features)

        def describe(x):
            p = pca.transform(features_of(x))
            return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)

        return describe

    return fit


def _pixels(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, np.float32).reshape(len(images), -1) / 255


def _hog(images: np.ndarray) -> np.ndarray:
    """HOG, 8 orientations, cells of an eighth of the side (4 px at 32), 2x2 blocks."""
    from skimage.feature import hog

    cell = max(2, images.shape[1] // 8)
    channel_axis = -1 if images.shape[-1] == 3 else None
    return np.stack(
        [
            hog(
                img if channel_axis is not None else img[..., 0],
                orientations=8,
                pixels_per_cell=(cell, cell),
                cells_per_block=(2, 2),
                channel_axis=channel_axis,
            )
            for img in images
        ]
    ).astype(np.float32)


VARIANTS = {
    "scattering (the default)": Variant(
        "J by size (2 up to 32 px, else 3), sqrt, PCA-100, spread ** 0.75, cosine", fit_description
    ),
    "scattering J=2": Variant("J=2 at every size", lambda x: fit_description(x, scales=2)),
    "scattering J=3": Variant("J=3 where the size allows", lambda x: fit_description(x, scales=3)),
    "scattering, whitened": Variant("spread ** 1", lambda x: fit_description(x, whiten=1.0)),
    "scattering, half whitened": Variant("spread ** 0.5", lambda x: fit_description(x, whiten=0.5)),
    "scattering, not whitened": Variant("spread ** 0", lambda x: fit_description(x, whiten=0.0)),
    "scattering, 50 directions": Variant("PCA-50", lambda x: fit_description(x, dimensions=50)),
    "raw pixels": Variant("pixels, PCA-100, whitened, cosine", _pca_whitened(_pixels)),
    "HOG": Variant("HOG, PCA-100, whitened, cosine", _pca_whitened(_hog)),
}


def read(pile: str, size: int | None, color: str | None, draw: int):
    """The pile at ``size`` and ``color`` with draw ``draw``'s examples."""
    settings = inputs_of(pile, draw)
    if size is not None:
        settings |= {"image_size": size, "color": color}
    return load_pile(get_profile("full"), 0, resolve_inputs(None, **settings))


def measure_pile(pile: str, draws: list[int], auto_only: bool = False) -> dict:
    reads = [(None, None)] if auto_only else READS.get(pile, [(None, None)])
    out = {}
    for size, color in reads:
        piles = [read(pile, size, color, draw) for draw in draws]
        first = piles[0]
        shape = first.image_shape
        key = f"{shape[0]}x{shape[1]} {'rgb' if shape[2] == 3 else 'grey'}"
        for name, variant in VARIANTS.items():
            if name == "scattering J=3" and first.image_shape[0] % 8:
                continue
            start = time.time()
            fitted = variant.fit(first.x_test)
            points = fitted(first.x_test)
            seconds = time.time() - start
            rows = []
            for p, draw in zip(piles, draws, strict=True):
                if p.examples is None:  # Fashion-MNIST: examples from the training split
                    idx = choose_examples(p.y_train, per_class(pile), seed=draw)
                    ex_labels, ex_points = p.y_train[idx], fitted(p.x_train[idx])
                else:
                    ex_labels, ex_points = p.examples.labels, points[p.examples.in_pile]
                scores = poisson_scores(points, ex_points, ex_labels, len(p.class_names))
                top2 = np.sort(scores, axis=1)[:, -2:]
                correct = np.argmax(scores, axis=1) == p.y_test
                rows.append(
                    {
                        "accuracy": float(correct.mean()),
                        "best_share_at_95": coverage_at_precision(
                            top2[:, 0] - top2[:, 1], correct, 0.95
                        ),
                    }
                )
            result = {m: float(np.mean([r[m] for r in rows])) for m in rows[0]}
            result["neighbour_agreement"] = neighbour_agreement(points[:5000], first.y_test[:5000])
            result["ms_per_image"] = 1000 * seconds / len(points)
            out.setdefault(key, {})[name] = result
            print(f"{pile} {key} {name}: {result}", flush=True)
    return out


def main(argv=None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--auto-only", action="store_true", help="each pile at its 'auto' read")
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    report = {
        "commit": commit(),
        "command": command("description", argv),
        "draws": draws,
        "labelling": "Poisson learning alone (its scores' lead ranks), the examples of piles.py",
        "variants": {name: v.about for name, v in VARIANTS.items()},
        "piles": {},
    }
    for pile in args.piles.split(","):
        report["piles"][pile] = measure_pile(pile, draws, args.auto_only)
        save_report(args.out, "description.json", report)
    return 0


if __name__ == "__main__":
    WORK.mkdir(parents=True, exist_ok=True)
    sys.exit(main())
