"""Poisson learning from the examples (Calder et al., ICML 2020): where each example joins
the codes' neighbour graph, how long the walk goes, the class scores it gives, and how
they are blended with the SSIM losses. ``helpers.core.graph`` has the walk itself."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from helpers.core.graph import DEFAULT_NEIGHBOURS, knn_graph, mixing_steps, nearest_in, poisson
from helpers.data.fashion_mnist import check_examples_cover_classes


def example_places(
    codes: np.ndarray, example_codes: np.ndarray, n_neighbors: int = DEFAULT_NEIGHBOURS
) -> sparse.csr_matrix:
    """(n, n_examples): where each example joins the pile's graph, an equal share on each
    of its ``n_neighbors`` nearest images (an example that is in the pile is among them)."""
    nearest = nearest_in(example_codes, codes, n_neighbors)
    m = len(nearest)
    return sparse.csr_matrix(
        (
            np.full(nearest.size, 1.0 / n_neighbors),
            (nearest.ravel(), np.repeat(np.arange(m), n_neighbors)),
        ),
        shape=(len(codes), m),
    )


# Each source of a class weighs 1 / (its class's sources) ** SOURCE_BALANCE, so that a class
# many of whose images a person reviewed does not drown the others. Unweighted (0), reviews
# of the least certain images, which crowd into a few classes, pulled the labels towards
# those classes: neu-steel fell from 0.862 to 0.727 accuracy after 100 reviews. One draw
# each, accuracy after 100 / 200 reviews (500 on Fashion-MNIST), by power 0 / 0.5 / 1:
# neu-steel 0.727 / 0.911 / 0.919 (100); intel-scenes 0.670 / 0.684 / 0.673 (200);
# Fashion-MNIST 0.872 / 0.870 / 0.865 (500), whose best share at 0.95 fell at 1 (0.706 /
# 0.693 / 0.670). 0.5 loses nowhere that one draw can tell.
SOURCE_BALANCE = 0.5


def class_weights(counts: np.ndarray) -> np.ndarray:
    """The weight of one source of each class, from how many sources each class has."""
    return np.maximum(np.asarray(counts, np.float64), 1.0) ** -SOURCE_BALANCE


def poisson_sources(example_labels, n_classes: int) -> np.ndarray:
    """(n_examples, n_classes): each example's source, its one-hot class weighed by
    ``class_weights``, less the mean source (so each class's sources sum to 0 over the
    graph, as a Poisson equation on a graph needs)."""
    one_hot = np.eye(n_classes)[np.asarray(example_labels)]
    weighted = one_hot * class_weights(one_hot.sum(axis=0))
    return weighted - weighted.mean(axis=0)


def poisson_scores(
    codes: np.ndarray,
    example_codes: np.ndarray,
    example_labels,
    n_classes: int,
    n_neighbors: int = DEFAULT_NEIGHBOURS,
    steps: int | None = None,
) -> np.ndarray:
    """(n, n_classes) Poisson learning on the codes' graph: each example a source of its
    one-hot class minus the examples' mean, where it joins the graph; larger is more
    likely (Calder et al., 2020), each class's sources weighed alike (``poisson_sources``).
    Uses the examples' places only, not their SSIM.
    ``steps`` None: ``poisson_walk_steps`` of these examples."""
    example_labels = np.asarray(example_labels)
    check_examples_cover_classes(example_labels, n_classes)
    graph = knn_graph(codes, n_neighbors)
    places = example_places(codes, example_codes, n_neighbors)
    if steps is None:
        steps = poisson_walk_steps(codes, example_codes, n_neighbors)
    return poisson(graph, places @ poisson_sources(example_labels, n_classes), steps)


# The fewest steps Poisson learning walks. The paper's rule alone stops at its minimum of 50
# on both piles measured (the walk from the examples mixes at once); 100 steps labelled
# better on both, Fashion-MNIST (10 examples a class) and USPS (5 a digit), in accuracy and
# in the share kept at precision 0.95; 200 kept more but were less accurate on
# Fashion-MNIST (docs/quality.md).
POISSON_MIN_STEPS = 100


def poisson_walk_steps(
    codes: np.ndarray, example_codes: np.ndarray, n_neighbors: int = DEFAULT_NEIGHBOURS
) -> int:
    """How long Poisson learning walks from these examples: until a walk begun at their
    nodes has mixed (``graph.mixing_steps``, the paper's rule).

    A session computes it once, from its person's examples, and keeps it however many
    reviews join them as sources: reviews sit at class boundaries all over the graph, so a
    walk from them mixes sooner, and a shorter walk leaves the class scores near each
    reviewed image dominated by its own source."""
    graph = knn_graph(codes, n_neighbors)
    return mixing_steps(graph, example_nodes(codes, example_codes), min_steps=POISSON_MIN_STEPS)


def example_nodes(codes: np.ndarray, example_codes: np.ndarray) -> np.ndarray:
    """Each example's nearest image: where the paper's walk starts (at the labelled nodes;
    an example need not be in the pile, so it stands at its nearest image)."""
    return np.unique(nearest_in(example_codes, codes, 1).ravel())


def blend_poisson(
    losses: np.ndarray, scores: np.ndarray, weight: float, scale: float | None = None
) -> np.ndarray:
    """``(1 - weight) * losses - weight * scale * scores``; by default ``scale`` brings the
    Poisson scores to the losses' standard deviation, so the result (and its margins)
    stays in SSIM-loss units."""
    if scale is None:
        scale = float(np.std(losses)) / max(float(np.std(scores)), 1e-30)
    return ((1.0 - weight) * losses - weight * scale * scores).astype(np.float32)
