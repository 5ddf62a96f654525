"""Random views of an image: the same thing, seen a little differently.

Training the codes of two views of one image to agree teaches the encoder what does not
change what an image shows (``helpers.model.training``, ``Recipe.invariance``). Every change
here is small and leaves most kinds of image what they were: a few degrees of rotation, a tenth of
scale, two pixels of shift, some contrast and brightness, a small square hidden. Mirroring
is off unless asked for: a mirrored shoe is a shoe, a mirrored letter is another letter.
``shift_and_mirror`` is the plainer augmentation of ``train(augment=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViewSettings:
    """How far a view may stray from its image. Every field at 0 (and no mirror) is the
    image itself."""

    rotate_degrees: float = 10.0  # each way
    scale: float = 0.1  # 1 - scale .. 1 + scale
    shift: float = 2.0  # pixels, each way
    contrast: float = 0.2  # pixel values around the image's mean times 1 +- contrast
    brightness: float = 0.1  # added, +- (images in [0, 1])
    occlude: float = 0.25  # hidden square's side over the image's, in half the views
    mirror: bool = False  # left-right, half the views: only where the classes allow it


DEFAULT_VIEWS = ViewSettings()


def random_views(
    images: np.ndarray, rng: np.random.Generator, settings: ViewSettings = DEFAULT_VIEWS
) -> np.ndarray:
    """One random view of each of ``images`` (N, H, W, C), float32 in [0, 1] in and out."""
    images = np.asarray(images, np.float32)
    n, h, w, _ = images.shape
    out = _affine(images, rng, settings)
    if settings.mirror:
        flip = rng.random(n) < 0.5
        out[flip] = out[flip, :, ::-1]
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    gain = 1.0 + rng.uniform(-settings.contrast, settings.contrast, (n, 1, 1, 1))
    offset = rng.uniform(-settings.brightness, settings.brightness, (n, 1, 1, 1))
    out = np.clip((out - mean) * gain + mean + offset, 0.0, 1.0).astype(np.float32)
    side_h, side_w = int(round(settings.occlude * h)), int(round(settings.occlude * w))
    if side_h and side_w:
        hide = np.flatnonzero(rng.random(n) < 0.5)
        top = rng.integers(0, h - side_h + 1, len(hide))
        left = rng.integers(0, w - side_w + 1, len(hide))
        ys, xs = np.arange(h)[None, :], np.arange(w)[None, :]
        rows = (ys >= top[:, None]) & (ys < (top + side_h)[:, None])
        cols = (xs >= left[:, None]) & (xs < (left + side_w)[:, None])
        out[hide] *= ~(rows[:, :, None, None] & cols[:, None, :, None])
    return out


def _affine(images: np.ndarray, rng: np.random.Generator, settings: ViewSettings) -> np.ndarray:
    """Each image rotated, scaled and shifted about its centre (bilinear, zeros outside)."""
    n, h, w, _ = images.shape
    angle = np.deg2rad(rng.uniform(-settings.rotate_degrees, settings.rotate_degrees, n))
    scale = 1.0 + rng.uniform(-settings.scale, settings.scale, n)
    shift = rng.uniform(-settings.shift, settings.shift, (n, 2))
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # where each output pixel comes from: the inverse rotation and scale of its offset
    dy = np.arange(h)[None, :, None] - cy - shift[:, 0, None, None]
    dx = np.arange(w)[None, None, :] - cx - shift[:, 1, None, None]
    cos = (np.cos(angle) / scale)[:, None, None]
    sin = (np.sin(angle) / scale)[:, None, None]
    src_y = cos * dy - sin * dx + cy
    src_x = sin * dy + cos * dx + cx
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))  # zeros around
    y0 = np.clip(np.floor(src_y), -1, h).astype(np.int64)
    x0 = np.clip(np.floor(src_x), -1, w).astype(np.int64)
    wy = np.clip(src_y - y0, 0.0, 1.0)[..., None].astype(np.float32)
    wx = np.clip(src_x - x0, 0.0, 1.0)[..., None].astype(np.float32)
    batch = np.arange(n)[:, None, None]

    def at(y, x):
        return padded[batch, np.clip(y + 1, 0, h + 1), np.clip(x + 1, 0, w + 1)]

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def shift_and_mirror(
    images: np.ndarray, rng: np.random.Generator, max_shift: int = 2
) -> np.ndarray:
    """Each image moved by up to ``max_shift`` pixels each way (zeros fill in), and
    mirrored left-right with probability 1/2."""
    n, h, w = images.shape[:3]
    padded = np.pad(images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out
