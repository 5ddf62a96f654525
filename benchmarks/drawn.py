"""The loop the label benchmarks share: a seeded draw of class examples from Fashion-MNIST's
training split, their reconstructions scored against the pile's by SSIM, and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.data.fashion_mnist import choose_examples
from helpers.labelling.evaluation import label_quality
from helpers.labelling.labels import Labels, label_images
from helpers.labelling.settings import DEFAULT_SETTINGS, LabelSettings
from helpers.model.autoencoder import encode, reconstruct
from helpers.ssim import pairwise_ssim


@dataclass(frozen=True)
class Draw:
    """``per_class`` examples of each class drawn with seed ``draw``, scored against the pile."""

    labels: np.ndarray  # each example's class
    reconstructions: np.ndarray
    codes: np.ndarray
    similarity: np.ndarray  # (pile, examples) SSIM of the reconstructions


def draw_examples(autoencoder, encoder, train, pile_reconstructions, per_class: int, draw: int):
    """The examples of draw ``draw`` from ``train`` (images, classes), scored against the pile."""
    x_train, y_train = train
    idx = choose_examples(y_train, per_class, seed=draw)
    reconstructions = reconstruct(autoencoder, x_train[idx])
    return Draw(
        y_train[idx],
        reconstructions,
        encode(encoder, x_train[idx]),
        pairwise_ssim(pile_reconstructions, reconstructions),
    )


def label_draw(drawn: Draw, codes, clusters, settings: LabelSettings = DEFAULT_SETTINGS) -> Labels:
    """The pile labelled from one draw's examples (10 classes)."""
    return label_images(
        drawn.similarity, drawn.labels, 10, codes, clusters, settings, example_codes=drawn.codes
    )


def mean_of(rows: list[dict]) -> dict:
    """Each measure's mean over the draws."""
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def quality_over_draws(
    autoencoder, encoder, data, pile, per_class: int, draws: int, labellings: dict
) -> dict:
    """``label_quality`` of each of ``labellings`` (name: settings), averaged over ``draws``
    seeded draws of ``per_class`` examples a class. ``data``: Fashion-MNIST's two splits;
    ``pile``: the test split's (codes, reconstructions, clusters)."""
    (x_train, y_train), (_, y_test) = data
    codes, recon, clusters = pile
    rows = {name: [] for name in labellings}
    for draw in range(draws):
        drawn = draw_examples(autoencoder, encoder, (x_train, y_train), recon, per_class, draw)
        for name, settings in labellings.items():
            rows[name].append(label_quality(label_draw(drawn, codes, clusters, settings), y_test))
    return {name: mean_of(rs) for name, rs in rows.items()}
