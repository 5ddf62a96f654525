"""Settings chosen from the pile itself: colour or grey, the model's image size, and how
many epochs a training gets within its budget.

``COLOR = 'auto'`` and ``IMAGE_SIZE = 'auto'`` (a folder's defaults) look at a seeded sample
of the pile's files: colour when at least ``COLOR_SHARE`` of them show colour (an RGB file
whose channels agree is grey), and the largest of ``SIZES`` that the images' typical
shorter side fills and that still leaves ``MIN_EPOCHS`` of training within
``TRAINING_BUDGET``. An explicit value always wins; Fashion-MNIST stays 28 x 28 grey.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.data.images import not_a_regular_file

AUTO = "auto"
TRAINING_BUDGET = 120_000_000  # pixel-passes a default training gets: see default_epochs
SIZES = (64, 48, 32, 28)  # the sizes 'auto' picks from, largest first
MIN_EPOCHS = 8  # a larger size is taken only if the budget still trains this many epochs
COLOR_SHARE = 0.25  # share of sampled images showing colour above which the pile is colour
SAMPLE = 200  # files looked at
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def default_epochs(n_images: int, image_shape: tuple[int, int, int]) -> int:
    """Epochs for training on a pile: a budget of ``TRAINING_BUDGET`` pixel-passes (about
    150,000 images of 28x28 grey, a few minutes on a 2-core laptop CPU), so a 10,000-image
    pile gets 15 epochs and a 100,000-image pile 1; between 1 and 30."""
    pixels = int(np.prod(image_shape))
    return int(np.clip(round(TRAINING_BUDGET / max(1, n_images * pixels)), 1, 30))


@dataclass(frozen=True)
class PileLook:
    """What a sample of the pile's files showed, and the settings it suggests."""

    looked_at: int  # files of the sample that could be opened
    colour_share: float  # of those, the share showing colour
    short_side: int  # median shorter side, pixels
    color: str  # "rgb" or "grey"
    image_size: int

    def describe(self, n_images: int, chose_color: bool, chose_size: bool) -> str:
        """What 'auto' chose and why, in words (for notebook 01)."""
        parts = []
        if chose_color:
            parts.append(
                f"COLOR 'auto' -> {self.color!r}: {self.colour_share:.0%} of {self.looked_at} "
                f"sampled images show colour (colour from {COLOR_SHARE:.0%})"
            )
        if chose_size:
            channels = 3 if self.color == "rgb" else 1
            epochs = default_epochs(n_images, (self.image_size, self.image_size, channels))
            parts.append(
                f"IMAGE_SIZE 'auto' -> {self.image_size}: the images' typical shorter side is "
                f"{self.short_side} px; {n_images:,} images at this size get {epochs} epoch(s) "
                f"of training in the budget (a larger size only while >= {MIN_EPOCHS})"
            )
        return "; ".join(parts)


def look_at_pile(files: list[Path], seed: int = 0, sample: int = SAMPLE) -> PileLook:
    """Colour share and typical size of a seeded sample of ``files``, and the settings they
    suggest for a pile of ``len(files)`` images. Files that cannot be opened are passed over."""
    from PIL import Image

    files = list(files)
    picked = files
    if len(files) > sample:
        at = np.random.default_rng(seed).choice(len(files), sample, replace=False)
        picked = [files[i] for i in np.sort(at)]
    colourful, sides = [], []
    for path in picked:
        if not_a_regular_file(path):
            continue
        try:
            with Image.open(path) as img:
                sides.append(min(img.size))
                colourful.append(img.mode not in GREY_MODES and _shows_colour(img))
        except Exception:  # a broken file: the reader will skip it and say why
            continue
    share = float(np.mean(colourful)) if colourful else 0.0
    short = int(np.median(sides)) if sides else 28
    color = "rgb" if share >= COLOR_SHARE else "grey"
    channels = 3 if color == "rgb" else 1
    size = next(
        (
            s
            for s in SIZES
            if s <= short and default_epochs(len(files), (s, s, channels)) >= MIN_EPOCHS
        ),
        SIZES[-1],
    )
    return PileLook(len(colourful), share, short, color, size)


def _shows_colour(img, tolerance: int = 24, share: float = 0.05) -> bool:
    """Whether more than ``share`` of a small copy's pixels have channels that differ by more
    than ``tolerance`` (of 255): a grey picture saved as RGB has none."""
    if img.format == "JPEG":
        img.draft("RGB", (64, 64))
    img.seek(0)
    small = img.convert("RGB")
    small.thumbnail((32, 32))
    pixels = np.asarray(small, np.int16)
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return bool((spread > tolerance).mean() > share)


def is_auto(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == AUTO
