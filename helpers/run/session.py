"""Labelling a pile and reviewing it: reviews read from ``reviews.csv`` join the examples.

A reviewed image is one more example of its class (a new column of the similarity matrix,
the only SSIM a relabel needs, scored while the person reviews: ``helpers.run.review_scores``)
and a node of the pile's neighbour graph whose class
is known, so its label also reaches its neighbours when losses spread, and is one more
source of its class for Poisson learning. The threshold is recalibrated on the examples
(held out one at a time) and on the *audit* reviews, the random picks the review queue mixes
in (one in ``AUDIT_EVERY``), each labelled as it would be without the audit reviews: the
least certain reviews are no fair sample of what a threshold accepts, the audits are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from helpers.core.run_dir import REVIEWS, RunDir, fingerprint
from helpers.labelling.calibration import AUDITS_FOR_A_PROMISE, Calibration, calibrate_threshold
from helpers.labelling.held_out import PileScores
from helpers.labelling.labels import Known, Labels, label_images, uses_poisson
from helpers.labelling.poisson import poisson_walk_steps
from helpers.labelling.precision import HeldOut
from helpers.labelling.scoring import Reconstructions
from helpers.labelling.settings import LabelSettings
from helpers.run.review_scores import ReviewScores
from helpers.run.reviews import ReviewLog


@dataclass
class LabelSession:
    """What notebook 05 labels with, kept together so a relabel after reviews is quick."""

    run: RunDir
    image_ids: np.ndarray  # as in labels.csv
    class_names: tuple[str, ...]
    codes: np.ndarray  # (n, d) the pile's points in the neighbour graph (settings.graph)
    reconstructions: Reconstructions  # of the pile, held or decoded on demand
    clusters: np.ndarray  # (n,)
    similarity: np.ndarray | None  # (n, n_examples) against the examples: ``scores`` holds it
    example_labels: np.ndarray
    example_codes: np.ndarray  # the examples' points in the same graph
    example_reconstructions: np.ndarray
    example_known: Known  # examples that are in the pile
    settings: LabelSettings
    made_from: str = ""  # what the pile's reconstructions were made from (codes.npz)
    ignored: list[tuple[int, str]] = field(default_factory=list)  # unusable review rows
    audit: set[int] = field(default_factory=set)  # reviewed images that were audit picks
    _steps: int | None = field(default=None, repr=False)
    scores: ReviewScores = field(init=False, repr=False)  # and against the reviewed images
    _examples_among: np.ndarray | None = field(default=None, repr=False)

    @property
    def log(self) -> ReviewLog:
        return ReviewLog(self.run / REVIEWS)

    def reviewed(self) -> Known:
        """The reviews that apply (last row per image), read from ``reviews.csv``."""
        read = self.log.read(self.image_ids, self.class_names)
        self.ignored, self.audit = read.ignored, read.audit
        index = np.asarray(sorted(read.classes), np.int64)
        classes = np.asarray([read.classes[i] for i in index], np.int64)
        return Known.of(index, classes, "reviewed")

    def __post_init__(self):
        made_from = fingerprint(self.made_from, self.settings.max_val)
        self.scores = ReviewScores(
            self.similarity, self.reconstructions, self.settings.max_val, self.run, made_from
        )
        self.similarity = None  # one copy in memory: the table's, which grows with reviews

    def score_ahead(self, images) -> None:
        """Score the pile against images just reviewed, in the background, so that the next
        relabel finds their columns ready (the review bar calls this on every review)."""
        self.scores.score_ahead(images)

    def poisson_steps(self) -> int | None:
        """How long Poisson learning walks: what the examples alone need, so reviews never
        shorten it (``labels.poisson_walk_steps``); None without Poisson learning."""
        if self._steps is None and uses_poisson(self.settings, len(self.codes)):
            self._steps = poisson_walk_steps(
                self.codes, self.example_codes, self.settings.n_neighbors
            )
        return self._steps

    def relabel(self) -> tuple[Labels, Calibration]:
        """Labels and a calibrated threshold from the examples and every review so far."""
        reviewed = self.reviewed()
        labels = self._label(reviewed)
        audit = np.isin(reviewed.index, np.fromiter(self.audit, np.int64, len(self.audit)))
        held_out = None
        if audit.any():  # the audit images as they are labelled without their reviews
            others = Known(
                reviewed.index[~audit],
                reviewed.classes[~audit],
                tuple(np.asarray(reviewed.source, object)[~audit]),
            )
            without = self._label(others)
            at, truth = reviewed.index[audit], reviewed.classes[audit]
            held_out = HeldOut(without.score[at], without.label[at] == truth)
        sim, labels_all, example_codes, recon = self._sources(reviewed)
        pile = PileScores(sim, self.codes, example_codes, self.poisson_steps())
        calibration = calibrate_threshold(
            labels,
            recon,
            labels_all,
            self.settings,
            pile,
            audit=held_out,
            n_person_examples=len(self.example_labels),
        )
        return labels, calibration

    def _sources(self, reviewed: Known):
        """Similarity, classes, codes and reconstructions of the examples and ``reviewed``."""
        sim, order = self.scores.against(reviewed.index)
        index = reviewed.index[order]
        labels_all = np.concatenate([self.example_labels, reviewed.classes[order]])
        example_codes = np.concatenate([self.example_codes, self.codes[index]])
        recon = np.concatenate([self.example_reconstructions, self.reconstructions[index]])
        return sim, labels_all, example_codes, recon

    def _label(self, reviewed: Known) -> Labels:
        sim, labels_all, example_codes, _ = self._sources(reviewed)
        return label_images(
            sim,
            labels_all,
            len(self.class_names),
            self.codes,
            self.clusters,
            self.settings,
            self.example_known + reviewed,
            example_codes,
            self.poisson_steps(),
            person_examples=len(self.example_labels),
        )


REVIEW_ORDERS = ("least certain", "least certain, class by class", "random")
AUDIT_EVERY = 5  # one review in five is an audit pick, drawn at random


def review_order(labels: Labels, order: str = "least certain", seed: int = 0) -> np.ndarray:
    """Indices of the images not yet given a class by a person, in the order to review them.

    ``"least certain"`` (the default): smallest margin first, the labels the class scores
    are most torn about, where a person's answer changes the most. (Not the lowest
    confidence: with an earlier form of it, 100 such reviews made Fashion-MNIST's labels
    worse, where 100 by margin made them better.)
    ``"least certain, class by class"``: the same, taking each class's least certain in
    turn, so every class gets reviews. ``"random"``: a seeded shuffle, to measure what the
    order is worth.
    """
    open_ = _open(labels)
    ranked = open_[np.argsort(labels.margin[open_], kind="stable")]
    if order == "least certain":
        return ranked
    if order == "least certain, class by class":
        queues = [ranked[labels.label[ranked] == c] for c in np.unique(labels.label[ranked])]
        turns = np.concatenate([np.arange(len(q)) for q in queues])  # place in its class
        merged = np.concatenate(queues)
        return merged[np.argsort(turns, kind="stable")]
    if order == "random":
        return _audit_draw(labels, seed)
    raise ValueError(f"order must be one of {REVIEW_ORDERS}, not {order!r}")


def review_queue(
    labels: Labels,
    n: int,
    order: str = "least certain",
    seed: int = 0,
    audit_every: int = AUDIT_EVERY,
    audited: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The next ``n`` images to review, and which are audit picks (drawn at random from the
    images not yet reviewed: a fixed seeded permutation of the pile, so across relabels
    they stay a uniform sample). While fewer than ``AUDITS_FOR_A_PROMISE`` audits are
    reviewed (``audited``), the queue opens with the audit round that completes them: the
    threshold's promise rests on them. After it, every ``audit_every``-th pick is an audit
    and the rest come in ``order``. ``audit_every`` 0: no audit picks after the round."""
    open_ = _open(labels)
    n = min(int(n), len(open_))
    first = min(n, max(0, AUDITS_FOR_A_PROMISE - int(audited)))
    mixed = (n - first) // audit_every if audit_every > 0 else 0
    audits = _audit_draw(labels, seed)[: first + mixed]
    rest = review_order(labels, order, seed)
    rest = rest[~np.isin(rest, audits)][: n - first - mixed]
    is_audit = np.zeros(n, bool)
    is_audit[:first] = True
    if mixed:
        is_audit[first + audit_every - 1 :: audit_every] = True
    queue = np.empty(n, np.int64)
    queue[is_audit], queue[~is_audit] = audits, rest
    return queue, is_audit


def _open(labels: Labels) -> np.ndarray:
    """The images no person has given a class yet."""
    return np.flatnonzero(labels.known < 0) if labels.known is not None else np.arange(len(labels))


def _audit_draw(labels: Labels, seed: int) -> np.ndarray:
    """The open images in the order of one seeded permutation of the whole pile."""
    everyone = np.random.default_rng(seed).permutation(len(labels))
    return everyone[np.isin(everyone, _open(labels))]
