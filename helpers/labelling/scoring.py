"""The pile's reconstructions and their SSIM against targets (examples, reviewed images).

Every reconstruction is the decoder's image for a code, so the pile needs only its codes:
a small pile keeps its reconstructions in memory (decoded once), a large one decodes them a
batch at a time into a memory-mapped file of the run directory, and never holds them all.
``score_batch`` is the per-image work (decode, then SSIM against every target), with no
state beyond its arguments, so it can run anywhere a batch of codes can be sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
from tqdm.auto import tqdm

from helpers.core import engine
from helpers.core.run_dir import RunDir
from helpers.data.description import Description
from helpers.model.autoencoder import build_autoencoder, decode, encode
from helpers.ssim import DEFAULT_MAX_VAL, pairwise_ssim

KEEP_IN_MEMORY_UP_TO = 100_000  # reconstructions held (28x28 grey: 314 MB) up to this many
SCORE_BATCH = 8_192  # codes decoded and scored at a time beyond it
RECONSTRUCTIONS = "reconstructions"  # a large pile's, float16, in the run directory


def score_batch(
    decoder: keras.Model, codes: np.ndarray, targets: np.ndarray, max_val: float = DEFAULT_MAX_VAL
) -> np.ndarray:
    """(len(codes), len(targets)) SSIM of each code's reconstruction with each target."""
    return pairwise_ssim(decode(decoder, codes), targets, max_val=max_val)


class Reconstructions:
    """The pile's reconstructions, indexable like an array: ``recon[i]``, ``recon[[i, j]]``.

    Held in memory up to ``keep_up_to`` images. Beyond that, with a run directory
    (``store``), they are decoded once, the first time all of them are scored, into a
    memory-mapped float16 file there (``reconstructions-<made_from>.npy``; 1.6 GB per
    million 28x28 grey images), and read from it after: a relabel after reviews at a
    million images scores the new columns without decoding the pile again. float16 keeps
    a pixel to within 2.5e-4 of its float32 value, and an SSIM to within about 2e-4 (a
    test): such a pile is scored from the float16 values every time, the first included.
    Without a ``store`` they are decoded from the codes on demand.
    """

    def __init__(
        self,
        decoder: keras.Model,
        codes: np.ndarray,
        keep_up_to: int = KEEP_IN_MEMORY_UP_TO,
        batch_size: int = SCORE_BATCH,
        store: tuple[RunDir, str] | None = None,
    ):
        self.decoder, self.codes, self.batch_size = decoder, np.asarray(codes), batch_size
        self.held = decode(decoder, self.codes) if len(self.codes) <= keep_up_to else None
        self.store = store if self.held is None else None
        self.on_disk = self._saved() if self.store is not None else None

    @classmethod
    def from_array(cls, reconstructions: np.ndarray) -> Reconstructions:
        """Reconstructions already made (for example by ``model.reconstruct``)."""
        out = cls.__new__(cls)  # nothing to decode: every attribute set here
        out.decoder, out.codes, out.batch_size = None, None, SCORE_BATCH
        out.held, out.store, out.on_disk = np.asarray(reconstructions), None, None
        return out

    def __len__(self) -> int:
        return len(self.held) if self.held is not None else len(self.codes)

    def __getitem__(self, index) -> np.ndarray:
        if self.held is not None:
            return self.held[index]
        if self.on_disk is not None:
            return np.asarray(self.on_disk[index], np.float32)
        codes = self.codes[index]
        return (
            decode(self.decoder, codes) if codes.ndim == 2 else decode(self.decoder, codes[None])[0]
        )

    def similarity(self, targets: np.ndarray, max_val: float = DEFAULT_MAX_VAL) -> np.ndarray:
        """(len(self), len(targets)) SSIM of every reconstruction with every target."""
        if self.held is not None:
            return pairwise_ssim(self.held, targets, max_val=max_val)
        out = np.empty((len(self), len(targets)), np.float32)
        if self.on_disk is None and self.store is not None:
            run, made_from = self.store
            shape = (len(self), *self.decoder.output.shape[1:])

            def scored_as_stored() -> Iterator[np.ndarray]:
                for i, batch in self._batches(lambda i, j: decode(self.decoder, self.codes[i:j])):
                    stored = batch.astype(np.float16)
                    out[i : i + len(batch)] = pairwise_ssim(
                        stored.astype(np.float32), targets, max_val=max_val
                    )
                    yield stored

            for stale in run.path.glob(f"{RECONSTRUCTIONS}-*.npy"):
                stale.unlink()
            name = f"{RECONSTRUCTIONS}-{made_from}.npy"
            run.save_array_in_rows(name, shape, np.float16, scored_as_stored())
            self.on_disk = self._saved()
            return out
        if self.on_disk is not None:
            parts = self._batches(self._stored_rows)
        else:
            parts = self._batches(lambda i, j: decode(self.decoder, self.codes[i:j]))
        for i, batch in parts:
            out[i : i + len(batch)] = pairwise_ssim(batch, targets, max_val=max_val)
        return out

    def _stored_rows(self, i: int, j: int) -> np.ndarray:
        """Rows ``i:j`` of the stored reconstructions as float32, read with a plain read:
        a pass over the pile leaves its pages in the file cache, not in this process."""
        disk = self.on_disk
        row = int(np.prod(disk.shape[1:]))
        with open(disk.filename, "rb") as fh:
            fh.seek(disk.offset + i * row * disk.itemsize)
            rows = np.fromfile(fh, dtype=disk.dtype, count=(j - i) * row)
        return rows.reshape(j - i, *disk.shape[1:]).astype(np.float32)

    def _batches(self, make) -> Iterator[tuple[int, np.ndarray]]:
        """``(i, make(i, i + batch_size))`` over the pile, with a progress bar."""
        starts = range(0, len(self), self.batch_size)
        for i in tqdm(starts, desc="scoring", unit="batch", leave=False):
            yield i, make(i, min(i + self.batch_size, len(self)))

    def _saved(self) -> np.ndarray | None:
        """The stored reconstructions of these codes, memory-mapped (None: not stored yet)."""
        run, made_from = self.store
        name = f"{RECONSTRUCTIONS}-{made_from}.npy"
        if not run.has(name):
            return None
        saved = run.load_array(name)
        return saved if len(saved) == len(self.codes) else None


class ScoreImages:
    """Ray Data callable: a batch of decoded images in, each one's code, SSIM against every
    target and (given a fitted description) its description out. Built once per actor: the
    model is loaded from its weights there, not sent with every batch."""

    def __init__(
        self,
        encoder_weights: list[np.ndarray],
        decoder_weights: list[np.ndarray],
        image_shape: tuple[int, int, int],
        latent_dim: int,
        targets: np.ndarray,
        max_val: float,
        description: dict[str, np.ndarray] | None = None,
    ):
        _, self.encoder, self.decoder = build_autoencoder(image_shape, latent_dim)
        self.describe = None if description is None else Description.from_arrays(description)
        self.encoder.set_weights(encoder_weights)
        self.decoder.set_weights(decoder_weights)
        self.targets, self.max_val = np.asarray(targets, np.float32), max_val

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        codes = encode(self.encoder, batch["image"])
        similarity = score_batch(self.decoder, codes, self.targets, self.max_val)
        out = {"index": batch["index"], "code": codes, "similarity": similarity}
        if self.describe is not None:
            out["point"] = self.describe(batch["image"])
        return out


def score_images_on_ray(
    images: np.ndarray,
    encoder,
    decoder,
    targets: np.ndarray,
    max_val: float,
    address: str | None = None,
    on_batch=None,
    description: Description | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Every image encoded, its code decoded and scored against ``targets`` on Ray, and
    (given a fitted ``description``) described: the codes (n, latent_dim), SSIM
    (n, n_targets) and descriptions (n, dimensions; None without one), in the images' order.

    ``images`` (memory-mapped, say) go to Ray's object store a batch at a time, owned by
    this process: a worker node lost on the way loses only the results in flight there,
    which Ray Data makes again. ``on_batch`` as in ``helpers.data.read_on_ray.read_files_on_ray``.
    """
    from ray.data.block import BlockAccessor

    latent_dim = int(encoder.output.shape[-1])
    codes = np.zeros((len(images), latent_dim), np.float32)
    similarity = np.zeros((len(images), len(targets)), np.float32)
    points = (
        None
        if description is None
        else np.zeros((len(images), len(description.components)), np.float32)
    )
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
            "description": None if description is None else description.arrays(),
        }
        done = 0
        for part in engine.map_blocks(blocks, ScoreImages, settings, plan):
            codes[part["index"]], similarity[part["index"]] = part["code"], part["similarity"]
            if points is not None:
                points[part["index"]] = part["point"]
            done += len(part["index"])
            if on_batch is not None:
                on_batch(done)
    return codes, similarity, points
