"""How scores become labels: ``LabelSettings``, the workbook's defaults and the tutorial's.

Each default is the best measured on Fashion-MNIST and kept where it held on the USPS
digits too; what each measured, and against what: docs/results.md (benchmarks/quality.py
and benchmarks/review.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from helpers.core.graph import DEFAULT_NEIGHBOURS
from helpers.ssim import DEFAULT_MAX_VAL, TUTORIAL_MAX_VAL

LabelRule = Literal["image", "cluster"]
Aggregate = Literal["mean", "top3", "max"]
ThresholdOn = Literal["loss", "margin", "confidence"]
THRESHOLD_ON = ("loss", "margin", "confidence")
Graph = Literal["description", "codes"]
GRAPHS = ("description", "codes")
AGGREGATES = ("mean", "top3", "max")


@dataclass(frozen=True)
class LabelSettings:
    """How scores become labels. Change one thing with ``dataclasses.replace``."""

    aggregate: Aggregate = "top3"  # a class's examples: 3 most alike, 'mean' or 'max'
    # 'image': each image's closest class; 'cluster': its cluster's class; None: 'cluster'
    # with one example per class and no Poisson learning (where it measured better), else
    # 'image'
    rule: LabelRule | None = None
    # 'confidence': still ranks after reviews, where the blended margin stops ranking
    # (benchmarks/review.py); 'margin' ranks better than 'loss' before any review
    threshold_on: ThresholdOn = "confidence"
    spread: float = 0.8  # share of an image's losses from its neighbours
    max_val: float = DEFAULT_MAX_VAL  # SSIM's dynamic range
    target_precision: float = 0.95  # what the calibrated threshold aims for
    n_neighbors: int = DEFAULT_NEIGHBOURS  # of the graph that losses spread along
    # True: images whose class a person gave hold it (loss 0, every other class 1) while
    # losses spread, so it reaches their neighbours. Off: with 100-400 reviews it raised
    # accuracy a little but ranked worse (benchmarks/review.py)
    clamp_known: bool = False
    # Share of each image's class scores from Poisson learning on the graph (the examples'
    # classes walked from their places in it), the rest from the spread SSIM losses. 0:
    # SSIM alone. 0.9: on the description's graph a larger share labelled better on every
    # pile with truth (0.8, 0.9, 0.95, 1.0 measured), and 1.0 ranked worse with one
    # example a class; 0.9 keeps SSIM in the score
    poisson: float = 0.9
    # The points of the neighbour graph that spreading and Poisson learning walk:
    # 'description', what each image shows (helpers.data.description), or the
    # autoencoder's 'codes' (the tutorial's). benchmarks/piles.py measures both
    graph: Graph = "description"

    def __post_init__(self):
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, not {self.aggregate!r}")
        if self.rule not in (None, "image", "cluster"):
            raise ValueError(f"rule must be 'image', 'cluster' or None, not {self.rule!r}")
        if self.threshold_on not in THRESHOLD_ON:
            raise ValueError(
                f"threshold_on must be one of {THRESHOLD_ON}, not {self.threshold_on!r}"
            )
        if not 0.0 <= self.spread < 1.0:
            raise ValueError(f"spread must be in [0, 1), not {self.spread}")
        if self.graph not in GRAPHS:
            raise ValueError(f"graph must be one of {GRAPHS}, not {self.graph!r}")
        if not 0.0 <= self.poisson <= 1.0:
            raise ValueError(f"poisson must be in [0, 1], not {self.poisson}")

    def graph_points(self, codes: np.ndarray, description: np.ndarray | None) -> np.ndarray:
        """The points of the neighbour graph these settings walk: the images' ``codes`` or
        their ``description`` (``self.graph``)."""
        if self.graph == "codes":
            return codes
        if description is None:
            raise ValueError("graph 'description' needs the images described (get_description)")
        return description

    def rule_for(self, example_labels) -> LabelRule:
        """The rule to use with these examples (``rule=None`` decides by their count)."""
        if self.rule is not None:
            return self.rule
        fewest = np.bincount(np.asarray(example_labels)).min() if len(example_labels) else 0
        return "cluster" if fewest <= 1 and self.poisson == 0 else "image"


DEFAULT_SETTINGS = LabelSettings()

# The tutorial's way: mean SSIM loss against the examples, the cluster's class, a
# threshold on the loss, no spreading, no Poisson learning, SSIM with max_val 2.0.
TUTORIAL = LabelSettings(
    aggregate="mean",
    rule="cluster",
    threshold_on="loss",
    spread=0.0,
    max_val=TUTORIAL_MAX_VAL,
    poisson=0.0,
    graph="codes",
)


def label_settings(base: LabelSettings = DEFAULT_SETTINGS, **changes) -> LabelSettings:
    """``base`` with ``changes``; a change given as None keeps ``base``'s value, so a
    notebook parameter left at None means the library's default."""
    return replace(base, **{k: v for k, v in changes.items() if v is not None})
