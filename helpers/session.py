"""Labelling a pile and reviewing it: reviews read from ``reviews.csv`` join the examples.

A reviewed image is one more example of its class (a new column of the similarity matrix,
the only SSIM computed on a relabel) and a node of the pile's neighbour graph whose class
is known, so its label also reaches its neighbours when losses spread, and is one more
source of its class for Poisson learning. The threshold is
recalibrated on all examples, reviews included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from helpers.artifacts import RunDir, fingerprint
from helpers.calibration import Calibration, PileScores, calibrate_threshold
from helpers.labels import Known, Labels, LabelSettings, label_images
from helpers.reviews import ReviewLog
from helpers.scoring import Reconstructions

REVIEWS = "reviews.csv"
REVIEW_SCORES = "review_scores.npz"


@dataclass
class LabelSession:
    """What notebook 05 labels with, kept together so a relabel after reviews is quick."""

    run: RunDir
    image_ids: np.ndarray  # as in labels.csv
    class_names: tuple[str, ...]
    codes: np.ndarray  # (n, latent) the pile's codes
    reconstructions: Reconstructions  # of the pile, held or decoded on demand
    clusters: np.ndarray  # (n,)
    similarity: np.ndarray  # (n, n_examples) against the examples
    example_labels: np.ndarray
    example_codes: np.ndarray
    example_reconstructions: np.ndarray
    example_known: Known  # examples that are in the pile
    settings: LabelSettings
    made_from: str = ""  # what the pile's reconstructions were made from (codes.npz)
    ignored: list[tuple[int, str]] = field(default_factory=list)  # unusable review rows
    _columns: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _examples_among: np.ndarray | None = field(default=None, repr=False)

    @property
    def log(self) -> ReviewLog:
        return ReviewLog(self.run / REVIEWS)

    def reviewed(self) -> Known:
        """The reviews that apply (last row per image), read from ``reviews.csv``."""
        read = self.log.read(self.image_ids, self.class_names)
        self.ignored = read.ignored
        index = np.asarray(sorted(read.classes), np.int64)
        classes = np.asarray([read.classes[i] for i in index], np.int64)
        return Known.of(index, classes, "reviewed")

    def review_columns(self, index: np.ndarray) -> np.ndarray:
        """(n, len(index)) SSIM of every image against the reviewed images: columns already
        computed (in this session or saved in the run directory) are reused."""
        self._load_saved_columns()
        missing = [int(i) for i in index if int(i) not in self._columns]
        if missing:
            new = self.reconstructions.similarity(
                self.reconstructions[missing], max_val=self.settings.max_val
            )
            for j, i in enumerate(missing):
                self._columns[i] = np.asarray(new[:, j], np.float32)
            self._save_columns()
        if len(index) == 0:
            return np.zeros((len(self.reconstructions), 0), np.float32)
        return np.stack([self._columns[int(i)] for i in index], axis=1)

    def relabel(self) -> tuple[Labels, Calibration]:
        """Labels and a calibrated threshold from the examples and every review so far."""
        reviewed = self.reviewed()
        sim = np.concatenate([self.similarity, self.review_columns(reviewed.index)], axis=1)
        labels_all = np.concatenate([self.example_labels, reviewed.classes])
        known = self.example_known + reviewed
        example_codes = np.concatenate([self.example_codes, self.codes[reviewed.index]])
        labels = label_images(
            sim,
            labels_all,
            len(self.class_names),
            self.codes,
            self.clusters,
            self.settings,
            known,
            example_codes,
        )
        pile = PileScores(sim, self.codes, example_codes)
        recon = np.concatenate([self.example_reconstructions, self.reconstructions[reviewed.index]])
        return labels, calibrate_threshold(labels, recon, labels_all, self.settings, pile)

    def _load_saved_columns(self) -> None:
        if self._columns or not self.run.has(REVIEW_SCORES):
            return
        saved = self.run.load_fresh_arrays(REVIEW_SCORES, self._made_from())
        if saved is not None:
            self._columns = {int(i): saved["columns"][:, j] for j, i in enumerate(saved["index"])}

    def _save_columns(self) -> None:
        index = np.asarray(sorted(self._columns), np.int64)
        columns = np.stack([self._columns[int(i)] for i in index], axis=1)
        self.run.save_arrays(
            REVIEW_SCORES, index=index, columns=columns, made_from=np.asarray(self._made_from())
        )

    def _made_from(self) -> str:
        return fingerprint(self.made_from, self.settings.max_val)


REVIEW_ORDERS = ("least certain", "least certain, class by class", "random")


def review_order(labels: Labels, order: str = "least certain", seed: int = 0) -> np.ndarray:
    """Indices of the images not yet given a class by a person, in the order to review them.

    ``"least certain"`` (the default): smallest margin first, the labels the scores are
    most torn about, where a person's answer changes the most. ``"least certain, class by
    class"``: the same, taking each class's least certain in turn, so every class gets
    reviews. ``"random"``: a seeded shuffle, to measure what the order is worth.
    """
    open_ = np.flatnonzero(labels.known < 0) if labels.known is not None else np.arange(len(labels))
    ranked = open_[np.argsort(-labels.doubt[open_], kind="stable")]
    if order == "least certain":
        return ranked
    if order == "least certain, class by class":
        queues = [ranked[labels.label[ranked] == c] for c in np.unique(labels.label[ranked])]
        turns = np.concatenate([np.arange(len(q)) for q in queues])  # place in its class
        merged = np.concatenate(queues)
        return merged[np.argsort(turns, kind="stable")]
    if order == "random":
        return np.random.default_rng(seed).permutation(open_)
    raise ValueError(f"order must be one of {REVIEW_ORDERS}, not {order!r}")
