"""The pile's reconstructions and their SSIM against targets (examples, reviewed images).

Every reconstruction is the decoder's image for a code, so the pile needs only its codes:
a small pile keeps its reconstructions in memory (decoded once), a large one decodes them a
batch at a time whenever they are scored, and never holds them all. ``score_batch`` is the
per-image work (decode, then SSIM against every target), with no state beyond its
arguments, so it can run anywhere a batch of codes can be sent.
"""

from __future__ import annotations

import keras
import numpy as np
from tqdm.auto import tqdm

from helpers.model import decode
from helpers.ssim import DEFAULT_MAX_VAL, pairwise_ssim

KEEP_IN_MEMORY_UP_TO = 100_000  # reconstructions held (28x28 grey: 314 MB) up to this many
SCORE_BATCH = 8_192  # codes decoded and scored at a time beyond it


def score_batch(
    decoder: keras.Model, codes: np.ndarray, targets: np.ndarray, max_val: float = DEFAULT_MAX_VAL
) -> np.ndarray:
    """(len(codes), len(targets)) SSIM of each code's reconstruction with each target."""
    return pairwise_ssim(decode(decoder, codes), targets, max_val=max_val)


class Reconstructions:
    """The pile's reconstructions, indexable like an array: ``recon[i]``, ``recon[[i, j]]``.

    Held in memory up to ``keep_up_to`` images, else decoded from the codes on demand.
    """

    def __init__(
        self,
        decoder: keras.Model,
        codes: np.ndarray,
        keep_up_to: int = KEEP_IN_MEMORY_UP_TO,
        batch_size: int = SCORE_BATCH,
    ):
        self.decoder, self.codes, self.batch_size = decoder, np.asarray(codes), batch_size
        self.held = decode(decoder, self.codes) if len(self.codes) <= keep_up_to else None

    @classmethod
    def from_array(cls, reconstructions: np.ndarray) -> Reconstructions:
        """Reconstructions already made (for example by ``model.reconstruct``)."""
        out = cls.__new__(cls)  # nothing to decode: every attribute set here
        out.decoder, out.codes, out.batch_size = None, None, SCORE_BATCH
        out.held = np.asarray(reconstructions)
        return out

    def __len__(self) -> int:
        return len(self.held) if self.held is not None else len(self.codes)

    def __getitem__(self, index) -> np.ndarray:
        if self.held is not None:
            return self.held[index]
        codes = self.codes[index]
        return (
            decode(self.decoder, codes) if codes.ndim == 2 else decode(self.decoder, codes[None])[0]
        )

    def similarity(self, targets: np.ndarray, max_val: float = DEFAULT_MAX_VAL) -> np.ndarray:
        """(len(self), len(targets)) SSIM of every reconstruction with every target."""
        if self.held is not None:
            return pairwise_ssim(self.held, targets, max_val=max_val)
        out = np.empty((len(self), len(targets)), np.float32)
        starts = range(0, len(self), self.batch_size)
        for i in tqdm(starts, desc="scoring", unit="batch", leave=False):
            codes = self.codes[i : i + self.batch_size]
            out[i : i + len(codes)] = score_batch(self.decoder, codes, targets, max_val)
        return out
