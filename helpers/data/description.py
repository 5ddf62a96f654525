"""What each image shows, as a short vector: the points of the neighbour graph.

Spreading, Poisson learning, calibration's held-out labels and the clusters all walk a
graph that links each image to the images nearest to it. How good the labels are depends
on what "near" means. The autoencoder's 10-number codes are no better neighbours than raw
pixels: trained for minutes, it learns what reconstructs well (background, lighting), not
what tells classes apart. A wavelet scattering transform (``helpers.data.scattering``)
needs no training and measures what edges and textures an image has, where: its square
root (which evens out strong and weak coefficients), projected on the pile's 100 main
directions (PCA fitted on a seeded sample of the pile), each direction scaled to unit
variance (whitened) and the vector to unit length (so nearness is cosine similarity).
How it compares with the codes on every pile with truth: docs/results.md (benchmarks/piles.py).

The projection is fitted once, on a sample; after that each image is described on its
own, a batch at a time, so memory grows with the batch and the sample, never the pile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.data.scattering import DEFAULT_ORIENTATIONS, padded_size, scattering

DIMENSIONS = 100  # directions of the pile kept (PCA)
FIT_SAMPLE = 20_000  # images the projection is fitted on, at most
FIT_FLOATS = 200_000_000  # and at most this many scattering coefficients (800 MB) in all
BATCH_BYTES = 256 * 2**20  # the transform's largest intermediate array, per batch


def scales_for(size: int) -> int:
    """``J``, the scattering's number of scales: windows of ``2**J`` pixels, 2 (4x4) for
    images up to 32 pixels a side, 3 (8x8) for larger ones."""
    return 2 if size <= 32 else 3


def batch_size(image_shape: tuple[int, int, int]) -> int:
    """Images transformed at a time, so the largest intermediate stays under BATCH_BYTES."""
    h, w, channels = image_shape
    J = scales_for(min(h, w))
    per_plane = DEFAULT_ORIENTATIONS**2 * padded_size(h, J) * padded_size(w, J) * 8
    return max(1, BATCH_BYTES // (per_plane * channels))


def scattering_features(images: np.ndarray) -> np.ndarray:
    """(n, features) square-rooted scattering coefficients of (n, h, w, channels) images in
    [0, 1], each colour channel on its own, a batch at a time (float32)."""
    images = np.asarray(images) if not isinstance(images, np.ndarray) else images
    h, w = images.shape[1:3]
    J, step = scales_for(min(h, w)), batch_size(tuple(images.shape[1:]))
    parts = []
    for i in range(0, len(images), step):
        coefficients = scattering(np.asarray(images[i : i + step], np.float32), J)
        parts.append(np.sqrt(np.maximum(coefficients, 0.0)).reshape(len(coefficients), -1))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class Description:
    """The fitted projection: scattering features -> ``dimensions`` whitened directions."""

    mean: np.ndarray  # (features,)
    components: np.ndarray  # (dimensions, features), each divided by its spread
    image_shape: tuple[int, int, int]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(n, dimensions) unit vectors describing (n, h, w, channels) images."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images of shape {tuple(images.shape[1:])} cannot be described by a "
                f"projection fitted on {self.image_shape}"
            )
        step = batch_size(self.image_shape)
        out = np.empty((len(images), len(self.components)), np.float32)
        for i in range(0, len(images), step):
            projected = (scattering_features(images[i : i + step]) - self.mean) @ self.components.T
            norms = np.linalg.norm(projected, axis=1, keepdims=True)
            out[i : i + step] = projected / np.maximum(norms, 1e-12)
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``from_arrays`` needs, to save in the run directory."""
        return {
            "mean": self.mean,
            "components": self.components,
            "image_shape": np.asarray(self.image_shape),
        }

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray]) -> Description:
        return Description(
            np.asarray(arrays["mean"], np.float32),
            np.asarray(arrays["components"], np.float32),
            tuple(int(s) for s in arrays["image_shape"]),
        )


def fit_description(images: np.ndarray, seed: int = 0, dimensions: int = DIMENSIONS) -> Description:
    """The projection fitted on a seeded sample of ``images`` (all of them if few)."""
    n = len(images)
    if n < 2:
        raise ValueError(f"{n} image(s) are too few to fit a description on")
    features_per_image = scattering_features(images[:1]).shape[1]
    size = min(n, FIT_SAMPLE, max(2, FIT_FLOATS // features_per_image))
    picked = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    features = scattering_features(images[picked] if size < n else images)
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
    components = (directions / spread[:, None]).astype(np.float32)
    return Description(mean.astype(np.float32), components, tuple(images.shape[1:]))
