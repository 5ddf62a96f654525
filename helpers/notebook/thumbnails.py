"""The gallery's pictures: an image as a PNG, and a bounded cache of the ones shown."""

from __future__ import annotations

import io

import numpy as np

CACHED = 4096  # PNGs kept; past this the cache starts again


def thumbnail_png(image: np.ndarray, scale: int = 2) -> bytes:
    """One image (H, W, C), uint8 or float in [0, 1], as a PNG, ``scale`` times larger."""
    from PIL import Image

    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.clip(pixels * 255 + 0.5, 0, 255).astype(np.uint8)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    img = Image.fromarray(pixels)
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


class Thumbnails:
    """Image ``i``'s PNG: from ``originals(i)`` (its file, larger) when given, else from
    ``images[i]`` scaled up; made when first shown and kept."""

    def __init__(self, images: np.ndarray, originals=None):
        self.images, self.originals = images, originals
        self._made: dict[int, bytes] = {}

    def png(self, i: int) -> bytes:
        if i not in self._made:
            if len(self._made) >= CACHED:
                self._made.clear()
            if self.originals is not None:
                self._made[i] = thumbnail_png(self.originals(i), scale=1)
            else:
                self._made[i] = thumbnail_png(self.images[i])
        return self._made[i]
