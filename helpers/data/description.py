"""What each image shows, as a short vector: the points of the neighbour graph.

Spreading, Poisson learning, calibration's held-out labels and the clusters all walk a
graph that links each image to the images nearest to it. How good the labels are depends
on what "near" means. The autoencoder's 10-number codes are no better neighbours than raw
pixels: trained for minutes, it learns what reconstructs well (background, lighting), not
what tells classes apart. A wavelet scattering transform (``helpers.data.scattering``)
needs no training and measures what edges and textures an image has, where: its square
root (which evens out strong and weak coefficients), projected on the pile's 100 main
directions (PCA fitted on a seeded sample of the pile), each direction divided by its
spread to the power ``WHITEN`` (partly whitened: the weak directions count more than in the
pile, less than the strong ones) and the vector scaled to unit length (so nearness is
cosine similarity).
How it compares with the codes on every pile with truth: docs/results.md (benchmarks/piles.py).

The projection is fitted once, on a sample; after that each image is described on its
own, a batch at a time, so memory grows with the batch and the sample, never the pile.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from helpers.data.scattering import DEFAULT_ORIENTATIONS, padded_size, scattering

DIMENSIONS = 100  # directions of the pile kept (PCA)
FIT_SAMPLE = 20_000  # images the projection is fitted on, at most
FIT_FLOATS = 200_000_000  # and at most this many scattering coefficients (800 MB) in all
# Each direction divided by its spread to this power: 1 whitens (every direction counts
# the same), 0 keeps the pile's own spread. 0.75 labelled as well as 1 on Fashion-MNIST and
# USPS and far better on the photos and the steel (benchmarks/description.py)
WHITEN = 0.75
BATCH_BYTES = 256 * 2**20  # the transform's largest intermediate array, per batch (and core)


def recipe() -> tuple:
    """How descriptions are made, for the run directory's ``made_from``: another recipe
    describes the pile again."""
    return ("scattering", DEFAULT_ORIENTATIONS, "sqrt", DIMENSIONS, WHITEN, FIT_SAMPLE, FIT_FLOATS)


def scales_for(size: int) -> int:
    """``J``, the scattering's number of scales: windows of ``2**J`` pixels, 2 (4x4) for
    images up to 32 pixels a side, 3 (8x8) for larger ones."""
    return 2 if size <= 32 else 3


def batch_size(image_shape: tuple[int, int, int], J: int | None = None) -> int:
    """Images transformed at a time, so the largest intermediate stays under BATCH_BYTES."""
    h, w, channels = image_shape
    J = scales_for(min(h, w)) if J is None else J
    per_plane = DEFAULT_ORIENTATIONS**2 * padded_size(h, J) * padded_size(w, J) * 8
    return max(1, BATCH_BYTES // (per_plane * channels))


def scattering_features(images: np.ndarray, J: int | None = None) -> np.ndarray:
    """(n, features) square-rooted scattering coefficients of (n, h, w, channels) images
    (uint8, or float in [0, 1]), each colour channel on its own, a batch at a time (float32).
    ``J`` None: ``scales_for`` the images' size."""
    h, w = images.shape[1:3]
    J = scales_for(min(h, w)) if J is None else J
    step = batch_size(tuple(images.shape[1:]), J)
    scale = 1 / 255 if images.dtype == np.uint8 else 1.0
    parts = []
    for i in range(0, len(images), step):
        coefficients = scattering(np.asarray(images[i : i + step], np.float32) * scale, J)
        parts.append(np.sqrt(np.maximum(coefficients, 0.0)).reshape(len(coefficients), -1))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class Description:
    """The fitted projection: scattering features -> ``dimensions`` (partly) whitened directions."""

    mean: np.ndarray  # (features,)
    components: np.ndarray  # (dimensions, features), each divided by its spread ** WHITEN
    image_shape: tuple[int, int, int]
    scales: int  # J of the scattering

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(n, dimensions) unit vectors describing (n, h, w, channels) images."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images of shape {tuple(images.shape[1:])} cannot be described by a "
                f"projection fitted on {self.image_shape}"
            )
        step = batch_size(self.image_shape, self.scales)
        out = np.empty((len(images), len(self.components)), np.float32)

        def describe(i: int) -> None:
            features = scattering_features(images[i : i + step], self.scales)
            projected = (features - self.mean) @ self.components.T
            norms = np.linalg.norm(projected, axis=1, keepdims=True)
            out[i : i + step] = projected / np.maximum(norms, 1e-12)

        starts = range(0, len(images), step)
        if len(starts) <= 1:  # one batch (or no image): no threads
            for i in starts:
                describe(i)
            return out
        # the FFTs and array arithmetic release the GIL: a batch per core, in threads
        with ThreadPoolExecutor(min(len(starts), os.cpu_count() or 1)) as pool:
            list(
                tqdm(
                    pool.map(describe, starts),
                    total=len(starts),
                    desc="describing",
                    unit="batch",
                    leave=False,
                )
            )
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``from_arrays`` needs, to save in the run directory."""
        return {
            "mean": self.mean,
            "components": self.components,
            "image_shape": np.asarray(self.image_shape),
            "scales": np.asarray(self.scales),
        }

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray]) -> Description:
        return Description(
            np.asarray(arrays["mean"], np.float32),
            np.asarray(arrays["components"], np.float32),
            tuple(int(s) for s in arrays["image_shape"]),
            int(arrays["scales"]),
        )


def fit_description(
    images: np.ndarray,
    seed: int = 0,
    dimensions: int = DIMENSIONS,
    scales: int | None = None,
    whiten: float = WHITEN,
) -> Description:
    """The projection fitted on a seeded sample of ``images`` (all of them if few).
    ``scales``: J (None: ``scales_for`` the size); ``whiten``: each direction is divided by
    its spread to this power (1: whitened, 0: its own spread kept)."""
    n = len(images)
    if n < 2:
        raise ValueError(f"{n} image(s) are too few to fit a description on")
    J = scales_for(min(images.shape[1:3])) if scales is None else scales
    features_per_image = scattering_features(images[:1], J).shape[1]
    size = min(n, FIT_SAMPLE, max(2, FIT_FLOATS // features_per_image))
    picked = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    features = scattering_features(images[picked] if size < n else images, J)
    mean = features.mean(axis=0)
    centred = features - mean
    k = min(dimensions, *centred.shape)
    # the main directions, from whichever of the two Gram matrices is smaller
    if centred.shape[0] < centred.shape[1]:
        values, vectors = np.linalg.eigh((centred @ centred.T).astype(np.float64))
        order = np.argsort(values)[::-1][:k]
        directions = (centred.T @ vectors[:, order]).T  # (k, features)
        directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    else:
        values, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
        order = np.argsort(values)[::-1][:k]
        directions = vectors[:, order].T
    spread = np.sqrt(np.maximum(values[order], 1e-12) / max(len(features) - 1, 1))
    components = directions / spread[:, None] ** whiten
    return Description(
        mean.astype(np.float32), components.astype(np.float32), tuple(images.shape[1:]), J
    )
