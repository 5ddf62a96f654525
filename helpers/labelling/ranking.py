"""What a threshold accepts, counted fast: one scope's images (all, or one class) sorted
once by doubt, so the explorer's slider costs a binary search, not a pass over the pile."""

from __future__ import annotations

import numpy as np

from helpers.labelling.labels import Labels

ALL = -1  # the scope of every class


class DoubtRanking:
    """One scope's images (all, or one class) sorted once by doubt, with running counts of
    wrong labels, so what a threshold accepts is a binary search rather than a pass over the
    pile: a slider move costs the same at a million images as at a thousand."""

    def __init__(self, labels: Labels, scope: int, true_labels: np.ndarray | None):
        in_scope = np.ones(len(labels), bool) if scope == ALL else labels.label == scope
        given = labels.known >= 0 if labels.known is not None else np.zeros(len(labels), bool)
        self.size = int(in_scope.sum())
        self.known = np.flatnonzero(in_scope & given)  # a person's class: always accepted
        open_ = np.flatnonzero(in_scope & ~given)
        doubt = np.asarray(labels.doubt[open_], np.float64)
        rank = np.argsort(doubt, kind="stable")
        self.order, self.doubt = open_[rank], doubt[rank]
        self.by_margin = labels.threshold_on != "loss"  # margin or confidence: larger is surer
        if true_labels is not None:
            has_truth = true_labels >= 0
            wrong = has_truth & (labels.label != true_labels)
            self.wrong = np.concatenate([[0], np.cumsum(wrong[self.order])])
            self.with_truth = np.concatenate([[0], np.cumsum(has_truth[self.order])])
            self.known_wrong = int(wrong[self.known].sum())
            self.known_with_truth = int(has_truth[self.known].sum())

    def n_open(self, threshold: float) -> int:
        """How many of the open images ``threshold`` accepts (the first ones of ``order``),
        exactly as ``Labels.accepted``: score >= t, or loss < t."""
        if self.by_margin:
            return int(np.searchsorted(self.doubt, -threshold, side="right"))
        return int(np.searchsorted(self.doubt, threshold, side="left"))
