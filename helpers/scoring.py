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

from helpers import engine
from helpers.model import build_autoencoder, decode, encode
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


class ScoreImages:
    """Ray Data callable: a batch of decoded images in, each one's code and SSIM against
    every target out. Built once per actor: the model is loaded from its weights there, not
    sent with every batch."""

    def __init__(
        self,
        encoder_weights: list[np.ndarray],
        decoder_weights: list[np.ndarray],
        image_shape: tuple[int, int, int],
        latent_dim: int,
        targets: np.ndarray,
        max_val: float,
    ):
        _, self.encoder, self.decoder = build_autoencoder(image_shape, latent_dim)
        self.encoder.set_weights(encoder_weights)
        self.decoder.set_weights(decoder_weights)
        self.targets, self.max_val = np.asarray(targets, np.float32), max_val

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        codes = encode(self.encoder, batch["image"])
        similarity = score_batch(self.decoder, codes, self.targets, self.max_val)
        return {"index": batch["index"], "code": codes, "similarity": similarity}


def score_images_on_ray(
    images: np.ndarray,
    encoder,
    decoder,
    targets: np.ndarray,
    max_val: float,
    address: str | None = None,
    on_batch=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every image encoded, its code decoded and scored against ``targets`` on Ray: the
    codes (n, latent_dim) and SSIM (n, n_targets), in the images' order.

    ``images`` (memory-mapped, say) go to Ray's object store a batch at a time, owned by
    this process: a worker node lost on the way loses only the results in flight there,
    which Ray Data makes again. ``on_batch`` as in ``helpers.engine.read_files_on_ray``.
    """
    from ray.data.block import BlockAccessor

    latent_dim = int(encoder.output.shape[-1])
    codes = np.zeros((len(images), latent_dim), np.float32)
    similarity = np.zeros((len(images), len(targets)), np.float32)
    with engine.ray_cluster(address) as plan:
        print(f"Ray: encoding and scoring {len(images):,} images")
        blocks = (
            BlockAccessor.batch_to_block(
                {
                    "index": np.arange(i, min(i + engine.BATCH, len(images))),
                    "image": np.ascontiguousarray(images[i : i + engine.BATCH]),
                }
            )
            for i in range(0, len(images), engine.BATCH)
        )
        settings = {
            "encoder_weights": encoder.get_weights(),
            "decoder_weights": decoder.get_weights(),
            "image_shape": tuple(images.shape[1:]),
            "latent_dim": latent_dim,
            "targets": targets,
            "max_val": max_val,
        }
        done = 0
        for part in engine.map_blocks(blocks, ScoreImages, settings, plan):
            codes[part["index"]], similarity[part["index"]] = part["code"], part["similarity"]
            done += len(part["index"])
            if on_batch is not None:
                on_batch(done)
    return codes, similarity
