"""How precise are the labels a threshold accepts, estimated from held-out labels alone.

Held-out labels (the examples left out one at a time, audit reviews) say how often a label
of a given score is right; a monotone model of that, averaged over every label of the pile
a threshold accepts, estimates the share of them that is right. ``helpers.labelling.calibration``
puts the threshold where that estimate reaches its target.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sklearn.isotonic import IsotonicRegression

from helpers.labelling.evaluation import precision_coverage_curve


@dataclass(frozen=True)
class HeldOut:
    """Labels made without their own class known (held-out examples, audit reviews): the
    score the threshold applies to (``Labels.score``) and whether each was right."""

    score: np.ndarray
    correct: np.ndarray

    def __len__(self) -> int:
        return len(self.correct)


def wilson_interval(right: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """The Wilson score interval for a share ``right / n`` (``(nan, nan)`` when n is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


# With audit reviews among the held-out labels, each step of the fitted P(right |
# confidence) is shrunk towards their overall share right by this many pseudo-labels (a
# Beta prior): a step resting on a few audits, all right, says 1.0, and plain isotonic
# regression then promised too much on Fashion-MNIST after 100-500 reviews. The examples
# alone need none: a held-out example has lost one of its class's few examples, which
# makes them err on the safe side, and shrinking them too made the start far too strict
# on USPS. Measured on Fashion-MNIST and USPS, 3 draws x 6 review rounds each
# (benchmarks/review.py).
PRIOR_LABELS = 2.0


def precision_model(examples: HeldOut, audit: HeldOut | None) -> _StepModel:
    """P(right | score): isotonic regression (the more sure, never the less often right)
    on the held-out labels, the examples and the audit reviews alike; with audits, each
    step shrunk by ``PRIOR_LABELS`` towards their overall share right.

    Non-parametric, since right-or-wrong against confidence is no logistic curve: flat
    where another class is close, then steep (on USPS, from mostly right below the median
    confidence to nearly always right just above it); a logistic fitted to both ends was
    pessimistic at the top. The audits, a fair sample, outweigh the examples as they grow
    in number."""
    score = np.r_[examples.score, [] if audit is None else audit.score].astype(np.float64)
    correct = np.r_[examples.correct, [] if audit is None else audit.correct].astype(np.float64)
    steps = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, correct)
    level, step = np.unique(steps.predict(score), return_inverse=True)
    n, right = np.bincount(step), np.bincount(step, weights=correct)
    prior = PRIOR_LABELS if audit is not None and len(audit) else 0.0
    shrunk = (right + prior * correct.mean()) / (n + prior)
    smoothed = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return _StepModel(steps, smoothed.fit(level, shrunk, sample_weight=n))


@dataclass(frozen=True)
class _StepModel:
    """A score's step of the isotonic fit, then that step's shrunk share right."""

    steps: IsotonicRegression
    shrunk: IsotonicRegression

    def predict(self, score: np.ndarray) -> np.ndarray:
        return self.shrunk.predict(self.steps.predict(np.asarray(score, np.float64)))


@dataclass(frozen=True)
class PrecisionEstimate:
    """The precision of the labels a threshold accepts, estimated without truth: ``model``
    (P(right | score), fitted to the held-out labels) averaged over the pile's open labels
    the threshold accepts, and the ``n_known`` labels a person gave (always accepted, and
    right)."""

    model: _StepModel
    pile_score: np.ndarray  # the pile's open labels' scores
    n_known: int = 0

    @cached_property
    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Every threshold the pile's scores offer (strictest first) and its estimate."""
        ranked = np.sort(np.asarray(self.pile_score, np.float64))[::-1]
        right = np.cumsum(self.model.predict(ranked))
        taken = np.arange(1, len(ranked) + 1)
        return ranked, (self.n_known + right) / (self.n_known + taken)

    def at(self, threshold: float) -> float:
        """The estimate at ``threshold`` (NaN when it accepts none of the pile)."""
        ranked, estimate = self.curve
        n = int(np.searchsorted(-ranked, -threshold, side="right"))
        return float(estimate[n - 1]) if n else float("nan")

    def threshold(self, target: float) -> float:
        """The loosest threshold whose estimate reaches ``target`` (the strictest when
        none does)."""
        ranked, estimate = self.curve
        if len(ranked) == 0:
            return 0.0
        ok = np.flatnonzero(estimate >= target)
        return float(ranked[ok[-1]] if len(ok) else ranked[0])


def threshold_from_held_out(held: HeldOut, target: float) -> float:
    """Thresholds on the SSIM loss (lower is surer): the loosest at which the held-out
    labels, in order, are still ``target`` precise, halfway to the first that breaks it."""
    _, precision, sorted_doubts = precision_coverage_curve(held.score, held.correct)
    ok = np.flatnonzero(precision >= target)
    if len(ok) and ok[-1] < len(sorted_doubts) - 1:
        return float((sorted_doubts[ok[-1]] + sorted_doubts[ok[-1] + 1]) / 2)
    return float(sorted_doubts[-1] if len(ok) else sorted_doubts[0])
