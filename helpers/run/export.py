"""Sort a labelled pile into folders: one per class for the accepted images, ``_unsure/``
for the rest (``python -m helpers export --to DIR [--copy|--link]``).

The originals are only read: never moved, never changed. An existing file in the target is
never replaced (each file is put in place with an operation that fails if the name is
taken), and every refusal is reported. ``labels.csv`` is trusted no further than its paths
stay inside the data folder: a row naming an absolute path or one with ``..`` in it (a
hand-edited file, or one from another run) stops the export before anything is written;
labels older than the run's reviews are refused too (they do not hold the reviews).
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path, PurePosixPath

from helpers.core.run_dir import INPUTS, LABELS, REVIEWS, RunDir

UNSURE = "_unsure"


def sort_into_folders(
    run_dir: str | os.PathLike | None, to: str | os.PathLike, how: str = "copy"
) -> int:
    """Copy (or symbolically link) every image of the run's ``labels.csv`` into
    ``to/<class>/`` (accepted) or ``to/_unsure/``, keeping its path under the data folder.
    Returns 0, or 1 when some files were refused because the target name was taken."""
    if how not in ("copy", "link"):
        raise ValueError(f"how must be 'copy' or 'link', not {how!r}")
    run = RunDir(run_dir)
    if not (run.has(LABELS) and run.has(INPUTS)):
        raise FileNotFoundError(f"{run.path}: no labels.csv yet; run the workbook first")
    data = run.load_json(INPUTS).get("data")
    if not data:
        raise ValueError(
            f"{run.path}: labels Fashion-MNIST (arrays, not files); export sorts a folder of images"
        )
    source, target = Path(data).expanduser().resolve(), Path(to).expanduser().resolve()
    if target == source or source in target.parents:
        raise ValueError(f"{target}: inside the data folder {source}; choose a folder outside it")
    reviews = run / REVIEWS
    if reviews.is_file() and reviews.stat().st_mtime > (run / LABELS).stat().st_mtime:
        raise ValueError(
            f"{run / LABELS} is older than {reviews}: it does not hold the latest "
            "reviews; save the labels (the explorer's save, or notebook 05's last cell) first"
        )
    with open(run / LABELS, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    outside = [row["image"] for row in rows if not _stays_inside(row["image"])]
    if outside:
        listed = "".join(f"\n  {path!r}" for path in outside[:10])
        raise ValueError(
            f"{run / LABELS}: {len(outside)} row(s) name a path outside the data folder "
            f"(absolute, or with '..'); nothing was exported:{listed}"
        )
    placed, refused, missing = 0, [], []
    for row in rows:
        original = source / row["image"]
        folder = row["label"] if row["accepted"] == "1" else UNSURE
        destination = target / _safe(folder) / row["image"]
        if not original.is_file():
            missing.append(row["image"])
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            if how == "link":
                os.symlink(original, destination)
            else:
                _copy_without_replacing(original, destination)
            placed += 1
        except FileExistsError:
            refused.append(str(destination))
    print(f"{placed} image(s) {'linked' if how == 'link' else 'copied'} into {target}")
    if missing:
        print(f"{len(missing)} labelled image(s) no longer in {source}, e.g. {missing[0]}")
    if refused:
        print(f"{len(refused)} refused, a file of that name is already there (left as it was):")
        for path in refused[:10]:
            print(f"  {path}")
    return 1 if refused else 0


def _stays_inside(image: str) -> bool:
    """Whether a labels.csv path names a file under the data folder (and so under its class
    folder in the target): relative, and never stepping up."""
    path = PurePosixPath(image.replace("\\", "/"))
    return bool(image) and not path.is_absolute() and ".." not in path.parts


def _safe(name: str) -> str:
    """A class name as a folder name."""
    cleaned = "".join("_" if ch in '/\\:*?"<>|' else ch for ch in name).strip(" .")
    return cleaned or "_"


def _copy_without_replacing(original: Path, destination: Path) -> None:
    """Copy to a temporary name, then hard-link it into place: the link fails, rather than
    replaces, when the name is taken."""
    tmp = destination.with_name(f".{destination.name}.copying")
    shutil.copy2(original, tmp)
    try:
        os.link(tmp, destination)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: exclusive create, then copy
        with open(tmp, "rb") as src, open(destination, "xb") as dst:
            shutil.copyfileobj(src, dst)
        shutil.copystat(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
