"""Your own images: walk a folder and read every image file in it (``helpers.data.images``
decodes each one by its content and fits it to the model's size). A file that cannot be
read is skipped with a reason in words, never fatal. Hidden files and folders (a leading
dot) are left out; symbolic links to folders are followed once (a link loop ends the walk
there)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.data.images import (
    DEFAULT_FORMAT,
    IMAGE_SUFFIXES,
    ImageFormat,
    UnreadableImage,
    read_image,
)


def list_image_files(
    folder: str | os.PathLike, folders: list | None = None
) -> tuple[list[Path], dict[str, int]]:
    """Image files under ``folder`` (recursively, sorted), and a count of the other files
    left aside by extension. A missing folder is an error naming it. ``folders``, if given,
    gets ``[path, modification time in ns]`` of every folder walked, ``folder`` first."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found, others, seen = [], {}, set()
    for current, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:  # a symbolic link back up the tree: walked once already
            dirs[:] = []
            continue
        seen.add(real)
        if folders is not None:
            folders.append([current, os.stat(current).st_mtime_ns])
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix in IMAGE_SUFFIXES:
                found.append(os.path.join(current, name))
            else:
                others[suffix or "(none)"] = others.get(suffix or "(none)", 0) + 1
    found.sort(key=lambda path: path.split(os.sep))  # Path's order, at the speed of strings
    return [Path(path) for path in found], others


@dataclass
class ImageFolder:
    """The readable images of a folder, what they were, and what could not be read."""

    root: Path
    images: np.ndarray  # uint8 (N, size, size, channels)
    paths: list[str]  # relative to root, with forward slashes
    info: list[dict]  # kinds of original: width, height, mode, format and how many "images"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    other_files: dict[str, int] = field(default_factory=dict)  # left aside, by extension

    def __len__(self) -> int:
        return len(self.paths)


def read_folder(
    folder: str | os.PathLike,
    fmt: ImageFormat = DEFAULT_FORMAT,
    workers: int | None = None,
    progress: bool = False,
) -> ImageFolder:
    """Every image under ``folder``, decoded in parallel threads. Bad files are skipped and listed;
    a folder with no readable image is an error naming it."""
    root = Path(folder).expanduser()
    files, others = list_image_files(root)
    return read_files(root, files, fmt, workers, progress, others)


CHUNK = 500  # files per task


def read_files(
    root: Path,
    files: Iterable[Path],
    fmt: ImageFormat = DEFAULT_FORMAT,
    workers: int | None = None,
    progress: bool = False,
    other_files: dict[str, int] | None = None,
) -> ImageFolder:
    """``read_folder`` on a given list of files under ``root``.

    Decoded in threads (Pillow decodes outside Python's lock: 28x28 PNG files read at 5,000
    to 10,000 a second on 2 cores, faster than in processes, which pay for pickling);
    pixels go straight into one preallocated uint8 array.
    """
    files = list(files)
    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
    images = np.empty((len(files), *fmt.shape), np.uint8)
    results: list = []
    with ThreadPoolExecutor(workers) as pool:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(files), desc="reading images", unit="img")
        for result in pool.map(_read_chunk, chunks, [fmt] * len(chunks)):
            for one in result:
                if not isinstance(one, str):
                    images[len(results)] = one[0]
                    one = one[1]
                results.append(one)
            if bar is not None:
                bar.update(len(result))
        if bar is not None:
            bar.close()
    return folder_from_results(root, files, results, images, other_files)


def folder_from_results(
    root: Path,
    files: list[Path],
    results: list,
    images: np.ndarray,
    other_files: dict[str, int] | None = None,
) -> ImageFolder:
    """The folder that ``files`` make, given what reading each one gave: ``results[i]`` is
    its (width, height, mode, format), or why it was skipped; ``images[i]`` its pixels.
    The readable images are moved to the front of ``images``, in the files' order (in place:
    ``images`` may be a memory-mapped file of any size), whoever did the reading."""
    paths, skipped, kinds = [], [], Counter()
    for i, (path, one) in enumerate(zip(files, results, strict=True)):
        rel = relative_path(Path(path), root)
        if isinstance(one, str):
            skipped.append((rel, one))
            continue
        if len(paths) != i:
            images[len(paths)] = images[i]
        kinds[tuple(one)] += 1
        paths.append(rel)
    if not paths:
        detail = f"{len(skipped)} unreadable" if skipped else "no image files"
        raise FileNotFoundError(f"{root}: no readable image ({detail}; {LOOKED_FOR})")
    fields = ("width", "height", "mode", "format")
    info = [dict(zip(fields, kind, strict=True), images=n) for kind, n in kinds.items()]
    images = images[: len(paths)] if len(paths) < len(images) else images
    return ImageFolder(root, images, paths, info, skipped, dict(other_files or {}))


LOOKED_FOR = (
    f"looked for the {len(IMAGE_SUFFIXES)} extensions of the formats Pillow reads, e.g. "
    ".png, .jpg, .gif, .tif, .webp, .bmp, .pgm, .heic (helpers.data.images.IMAGE_SUFFIXES)"
)


def _read_chunk(paths: list[Path], fmt: ImageFormat) -> list:
    """Each file as (pixels, (width, height, mode, format)), or the reason it was skipped."""
    out = []
    for path in paths:
        try:
            pixels, info = read_image(path, fmt)
            out.append((pixels, (info["width"], info["height"], info["mode"], info["format"])))
        except UnreadableImage as err:
            out.append(str(err))
    return out


def relative_path(path: Path, root: Path) -> str:
    """``path`` under ``root`` as the pile names it (forward slashes), else as it is."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def describe(info: list[dict]) -> list[dict]:
    """What the images were, as a small table: one row per (mode, format), with counts and
    the range of original sizes. ``info``: rows of width, height, mode, format, and how many
    ``images`` were like that (1 when not given)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in info:
        groups.setdefault((row["mode"], str(row["format"])), []).append(row)
    table = []
    for (mode, fmt), rows in sorted(groups.items(), key=lambda kv: -_count(kv[1])):
        widths = [r["width"] for r in rows]
        heights = [r["height"] for r in rows]
        table.append(
            {
                "format": fmt,
                "mode": mode,
                "images": _count(rows),
                "width": f"{min(widths)}-{max(widths)}"
                if min(widths) != max(widths)
                else str(widths[0]),
                "height": f"{min(heights)}-{max(heights)}"
                if min(heights) != max(heights)
                else str(heights[0]),
            }
        )
    return table


def _count(rows: list[dict]) -> int:
    return sum(row.get("images", 1) for row in rows)
