"""The run directory: named artifacts written atomically (``helpers.core.files``) and read back."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np

from helpers.core import config
from helpers.core.files import atomic_write, write_text

# What a run directory holds, by name (docs/labels-csv.md describes each for people).
INPUTS = "inputs.json"  # the pile, examples and settings notebook 01 chose
PILE_CACHE = "pile.npz"  # the listing, what was read and skipped, what it was made from
PILE_IMAGES = "pile-images.npy"  # a folder's decoded images, memory-mapped when used
SKIPPED = "skipped.csv"  # path,reason of every file that could not be read
WEIGHTS = "autoencoder.weights.h5"
WEIGHTS_INFO = "autoencoder.json"  # how the weights were made, and from what
CODES = "codes.npz"
DESCRIPTION = "description.npz"  # each image's place in the neighbour graph, and its projection
CLUSTERS = "clusters.npz"
SCORES = "scores.npz"  # SSIM of every reconstruction with every example's
LABELS = "labels.csv"
LABELS_INFO = "labels.json"  # the threshold labels.csv was saved at, on what it rests, by whom
REVIEWS = "reviews.csv"
REVIEW_SCORES = "review_scores.npz"  # SSIM with the reviewed images, kept between relabels
EARLIER = "earlier"  # where another pile's results are set aside (RunDir.set_aside)

# What each notebook leaves behind, in pipeline order; a new upstream artifact makes the
# ones after it stale. Each also records what it was made from (``made_from``: a
# fingerprint of its inputs and settings), so another pile or other settings never reuse it.
PIPELINE = (WEIGHTS, CODES, CLUSTERS, SCORES, LABELS)
# Made from the images alone, beside the pipeline: its made_from is what keeps it fresh,
# and what is made from it (the clusters, the labels) records its made_from in theirs.
BESIDE_PIPELINE = (DESCRIPTION,)


class RunDir:
    """A folder of results shared by the notebooks (``runs/default`` unless told otherwise)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = config.run_dir(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def load_fresh_arrays(self, name: str, made_from: str) -> dict[str, np.ndarray] | None:
        """The arrays in ``name`` if they were made from ``made_from``, else None."""
        if not self.has(name):
            return None
        saved = self.load_arrays(name)
        return saved if str(saved.get("made_from", "")) == made_from else None

    def arrays_made_from(
        self, name: str, made_from: str, make: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The arrays in ``name`` if they were made from ``made_from``; else ``make()``'s,
        saved into ``name`` with ``made_from``, and what was made from the old ones removed
        (``invalidate_after``). Either way, what ``load_arrays`` would give."""
        saved = self.load_fresh_arrays(name, made_from)
        if saved is not None:
            return saved
        arrays = {**make(), "made_from": np.asarray(made_from)}
        self.save_arrays(name, **arrays)
        self.invalidate_after(name)
        return arrays

    def save_arrays(self, name: str, **arrays: np.ndarray) -> Path:
        """Save arrays into ``name`` (.npz); pass ``made_from=`` to record what they came from."""

        def write(tmp):
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

        return atomic_write(self.path / name, write)

    def save_array(self, name: str, array: np.ndarray) -> Path:
        """Save one array as ``.npy``, which ``load_array`` can map rather than read."""

        def write(tmp):
            with open(tmp, "wb") as fh:
                np.save(fh, array)

        return atomic_write(self.path / name, write)

    def save_array_by_parts(
        self, name: str, shape: tuple[int, ...], dtype, fill: Callable[[np.ndarray], object]
    ) -> Path:
        """Save a ``.npy`` array too large to hold: ``fill(out)`` writes into ``out``, the
        new file memory-mapped; the file appears under ``name`` only once ``fill`` is done."""

        def write(tmp):
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
            fill(out)
            out.flush()
            del out

        return atomic_write(self.path / name, write)

    def save_array_in_rows(
        self, name: str, shape: tuple[int, ...], dtype, parts: Iterable[np.ndarray]
    ) -> Path:
        """Save a ``.npy`` array written a block of rows at a time, in order, with plain
        writes (no mapping: the process's memory never holds the file's pages)."""

        def write(tmp):
            with open(tmp, "wb") as fh:
                header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_1_0(fh, header)
                rows = 0
                for part in parts:
                    fh.write(np.ascontiguousarray(part, dtype=dtype).tobytes())
                    rows += len(part)
                if rows != shape[0]:
                    raise ValueError(f"{name}: {rows} rows written, {shape[0]} expected")

        return atomic_write(self.path / name, write)

    def load_array(self, name: str) -> np.ndarray:
        """A ``.npy`` array, memory-mapped read-only: only the pages used are read."""
        try:
            return np.load(self.path / name, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise
        except Exception as err:
            raise ValueError(
                f"{self.path / name}: unreadable ({err}); delete it to recompute"
            ) from err

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        path = self.path / name
        try:
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except FileNotFoundError:
            raise
        except Exception as err:
            raise ValueError(f"{path}: unreadable ({err}); delete it to recompute") from err

    def save_text(self, name: str, text: str) -> Path:
        """Save text into ``name`` (may name a sub-folder of the run directory)."""
        return write_text(self.path / name, text)

    def save_json(self, name: str, obj) -> Path:
        return self.save_text(name, json.dumps(obj, indent=2, default=_jsonable))

    def load_json(self, name: str):
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}); delete it to recompute") from err

    def save_csv(self, name: str, rows: Iterable[Mapping], fieldnames: list[str]) -> Path:
        def write(tmp):
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fieldnames)
                writer.writeheader()
                writer.writerows(rows)

        return atomic_write(self.path / name, write)

    def set_aside(self, label: str) -> Path | None:
        """Move everything the run directory holds into ``earlier/<label>-<time>/`` inside it
        (nothing is deleted); the folder it went to, or None if there was nothing."""
        entries = [p for p in self.path.iterdir() if p.name != EARLIER]
        if not entries:
            return None
        target = self._earlier_folder(label)
        for entry in entries:
            entry.rename(target / entry.name)
        return target

    def _earlier_folder(self, label: str) -> Path:
        """A new folder ``earlier/<label>-<time>/`` to set things aside in."""
        import time

        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:60] or "run"
        stem = self.path / EARLIER / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
        target, n = stem, 1
        while target.exists():  # twice in one second
            target, n = stem.with_name(f"{stem.name}-{n}"), n + 1
        target.mkdir(parents=True)
        return target

    def invalidate_after(self, name: str) -> list[str]:
        """Delete the artifacts that were computed from an older ``name``; labels.csv (and
        its record), which a person may have saved, is set aside in ``earlier/``."""
        removed = []
        if name in BESIDE_PIPELINE:
            return removed
        for later in PIPELINE[PIPELINE.index(name) + 1 :]:
            if not self.has(later):
                continue
            if later == LABELS:
                self._set_aside_files("labels", [LABELS, LABELS_INFO])
            else:
                (self.path / later).unlink()
            removed.append(later)
        return removed

    def _set_aside_files(self, label: str, names: list[str]) -> Path:
        """Move the named files into ``earlier/<label>-<time>/`` (nothing is deleted)."""
        target = self._earlier_folder(label)
        for name in names:
            if self.has(name):
                (self.path / name).rename(target / name)
        return target


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def fingerprint(*parts) -> str:
    """A short stable hash of what something was made from."""
    text = json.dumps(parts, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(obj):
    if isinstance(obj, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest()
    if isinstance(obj, (Path, np.generic)):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    raise TypeError(f"{type(obj).__name__} cannot be fingerprinted")
