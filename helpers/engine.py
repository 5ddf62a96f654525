"""Where the per-image work runs: in this process (``local``) or on a Ray cluster (``ray``).

Reading, decoding, encoding, reconstructing an image and scoring it against every class
example needs nothing but that image, the model and the examples' reconstructions: on
``ray`` it is one Ray Data map over the files, in actors that load the model once. What
needs every image at once (the neighbour graph, clusters, spreading, calibration, the
threshold) works on the 10-number codes and the scores, on this machine, whichever
engine made them.

The engine is chosen in one place (``engine_from``): an argument (notebook 03's
``ENGINE``, ``python -m helpers run --engine``), else ``$WORKBOOK_ENGINE``, else local.
With ``ray`` and no address (``RAY_ADDRESS``, ``--ray-address``) a Ray starts here with
this machine's cores and is shut down afterwards, even on error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.folders import ImageFormat, UnreadableImage, not_a_regular_file, read_image
from helpers.model import build_autoencoder, encode
from helpers.scoring import score_batch

ENGINES = ("local", "ray")
BATCH = 1024  # files per batch sent to an actor


def engine_from(engine: str | None = None) -> str:
    """The engine to use: ``engine``, else ``$WORKBOOK_ENGINE``, else ``"local"``."""
    chosen = engine or os.environ.get("WORKBOOK_ENGINE") or "local"
    if chosen not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {chosen!r}")
    return chosen


@dataclass(frozen=True)
class ActorPlan:
    """How many scoring actors, and the CPUs each reserves."""

    actors: int
    cpus_per_actor: float

    @staticmethod
    def for_cluster(cpus: float) -> ActorPlan:
        """Actors that always leave a whole CPU for the tasks that read the files.

        Ray Data streams: files are read by tasks and handed to the actors. If the actors
        reserve every CPU, no read task can start and nothing ever reaches them (two
        one-CPU actors on two cores never progress). So one actor per CPU but one, each
        reserving a CPU; on a single CPU one actor that reserves none.
        """
        whole = int(cpus)
        if whole < 2:
            return ActorPlan(1, 0.0)
        return ActorPlan(whole - 1, 1.0)

    def leaves_a_cpu(self, cpus: float) -> bool:
        return cpus - self.actors * self.cpus_per_actor >= 1.0


class ScoreFiles:
    """Ray Data callable: a batch of files in, each one's code and SSIM against every
    target out (or why it could not be read). Built once per actor: the model is loaded
    from its weights there, not sent with every batch."""

    def __init__(
        self,
        encoder_weights: list[np.ndarray],
        decoder_weights: list[np.ndarray],
        fmt: ImageFormat,
        latent_dim: int,
        targets: np.ndarray,
        max_val: float,
    ):
        _, self.encoder, self.decoder = build_autoencoder(fmt.shape, latent_dim)
        self.encoder.set_weights(encoder_weights)
        self.decoder.set_weights(decoder_weights)
        self.fmt, self.targets, self.max_val = fmt, np.asarray(targets, np.float32), max_val
        self.latent_dim = latent_dim

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        images = np.zeros((len(paths), *self.fmt.shape), np.uint8)
        reasons = np.full(len(paths), "", dtype=object)
        for i, (path, data) in enumerate(zip(paths, batch["bytes"], strict=True)):
            try:
                images[i] = read_image(path, self.fmt, data=bytes(data))[0]
            except UnreadableImage as err:
                reasons[i] = str(err)
        ok = reasons == ""
        codes = np.zeros((len(paths), self.latent_dim), np.float32)
        similarity = np.zeros((len(paths), len(self.targets)), np.float32)
        if ok.any():
            codes[ok] = encode(self.encoder, images[ok])
            similarity[ok] = score_batch(self.decoder, codes[ok], self.targets, self.max_val)
        return {
            "path": np.asarray(paths),
            "reason": reasons.astype(str),
            "code": codes,
            "similarity": similarity,
        }


@dataclass
class FileScores:
    """What the per-image map gives back, in the order of the files given."""

    paths: list[str]  # the files that could be read
    codes: np.ndarray  # (len(paths), latent_dim)
    similarity: np.ndarray  # (len(paths), n_targets)
    skipped: list[tuple[str, str]]  # (path, reason) for those that could not


def score_files_on_ray(
    files: list[Path],
    encoder,
    decoder,
    fmt: ImageFormat,
    targets: np.ndarray,
    max_val: float,
    address: str | None = None,
) -> FileScores:
    """Every file read, decoded, encoded and scored against ``targets`` on Ray Data.

    Joins the cluster at ``address`` (or ``$RAY_ADDRESS``); without one, starts a local Ray
    with this machine's cores. A Ray started here is shut down before returning, also on
    error. Ray Data restarts an actor that dies and retries what it was doing; a file that
    cannot be decoded is a ``skipped`` row, never a failed job.
    """
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=None if address else os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        cpus = ray.cluster_resources().get("CPU", 1.0)
        plan = ActorPlan.for_cluster(cpus)
        print(
            f"Ray: {cpus:g} CPUs; {plan.actors} scoring actor(s) reserving "
            f"{plan.cpus_per_actor:g} CPU each; {len(files):,} files"
        )
        special = [(str(f), reason) for f in files if (reason := not_a_regular_file(f))]
        unopened = {path for path, _ in special}  # a FIFO or device would block the read
        files = [f for f in files if str(f) not in unopened]
        index = {str(path): i for i, path in enumerate(files)}
        dataset = ray.data.read_binary_files([str(f) for f in files], include_paths=True)
        scored = dataset.map_batches(
            ScoreFiles,
            fn_constructor_kwargs={
                "encoder_weights": encoder.get_weights(),
                "decoder_weights": decoder.get_weights(),
                "fmt": fmt,
                "latent_dim": int(encoder.output.shape[-1]),
                "targets": targets,
                "max_val": max_val,
            },
            batch_size=BATCH,
            batch_format="numpy",
            concurrency=plan.actors,
            num_cpus=plan.cpus_per_actor,
        )  # Ray Data restarts an actor that dies and retries its batch (its defaults)
        parts = list(scored.iter_batches(batch_format="numpy", batch_size=None))
    finally:
        if started:
            ray.shutdown()
    scores = _in_file_order(parts, index)
    scores.skipped.extend(special)
    return scores


def _in_file_order(parts: list[dict], index: dict[str, int]) -> FileScores:
    """The map's batches, which arrive in any order, put back in the files' order."""
    paths = np.concatenate([p["path"] for p in parts]).astype(str)
    reasons = np.concatenate([p["reason"] for p in parts]).astype(str)
    codes = np.concatenate([p["code"] for p in parts])
    similarity = np.concatenate([p["similarity"] for p in parts])
    order = np.argsort([index[p] for p in paths], kind="stable")
    paths, reasons, codes, similarity = (
        paths[order],
        reasons[order],
        codes[order],
        similarity[order],
    )
    ok = reasons == ""
    return FileScores(
        paths[ok].tolist(),
        codes[ok],
        similarity[ok],
        [(str(p), str(r)) for p, r in zip(paths[~ok], reasons[~ok], strict=True)],
    )
