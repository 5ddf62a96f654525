"""A starting threshold from the class examples alone, since a user's pile has no truth.

Leave-one-out: each example is held out in turn and labelled from the other examples,
exactly as the images are (same combining, same spreading, same score); the threshold is
the loosest at which those held-out labels are still ``target_precision`` precise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.evaluation import precision_coverage_curve
from helpers.graph import knn_graph, mixing_steps, nearest_in, poisson, spread
from helpers.labels import (
    DEFAULT_SETTINGS,
    Labels,
    LabelSettings,
    assign_labels,
    blend_poisson,
    class_losses,
    example_places,
    spread_losses,
    uses_poisson,
)
from helpers.ssim import pairwise_ssim

# Beyond this many images a held-out example is spread through a seeded sample of the
# pile: its own graph is as good a neighbourhood, and spreading a column per example over
# a million images would cost minutes and gigabytes.
CALIBRATION_SAMPLE = 100_000


@dataclass(frozen=True)
class PileScores:
    """The pile being labelled, as spreading a held-out example needs it."""

    similarity: np.ndarray  # (n, n_examples) SSIM of each image against each example
    codes: np.ndarray  # (n, latent_dim) the images' codes
    example_codes: np.ndarray  # (n_examples, latent_dim) the examples' codes

    def sample(self, n: int, seed: int = 0) -> PileScores:
        """A seeded sample of ``n`` of the images (all of them if there are no more)."""
        if len(self.codes) <= n:
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self.codes), n, replace=False))
        return PileScores(self.similarity[idx], self.codes[idx], self.example_codes)


@dataclass(frozen=True)
class Calibration:
    """Where the threshold starts, and why."""

    threshold: float  # calibrated, or the median score when nothing can be held out
    calibrated: bool  # False: too few examples to hold one out
    method: str  # in words
    target_precision: float
    n_held_out: int  # examples that could be held out
    held_out_accepted: int  # of those, how many the threshold accepts
    held_out_precision: float  # and how many of them were right (NaN when none)

    @property
    def met_target(self) -> bool:
        """Whether the held-out examples reached the target precision at this threshold."""
        return self.calibrated and self.held_out_precision >= self.target_precision

    def __str__(self) -> str:
        if not self.calibrated:
            return f"threshold {self.threshold:.4f}: {self.method}"
        text = (
            f"threshold {self.threshold:.4f} ({self.method}): accepts "
            f"{self.held_out_accepted} of {self.n_held_out} held-out examples, "
            f"precision {self.held_out_precision:.3f} (target {self.target_precision})"
        )
        if not self.met_target:
            text += (
                "; no threshold keeps the held-out examples that precise, so this is the "
                "strictest one: do not trust these labels without looking"
            )
        return text


def calibrate_threshold(
    labels: Labels,
    example_reconstructions: np.ndarray,
    example_labels: np.ndarray,
    settings: LabelSettings = DEFAULT_SETTINGS,
    pile: PileScores | None = None,
    example_similarity: np.ndarray | None = None,
) -> Calibration:
    """The threshold for ``labels`` (made with ``settings``) that the examples support.

    A class with a single example cannot be held out; when fewer than two examples can,
    the threshold falls back to the median score (half the images accepted) and
    ``calibrated`` is False. With spreading (``settings.spread > 0``) a held-out example is
    spread as an image would be, which needs ``pile``: it joins the graph through its
    nearest images, whose losses are recomputed without it, so it never vouches for itself.
    With Poisson learning (``settings.poisson > 0``) its Poisson scores likewise come from
    the other examples only.
    ``example_similarity`` (examples x examples SSIM) saves computing it when it is known.
    """
    if labels.threshold_on != settings.threshold_on:
        raise ValueError(
            f"labels are thresholded on {labels.threshold_on!r}, settings on "
            f"{settings.threshold_on!r}: calibrate with the settings that made the labels"
        )
    poisson = pile is not None and uses_poisson(settings, len(pile.codes))
    if (settings.spread > 0 or settings.poisson > 0) and pile is None:
        raise ValueError("calibrating spread or Poisson labels needs the pile (PileScores)")
    example_labels = np.asarray(example_labels)
    n_classes = labels.class_losses.shape[1]
    if example_similarity is None:
        example_similarity = pairwise_ssim(
            example_reconstructions, example_reconstructions, max_val=settings.max_val
        )
    loo = _held_out_losses(np.asarray(example_similarity), example_labels, n_classes, settings)
    usable = np.isfinite(loo).all(axis=1)
    if usable.sum() < 2:
        return Calibration(
            threshold=float(np.median(labels.score)),
            calibrated=False,
            method="median score: too few examples to hold one out (a class has one)",
            target_precision=settings.target_precision,
            n_held_out=int(usable.sum()),
            held_out_accepted=0,
            held_out_precision=float("nan"),
        )
    through = ""
    if settings.spread > 0 or poisson:
        sample = pile.sample(CALIBRATION_SAMPLE)
        if sample is not pile:
            through = (
                f" through a sample of {len(sample.codes):,} of the {len(pile.codes):,} images"
            )
    if settings.spread > 0:
        loo[usable] = _spread_held_out(loo, example_labels, n_classes, settings, sample)[usable]
    if poisson:
        loo[usable] = _poisson_held_out(loo, example_labels, n_classes, settings, sample)[usable]
    held_out = assign_labels(
        loo[usable], np.zeros(int(usable.sum()), np.int64), 1, "image", settings.threshold_on
    )
    correct = held_out.label == example_labels[usable]
    _, precision, sorted_doubts = precision_coverage_curve(held_out.doubt, correct)
    ok = np.flatnonzero(precision >= settings.target_precision)
    if len(ok) and ok[-1] < len(sorted_doubts) - 1:
        # halfway to the first held-out example that would break the target
        doubt = float((sorted_doubts[ok[-1]] + sorted_doubts[ok[-1] + 1]) / 2)
    elif len(ok):
        doubt = float(sorted_doubts[-1])
    else:
        doubt = float(sorted_doubts[0])
    threshold = held_out.threshold_for_doubt(doubt)
    accepted = held_out.accepted(threshold)
    return Calibration(
        threshold=threshold,
        calibrated=True,
        method="leave-one-out on the examples"
        + (f", spread (alpha {settings.spread})" if settings.spread > 0 else "")
        + (f", Poisson learning (weight {settings.poisson})" if poisson else "")
        + through,
        target_precision=settings.target_precision,
        n_held_out=int(usable.sum()),
        held_out_accepted=int(accepted.sum()),
        held_out_precision=float(correct[accepted].mean()) if accepted.any() else float("nan"),
    )


def _held_out_losses(
    sim: np.ndarray, example_labels: np.ndarray, n_classes: int, settings
) -> np.ndarray:
    """(n_examples, n_classes): each example's losses against the *other* examples, from
    ``sim`` (examples x examples); inf where holding it out leaves its class empty."""
    loo = class_losses(sim, example_labels, n_classes, settings.aggregate)  # self included
    for c in range(n_classes):  # against its own class, leave itself out
        members = np.flatnonzero(example_labels == c)
        if len(members) < 2:
            loo[members] = np.inf
            continue
        without = _losses_without_each(sim[np.ix_(members, members)], settings.aggregate)
        loo[members, c] = np.diagonal(without)
    return loo


def _spread_held_out(
    loo: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    settings: LabelSettings,
    pile: PileScores,
) -> np.ndarray:
    """Each held-out example's losses spread as an image's would be, without itself.

    An example joins the graph through its nearest images: its spread losses are
    ``(1 - alpha) * own + alpha * mean over those images``. The images' losses for the
    example's class are recomputed without it (the other classes do not change); all
    those columns are spread together, in one pass over the graph.
    """
    alpha, k, aggregate = settings.spread, settings.n_neighbors, settings.aggregate
    graph = knn_graph(pile.codes, k)
    neighbours = nearest_in(pile.example_codes, pile.codes, k)
    spread_pile = spread(
        class_losses(pile.similarity, example_labels, n_classes, aggregate), graph, alpha
    )
    held = np.flatnonzero(np.isfinite(loo).all(axis=1))
    without = np.empty((len(pile.similarity), len(held)), np.float32)
    for c in np.unique(example_labels[held]):
        members = np.flatnonzero(example_labels == c)
        columns = _losses_without_each(pile.similarity[:, members], aggregate)
        for j, i in enumerate(held):
            if example_labels[i] == c:
                without[:, j] = columns[:, int(np.flatnonzero(members == i)[0])]
    spread_without = spread(without, graph, alpha, dtype=np.float32)  # many columns
    out = np.full_like(loo, np.inf)
    for j, i in enumerate(held):
        around = spread_pile[neighbours[i]].mean(axis=0)
        around[example_labels[i]] = spread_without[neighbours[i], j].mean()
        out[i] = (1 - alpha) * loo[i] + alpha * around
    return out


def _poisson_held_out(
    loo: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    settings: LabelSettings,
    pile: PileScores,
) -> np.ndarray:
    """Each held-out example's losses blended with its Poisson scores from the other
    examples, as ``label_images`` blends an image's.

    Poisson learning is linear in its sources, so the walk from each example's place is
    computed once (a column each); an example's scores without itself are the other
    columns weighted by their one-hot classes minus the others' mean, read where the
    example joins the graph. The blend's scale is the pile's, as when labelling it.
    """
    k = settings.n_neighbors
    graph = knn_graph(pile.codes, k)
    places = example_places(pile.codes, pile.example_codes, k)
    walks = poisson(graph, places.toarray(), mixing_steps(graph, np.unique(places.indices)))
    one_hot = np.eye(n_classes)[example_labels]
    pile_losses = spread_losses(
        class_losses(pile.similarity, example_labels, n_classes, settings.aggregate),
        pile.codes,
        settings.spread,
        k,
    )
    pile_scores = walks @ (one_hot - one_hot.mean(axis=0))
    scale = float(np.std(pile_losses)) / max(float(np.std(pile_scores)), 1e-30)
    out = np.full_like(loo, np.inf)
    places = places.tocsc()
    for i in np.flatnonzero(np.isfinite(loo).all(axis=1)):
        others = np.arange(len(example_labels)) != i
        rows = places.indices[places.indptr[i] : places.indptr[i + 1]]
        centred = one_hot[others] - one_hot[others].mean(axis=0)
        scores = (walks[np.ix_(rows, np.flatnonzero(others))] @ centred).mean(axis=0)
        out[i] = blend_poisson(loo[i], scores, settings.poisson, scale)
    return out


def _losses_without_each(similarity: np.ndarray, aggregate: str) -> np.ndarray:
    """(n, m): column j is one class's loss for every image with its example j left out
    (``similarity`` (n, m) against that class's m >= 2 examples), as ``class_losses``
    combines them, without recombining m times."""
    n, m = similarity.shape
    sim = np.asarray(similarity, np.float64)
    top = {"mean": m - 1, "top3": 3, "max": 1}[aggregate]
    k = min(top, m - 1)
    if aggregate == "mean" or k == m - 1:  # every other example counts
        return (1.0 - (sim.sum(axis=1, keepdims=True) - sim) / (m - 1)).astype(np.float32)
    # the k + 1 largest per image: leaving out one of the top k brings in the (k+1)-th
    order = np.argpartition(-sim, k, axis=1)[:, : k + 1]
    values = np.take_along_axis(sim, order, axis=1)
    rank = np.argsort(-values, axis=1, kind="stable")
    order, values = np.take_along_axis(order, rank, 1), np.take_along_axis(values, rank, 1)
    best_k, best_k1 = values[:, :k].sum(axis=1), values.sum(axis=1)
    out = np.empty((n, m), np.float64)
    for j in range(m):
        in_top = (order[:, :k] == j).any(axis=1)
        out[:, j] = np.where(in_top, best_k1 - sim[:, j], best_k) / k
    return (1.0 - out).astype(np.float32)
