"""Notebook 01's read on Ray: each actor reads its batch of files itself (a path or a URI)
and decodes them with the workbook's own ``read_image``; the pixels stream back a batch at
a time. Where the work runs, and how a lost node is handled: ``helpers.core.engine``."""

from __future__ import annotations

import json
import os

import numpy as np

from helpers.core import engine
from helpers.data.images import ImageFormat, UnreadableImage, not_a_regular_file, read_image


class ReadFiles:
    """Ray Data callable: a batch of file paths (or URIs) in, each one's pixels and what it
    was (or why it could not be read) out, decoded by the workbook's own ``read_image``.
    The actor reads the files itself (``read_bytes``): a lost node costs only the batches in
    flight there, never a read task waiting for a CPU an actor holds."""

    def __init__(self, fmt: ImageFormat):
        self.fmt = fmt

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["path"])
        images = np.zeros((n, *self.fmt.shape), np.uint8)
        reasons, kinds = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
        for i, path in enumerate(str(p) for p in batch["path"]):
            try:
                images[i], info = read_image(path, self.fmt, data=read_bytes(path))
                kinds[i] = json.dumps([info[k] for k in ("width", "height", "mode", "format")])
            except UnreadableImage as err:
                reasons[i] = str(err)
        return {
            "index": batch["index"],
            "image": images,
            "reason": reasons.astype(str),
            "kind": kinds.astype(str),
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


def read_files_on_ray(
    files: list, fmt: ImageFormat, into: np.ndarray, address: str | None = None, on_batch=None
) -> list:
    """Every file read and decoded on Ray; file ``i``'s pixels go to ``into[i]`` (a
    memory-mapped array, say: this process holds one batch at a time). Returns, per file,
    its (width, height, mode, format) or why it could not be read, as
    ``folders.folder_from_results`` takes them. ``on_batch(n)``: called with the number of
    files done so far as each batch arrives."""
    import pyarrow as pa

    results: list = [None] * len(files)
    paths = [str(f) for f in files]
    with engine.ray_cluster(address) as plan:
        print(f"Ray: reading {len(files):,} files")
        starts = range(0, len(paths), engine.BATCH)
        blocks = [
            pa.table(
                {
                    "index": np.arange(i, i + len(paths[i : i + engine.BATCH])),
                    "path": paths[i : i + engine.BATCH],
                }
            )
            for i in starts
        ]
        done = 0
        for part in engine.map_blocks(blocks, ReadFiles, {"fmt": fmt}, plan):
            into[part["index"]] = part["image"]
            for i, reason, kind in zip(part["index"], part["reason"], part["kind"], strict=True):
                results[i] = str(reason) if reason else tuple(json.loads(str(kind)))
            done += len(part["index"])
            if on_batch is not None:
                on_batch(done)
    return results
