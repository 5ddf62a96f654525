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
    """How many scoring actors may run, and the CPUs each reserves."""

    actors: int  # at most this many; as few as one keeps going (a node lost, say)
    cpus_per_actor: float

    @staticmethod
    def for_cluster(cpus: float) -> ActorPlan:
        """One actor per CPU, each reserving one (a single CPU: one actor reserving none).

        The actors read their files themselves (``ScoreFiles``), so no other task needs a
        CPU: the plan can take them all, and whatever the cluster loses on the way, the
        actors left still have every input they need.
        """
        whole = int(cpus)
        if whole < 2:
            return ActorPlan(1, 0.0)
        return ActorPlan(whole, 1.0)


class ScoreFiles:
    """Ray Data callable: a batch of file paths (or URIs) in, each one's code and SSIM
    against every target out (or why it could not be read). The actor reads the files
    itself (``read_bytes``): a lost node costs only the batches in flight there, never a
    read task waiting for a CPU an actor holds. Built once per actor: the model is loaded
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
        for i, path in enumerate(paths):
            try:
                images[i] = read_image(path, self.fmt, data=read_bytes(path))[0]
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


MAX_FILE_BYTES = 512 << 20  # a file larger than this is not read into memory whole


def read_bytes(path: str) -> bytes:
    """A file's bytes, from a local path or a URI ``pyarrow`` understands (``file://``,
    ``s3://``, ``gs://``...); only regular files, at most ``MAX_FILE_BYTES``. Raises
    ``UnreadableImage`` with the reason in words."""
    if "://" not in path:
        if reason := not_a_regular_file(path):
            raise UnreadableImage(reason)
        try:
            size = os.path.getsize(path)
            if size > MAX_FILE_BYTES:
                raise UnreadableImage(f"{size:,} bytes: larger than any image read here")
            with open(path, "rb") as fh:
                return fh.read()
        except PermissionError as err:
            raise UnreadableImage("no permission to read the file") from err
        except OSError as err:
            raise UnreadableImage(f"cannot be read ({err.strerror or err})") from err
    from pyarrow import fs

    try:
        filesystem, inner = fs.FileSystem.from_uri(path)
        info = filesystem.get_file_info(inner)
        if info.type == fs.FileType.NotFound:
            raise UnreadableImage("no such file (it vanished before it could be read)")
        if info.type != fs.FileType.File:
            raise UnreadableImage(f"not a regular file ({info.type.name.lower()})")
        if info.size > MAX_FILE_BYTES:
            raise UnreadableImage(f"{info.size:,} bytes: larger than any image read here")
        with filesystem.open_input_stream(inner) as stream:
            return stream.read()
    except UnreadableImage:
        raise
    except (OSError, ValueError) as err:
        raise UnreadableImage(f"cannot be read ({err})") from err


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
    on_batch=None,
) -> FileScores:
    """Every file read, decoded, encoded and scored against ``targets`` on Ray Data.

    ``on_batch(n)``, if given, is called as each batch of results arrives, with the number
    of files done so far.

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
        index = {str(path): i for i, path in enumerate(files)}
        dataset = _paths_dataset([str(f) for f in files])
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
            concurrency=plan.actors,  # one left (a node lost) still finishes the map
            num_cpus=plan.cpus_per_actor,
        )  # Ray Data's defaults: an actor lost with its node is made again, its batches redone
        parts, done = [], 0
        for part in scored.iter_batches(batch_format="numpy", batch_size=None):
            parts.append(part)
            done += len(part["path"])
            if on_batch is not None:
                on_batch(done)
    finally:
        if started:
            ray.shutdown()
    return _in_file_order(parts, index)


def _paths_dataset(paths: list[str]):
    """The paths as a Ray dataset of one block per ``BATCH``, put in the object store from
    here: no read task, so nothing waits for a CPU the actors hold."""
    import pyarrow as pa
    import ray

    blocks = [pa.table({"path": paths[i : i + BATCH]}) for i in range(0, len(paths), BATCH)]
    return ray.data.from_arrow(blocks)


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
