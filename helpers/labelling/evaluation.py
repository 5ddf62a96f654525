"""How good are labels, when the true classes are known: precision, coverage, accuracy.

A true class of -1 means unknown (a truth file need not cover the whole pile): such
images are left out of every measure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from helpers.labelling.labels import Labels


def evaluate(labels: Labels, true_labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accepted count, coverage, precision of the accepted labels, accuracy of all labels."""
    true_labels = np.asarray(true_labels)
    known = true_labels >= 0
    ok = labels.accepted(threshold)
    correct = labels.label == true_labels
    n_ok = int(ok.sum())
    return {
        "threshold": float(threshold),
        "accepted": n_ok,
        "coverage": n_ok / len(labels) if len(labels) else 0.0,
        "precision": float(correct[ok & known].mean()) if (ok & known).any() else float("nan"),
        "accuracy_all": float(correct[known].mean()) if known.any() else float("nan"),
    }


def threshold_table(
    labels: Labels, true_labels: np.ndarray, thresholds=None, coverages=(0.1, 0.25, 0.5, 0.75, 1.0)
) -> list[dict[str, float]]:
    """``evaluate`` at the given thresholds, or at those that accept the given coverages."""
    if thresholds is None:
        doubts = np.quantile(labels.doubt, coverages)
        thresholds = [labels.threshold_for_doubt(d) for d in doubts]
    rows = [evaluate(labels, true_labels, float(t)) for t in thresholds]
    return sorted(rows, key=lambda r: r["coverage"])


def precision_coverage_curve(scores: np.ndarray, correct: np.ndarray):
    """Coverage and precision when accepting images in order of ``scores`` (low first)."""
    order = np.argsort(scores, kind="stable")
    hits = np.cumsum(np.asarray(correct)[order])
    n = np.arange(1, len(order) + 1)
    return n / len(order), hits / n, np.asarray(scores)[order]


def coverage_at_precision(scores: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The largest coverage whose accepted labels still have precision >= ``target``."""
    coverage, precision, _ = precision_coverage_curve(scores, correct)
    ok = np.flatnonzero(precision >= target)
    return float(coverage[ok[-1]]) if len(ok) else 0.0


def label_quality(labels: Labels, true_labels: np.ndarray) -> dict[str, float]:
    """Accuracy with every image labelled, and the largest coverage at which the accepted
    labels are still 95% and 90% precise (the threshold put in the best place)."""
    known = np.asarray(true_labels) >= 0
    correct = (labels.label == np.asarray(true_labels))[known]
    doubt = labels.doubt[known]
    return {
        "accuracy_all": float(correct.mean()),
        "coverage_at_p95": coverage_at_precision(doubt, correct, 0.95),
        "coverage_at_p90": coverage_at_precision(doubt, correct, 0.90),
    }


def curves(labels: Labels, true_labels: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Coverage and precision curves when accepting by SSIM loss and by margin."""
    known = np.asarray(true_labels) >= 0
    correct = (labels.label == np.asarray(true_labels))[known]
    return {
        "by SSIM loss": precision_coverage_curve(labels.ssim_loss[known], correct)[:2],
        "by margin": precision_coverage_curve(-labels.margin[known], correct)[:2],
    }


def neighbour_agreement(codes: np.ndarray, true_labels: np.ndarray, k: int = 10) -> float:
    """Share of each image's ``k`` nearest other images (Euclidean, in code space) that have
    its class: how well the codes keep classes together, whatever is done with them next."""
    from sklearn.neighbors import NearestNeighbors

    true_labels = np.asarray(true_labels)
    finder = NearestNeighbors(n_neighbors=k + 1).fit(np.asarray(codes, np.float64))
    neighbours = finder.kneighbors(return_distance=False)[:, :k]  # itself left out
    return float((true_labels[neighbours] == true_labels[:, None]).mean())
