"""The loop the label benchmarks share: a seeded draw of class examples from Fashion-MNIST's
training split, their reconstructions scored against the pile's by SSIM, and labels on the
neighbour graph the settings name (the pile's description, or its codes)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from helpers.data.description import Description
from helpers.data.fashion_mnist import choose_examples
from helpers.labelling.evaluation import label_quality
from helpers.labelling.labels import Labels, label_images
from helpers.labelling.settings import DEFAULT_SETTINGS, LabelSettings
from helpers.model.autoencoder import encode, reconstruct
from helpers.ssim import pairwise_ssim


@dataclass(frozen=True)
class Points:
    """The pile's places in the two graphs a labelling may walk."""

    codes: np.ndarray
    description: np.ndarray | None = None  # None: only the codes' graph is measured

    def of(self, settings: LabelSettings) -> np.ndarray:
        return settings.graph_points(self.codes, self.description)


@dataclass(frozen=True)
class Draw:
    """``per_class`` examples of each class drawn with seed ``draw``, scored against the pile."""

    labels: np.ndarray  # each example's class
    reconstructions: np.ndarray
    points: Points  # the examples' codes and description
    similarity: np.ndarray  # (pile, examples) SSIM of the reconstructions


def draw_examples(
    autoencoder,
    encoder,
    train,
    pile_reconstructions,
    per_class: int,
    draw: int,
    description: Description | None = None,
):
    """The examples of draw ``draw`` from ``train`` (images, classes), scored against the
    pile, and described by ``description`` (the pile's; None: not described)."""
    x_train, y_train = train
    idx = choose_examples(y_train, per_class, seed=draw)
    reconstructions = reconstruct(autoencoder, x_train[idx])
    described = None if description is None else description(x_train[idx])
    return Draw(
        y_train[idx],
        reconstructions,
        Points(encode(encoder, x_train[idx]), described),
        pairwise_ssim(pile_reconstructions, reconstructions),
    )


def label_draw(
    drawn: Draw, pile: Points, clusters, settings: LabelSettings = DEFAULT_SETTINGS
) -> Labels:
    """The pile labelled from one draw's examples (10 classes)."""
    return label_images(
        drawn.similarity,
        drawn.labels,
        10,
        pile.of(settings),
        clusters,
        settings,
        example_codes=drawn.points.of(settings),
    )


def mean_of(rows: list[dict]) -> dict:
    """Each measure's mean over the draws."""
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def quality_over_draws(
    autoencoder, encoder, data, pile, per_class: int, draws: int, labellings: dict
) -> dict:
    """``label_quality`` of each of ``labellings`` (name: settings), averaged over ``draws``
    seeded draws of ``per_class`` examples a class. ``data``: Fashion-MNIST's two splits;
    ``pile``: the test split's (codes, reconstructions, clusters); what is measured is the
    codes, so the labellings walk the codes' graph."""
    (x_train, y_train), (_, y_test) = data
    codes, recon, clusters = pile
    rows = {name: [] for name in labellings}
    for draw in range(draws):
        drawn = draw_examples(autoencoder, encoder, (x_train, y_train), recon, per_class, draw)
        for name, settings in labellings.items():
            labels = label_draw(drawn, Points(codes), clusters, replace(settings, graph="codes"))
            rows[name].append(label_quality(labels, y_test))
    return {name: mean_of(rs) for name, rs in rows.items()}
