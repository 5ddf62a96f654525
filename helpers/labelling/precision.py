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


# Each step of the fitted P(right | confidence) is shrunk towards the held-out labels'
# overall share right by this many pseudo-labels (a Beta prior): a step resting on a few
# labels, all right, would say 1.0, and averaged over the pile promise what no label
# supports (on intel-scenes, 4 right examples at the top made a promise of 0.95 that
# delivered about 0.7 before any audit).
PRIOR_LABELS = 2.0


def precision_model(examples: HeldOut, audit: HeldOut | None) -> _StepModel:
    """P(right | score): isotonic regression (the more sure, never the less often right)
    on the held-out labels, the examples and the audit reviews alike, each step shrunk by
    ``PRIOR_LABELS`` towards their overall share right.

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
    shrunk = (right + PRIOR_LABELS * correct.mean()) / (n + PRIOR_LABELS)
    smoothed = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return _StepModel(steps, smoothed.fit(level, shrunk, sample_weight=n))


@dataclass(frozen=True)
class _StepModel:
    """A score's step of the isotonic fit, then that step's shrunk share right."""

    steps: IsotonicRegression
    shrunk: IsotonicRegression

    def predict(self, score: np.ndarray) -> np.ndarray:
        return self.shrunk.predict(self.steps.predict(np.asarray(score, np.float64)))


# Every estimate comes with this interval.
LEVEL = 0.90
# What the model's estimate (P(right | score) fitted to the held-out labels, averaged over
# the labels a threshold accepts) is worth, in fair labels: a Beta prior of this many
# pseudo-labels, which the audit reviews the threshold accepts update (with Jeffreys'
# half a label each way beneath, so no count alone says 1.0).
MODEL_LABELS = 80.0
# The threshold is the loosest whose estimate reaches the target and whose interval's
# lower end reaches this floor: its promise, "95% right, and at least 91% with 95%
# confidence". Before the audits are in, the lower end must reach the target itself.
# Both chosen on the review states of every pile with truth (docs/quality.md).
PROMISE_FLOOR = 0.91
# The thresholds tried when choosing one: at most this many, evenly spaced in rank.
_TRIED = 2000


@dataclass(frozen=True)
class Estimate:
    """The precision of the labels a threshold accepts: the estimate and its ``LEVEL``
    interval (the estimate always lies inside it), all NaN when it accepts none."""

    precision: float
    low: float
    high: float


@dataclass(frozen=True)
class PrecisionEstimate:
    """The precision of the workbook's own labels a threshold accepts (the people's
    labels are always accepted and are not part of it), estimated without truth: ``model``
    (P(right | score), fitted to the held-out labels) averaged over the pile's open labels
    the threshold accepts is a prior worth ``MODEL_LABELS`` fair labels; the ``audit``
    reviews it accepts (a fair sample) update it."""

    model: _StepModel
    pile_score: np.ndarray  # the pile's open labels' scores
    audit: HeldOut | None = None

    @cached_property
    def _ranked(self) -> tuple[np.ndarray, np.ndarray]:
        """The pile's open scores, surest first, and the model's right labels among the
        first n of them."""
        ranked = np.sort(np.asarray(self.pile_score, np.float64))[::-1]
        return ranked, np.cumsum(self.model.predict(ranked))

    @cached_property
    def _audits(self) -> tuple[np.ndarray, np.ndarray]:
        """The audits' scores, surest first, and how many of the first n are right."""
        audit = self.audit if self.audit is not None else HeldOut(np.zeros(0), np.zeros(0))
        order = np.argsort(-np.asarray(audit.score, np.float64), kind="stable")
        right = np.asarray(audit.correct, np.float64)[order]
        return np.asarray(audit.score, np.float64)[order], np.r_[0.0, np.cumsum(right)]

    def _posterior(self, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(estimate, low, high) when the surest ``n`` (>= 1) open labels are accepted."""
        from scipy.stats import beta

        ranked, model_right = self._ranked
        audit_score, audit_right = self._audits
        n = np.asarray(n, np.int64)
        expected = model_right[n - 1] / n
        taken = np.searchsorted(-audit_score, -ranked[n - 1], side="right")  # score >= t
        a = MODEL_LABELS * expected + audit_right[taken] + 0.5
        b = MODEL_LABELS * (1.0 - expected) + taken - audit_right[taken] + 0.5
        low, high = beta.ppf((1 - LEVEL) / 2, a, b), beta.ppf((1 + LEVEL) / 2, a, b)
        return np.clip(a / (a + b), low, high), low, high

    def accepted(self, threshold: float) -> int:
        """How many of the pile's open labels ``threshold`` accepts."""
        ranked, _ = self._ranked
        return int(np.searchsorted(-ranked, -threshold, side="right"))

    def at(self, threshold: float) -> Estimate:
        """The estimate at ``threshold``, with its interval."""
        n = self.accepted(threshold)
        if n == 0:
            return Estimate(float("nan"), float("nan"), float("nan"))
        estimate, low, high = (float(v[0]) for v in self._posterior(np.array([n])))
        return Estimate(estimate, low, high)

    def threshold(self, target: float, floor: float) -> float:
        """The loosest threshold whose estimate reaches ``target`` and whose interval's
        lower end reaches ``floor``; when none does, one just above every open label's
        score (it accepts none of them)."""
        ranked, _ = self._ranked
        if len(ranked) == 0:
            return 0.0

        def ok(n):
            estimate, low, _ = self._posterior(n)
            return (estimate >= target) & (low >= floor)

        n = np.unique(np.linspace(1, len(ranked), min(_TRIED, len(ranked))).astype(np.int64))
        good = np.flatnonzero(ok(n))
        if len(good) == 0:  # above the top score even as float32, as scores usually are
            return float(np.nextafter(np.float32(ranked[0]), np.float32(np.inf)))
        # between the tried ranks, the loosest that still keeps the promise
        stop = n[good[-1] + 1] if good[-1] + 1 < len(n) else n[good[-1]]
        between = np.arange(n[good[-1]], stop + 1)
        return float(ranked[between[np.flatnonzero(ok(between))[-1]] - 1])


def threshold_from_held_out(held: HeldOut, target: float) -> float:
    """Thresholds on the SSIM loss (lower is surer): the loosest at which the held-out
    labels, in order, are still ``target`` precise, halfway to the first that breaks it."""
    _, precision, sorted_doubts = precision_coverage_curve(held.score, held.correct)
    ok = np.flatnonzero(precision >= target)
    if len(ok) and ok[-1] < len(sorted_doubts) - 1:
        return float((sorted_doubts[ok[-1]] + sorted_doubts[ok[-1] + 1]) / 2)
    return float(sorted_doubts[-1] if len(ok) else sorted_doubts[0])
