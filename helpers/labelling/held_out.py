"""Labels for the held-out examples: each example left out in turn and labelled from the
others exactly as an image of the pile is (the same combining, spreading and Poisson
learning), without ever vouching for itself. ``helpers.labelling.calibration`` turns them into a
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.core.graph import knn_graph, nearest_in, poisson, spread
from helpers.labelling.labels import class_losses, spread_losses
from helpers.labelling.poisson import (
    blend_poisson,
    class_weights,
    example_places,
    poisson_walk_steps,
)
from helpers.labelling.settings import LabelSettings


@dataclass(frozen=True)
class PileScores:
    """The pile being labelled, as spreading a held-out example needs it."""

    similarity: np.ndarray  # (n, n_examples) SSIM of each image against each example
    codes: np.ndarray  # (n, latent_dim) the images' codes
    example_codes: np.ndarray  # (n_examples, latent_dim) the examples' codes
    poisson_steps: int | None = None  # as labelling walked (None: the examples' mixing)

    def sample(self, n: int, seed: int = 0) -> PileScores:
        """A seeded sample of ``n`` of the images (all of them if there are no more)."""
        if len(self.codes) <= n:
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self.codes), n, replace=False))
        return PileScores(
            self.similarity[idx], self.codes[idx], self.example_codes, self.poisson_steps
        )


def held_out_losses(
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
        without = losses_without_each(sim[np.ix_(members, members)], settings.aggregate)
        loo[members, c] = np.diagonal(without)
    return loo


def spread_held_out(
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
        columns = losses_without_each(pile.similarity[:, members], aggregate)
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


def poisson_held_out(
    loo: np.ndarray,
    example_labels: np.ndarray,
    n_classes: int,
    settings: LabelSettings,
    pile: PileScores,
    n_person: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each held-out example's losses blended with its Poisson scores from the other
    examples, as ``label_images`` blends an image's; and, when reviews follow the first
    ``n_person`` examples (the person's), the same from the other person's examples alone
    (the confidence's second opinion; else None).

    Poisson learning is linear in its sources, so an example's scores without itself are
    the walk from all the sources of each class, and from all sources together, less its
    own walk, weighed as ``poisson_sources`` weighs the others (``_balanced``), read where
    it joins
    the graph: one walk of a few columns per group of sources plus one per held-out
    example, however many reviews are sources too. The blend's scale is the pile's, as
    when labelling it.
    """
    k = settings.n_neighbors
    graph = knn_graph(pile.codes, k)
    places = example_places(pile.codes, pile.example_codes, k).tocsc()
    steps = pile.poisson_steps or poisson_walk_steps(pile.codes, pile.example_codes, k)
    held = np.flatnonzero(np.isfinite(loo).all(axis=1))  # the person's examples only
    one_hot = np.eye(n_classes)[example_labels]
    m = len(example_labels)
    person = m if n_person is None else n_person
    groups = [np.arange(m)] + ([np.arange(person)] if person < m else [])
    columns = []
    for group in groups:
        columns += [places[:, group] @ one_hot[group], np.asarray(places[:, group].sum(axis=1))]
    columns.append(places[:, held].toarray())
    walks = poisson(graph, np.hstack(columns), steps, dtype=np.float64)  # sums less a part
    own = walks[:, walks.shape[1] - len(held) :]
    pile_losses = spread_losses(
        class_losses(pile.similarity, example_labels, n_classes, settings.aggregate),
        pile.codes,
        settings.spread,
        k,
    )
    outs = []
    for g, group in enumerate(groups):
        by_class = walks[:, g * (n_classes + 1) : g * (n_classes + 1) + n_classes]
        total = walks[:, g * (n_classes + 1) + n_classes]
        counts = one_hot[group].sum(axis=0)
        pile_scores = _balanced(by_class, total, counts)
        scale = float(np.std(pile_losses)) / max(float(np.std(pile_scores)), 1e-30)
        out = np.full_like(loo, np.inf)
        for j, i in enumerate(held):
            rows = places.indices[places.indptr[i] : places.indptr[i + 1]]
            of_class = by_class[rows] - own[rows, j : j + 1] * one_hot[i]
            of_all = total[rows] - own[rows, j]
            scores = _balanced(of_class, of_all, counts - one_hot[i]).mean(axis=0)
            out[i] = blend_poisson(loo[i], scores, settings.poisson, scale)
        outs.append(out)
    return outs[0], (outs[1] if len(outs) > 1 else None)


def _balanced(by_class: np.ndarray, total: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Poisson scores from the walks of each class's sources (unweighted) and of all of
    them, weighed as ``poisson_sources`` weighs them: a walk is linear in its sources."""
    weights = class_weights(counts)
    return by_class * weights - total[:, None] * (counts * weights / counts.sum())


def losses_without_each(similarity: np.ndarray, aggregate: str) -> np.ndarray:
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
