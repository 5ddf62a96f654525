"""The pile's SSIM against the examples and against every reviewed image, in one table.

A reviewed image is one more example: a relabel needs every image's SSIM against it, one
column, which at a million images is the slow part of a relabel. So each column is scored
once, while the person keeps reviewing (``score_ahead``, a background thread), kept in one
table beside the examples' columns (grown a block at a time, never copied on a relabel)
and saved in the run directory (``review_scores.npz``), where the next session finds it.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from helpers.core.run_dir import REVIEW_SCORES, RunDir
from helpers.labelling.scoring import Reconstructions

GROW_BY = 32  # columns added to the table at a time, at least

# One thread scores for every session of the process: SSIM already uses every core, and
# columns scored one after another never wait on each other's memory
_SCORER = ThreadPoolExecutor(1, thread_name_prefix="review-scores")


class ReviewScores:
    """``similarity`` (n, n_examples) against the examples, and columns against reviewed
    images added as they are needed."""

    def __init__(
        self,
        similarity: np.ndarray,
        reconstructions: Reconstructions,
        max_val: float,
        run: RunDir,
        made_from: str,
    ):
        self.n_examples = similarity.shape[1]
        self.columns: dict[int, int] = {}  # reviewed image -> its column of the table
        self._table, self._width = similarity, self.n_examples
        self._reconstructions, self._max_val = reconstructions, max_val
        self._run, self._made_from = run, made_from
        self._lock = threading.RLock()
        self._queued: set[int] = set()
        self._worker: Future | None = None
        self._loaded = False

    def score_ahead(self, images) -> None:
        """Start scoring the pile against ``images`` (reviewed just now) in the background;
        images reviewed while it runs are scored together next."""
        with self._lock:
            self._load_saved()
            self._queued.update(int(i) for i in images if int(i) not in self.columns)
            if self._queued and (self._worker is None or self._worker.done()):
                self._worker = _SCORER.submit(self._score_queued)

    def against(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (n, n_examples + len(images)) similarity against the examples and then
        ``images``, and the order of ``images`` its columns follow (a view of the table
        when it can be: columns in the order they were scored)."""
        images = np.asarray(images, np.int64)
        worker = self._worker
        if worker is not None:  # what the background thread is scoring, it finishes
            with contextlib.suppress(Exception):  # if it failed, scored again below
                worker.result()
        with self._lock:
            self._load_saved()
            missing = [int(i) for i in images if int(i) not in self.columns]
            if missing:
                self._add(missing)
            slots = np.asarray([self.columns[int(i)] for i in images], np.int64)
            order = np.argsort(slots, kind="stable")
            slots = slots[order]
            end = self.n_examples + len(slots)
            if np.array_equal(slots, np.arange(self.n_examples, end)):
                return self._table[:, :end], order
            picked = np.concatenate([np.arange(self.n_examples), slots])
            return self._table[:, picked], order  # a review was taken back: a gap

    def _score_queued(self) -> None:
        while True:
            with self._lock:
                todo = sorted(self._queued - self.columns.keys())
                self._queued.clear()
            if not todo:
                return
            self._add(todo, scored=self._score(todo))

    def _score(self, images: list[int]) -> np.ndarray:
        return self._reconstructions.similarity(
            self._reconstructions[images], max_val=self._max_val
        )

    def _add(self, images: list[int], scored: np.ndarray | None = None, save: bool = True) -> None:
        """Columns for ``images`` into the table (scored here unless given), then saved."""
        scored = self._score(images) if scored is None else scored
        with self._lock:
            fresh = [j for j, i in enumerate(images) if i not in self.columns]
            if not fresh:
                return
            n, needed = len(self._table), self._width + len(fresh)
            if needed > self._table.shape[1]:  # grow: a new table, once per GROW_BY columns
                grown = np.empty((n, max(needed, self._width + GROW_BY)), np.float32)
                grown[:, : self._width] = self._table[:, : self._width]
                self._table = grown
            self._table[:, self._width : needed] = scored[:, fresh]
            for k, j in enumerate(fresh):
                self.columns[images[j]] = self._width + k
            self._width = needed
            if save:
                self._save()

    def _load_saved(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self._run.has(REVIEW_SCORES):
            return
        saved = self._run.load_fresh_arrays(REVIEW_SCORES, self._made_from)
        if saved is not None and len(saved["index"]):
            self._add([int(i) for i in saved["index"]], saved["columns"], save=False)

    def _save(self) -> None:
        index = np.asarray(sorted(self.columns), np.int64)
        columns = self._table[:, [self.columns[int(i)] for i in index]]
        self._run.save_arrays(
            REVIEW_SCORES, index=index, columns=columns, made_from=np.asarray(self._made_from)
        )
