"""What the user gives the workbook: the pile, the class examples, optionally the truth.

Each comes from a notebook parameter, else the environment (``WORKBOOK_DATA``,
``WORKBOOK_EXAMPLES``, ``WORKBOOK_TRUTH``, ``WORKBOOK_IMAGE_SIZE``, ``WORKBOOK_COLOR``,
``WORKBOOK_FIT``), else what the run directory recorded when a notebook last set it, else
the default (no data folder: Fashion-MNIST).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.core.run_dir import fingerprint
from helpers.data.folders import ImageFolder, read_folder
from helpers.data.images import ImageFormat
from helpers.data.pile_settings import AUTO, is_auto

ENVIRONMENT = {
    "data": "WORKBOOK_DATA",
    "examples": "WORKBOOK_EXAMPLES",
    "truth": "WORKBOOK_TRUTH",
    "image_size": "WORKBOOK_IMAGE_SIZE",
    "color": "WORKBOOK_COLOR",
    "fit": "WORKBOOK_FIT",
}


@dataclass(frozen=True)
class Inputs:
    """Where the images come from and how they are read. ``image_size`` and ``color`` may be
    ``'auto'``: chosen from the pile when it is read (``helpers.data.pile_settings``); for
    Fashion-MNIST 'auto' is its own 28 x 28 grey."""

    data: str | None = None  # a folder of images; None: Fashion-MNIST
    examples: str | None = None  # a folder with one sub-folder per class, or a path,label CSV
    truth: str | None = None  # a path,label CSV of known classes, for measuring only
    image_size: int | str = AUTO  # how images are read (see ImageFormat), or 'auto'
    color: str = AUTO
    fit: str = ImageFormat.fit

    @property
    def format(self) -> ImageFormat:
        if self.is_auto:
            raise ValueError("the image size or colour is 'auto' until the pile is looked at")
        return ImageFormat(self.image_size, self.color, self.fit)

    @property
    def is_auto(self) -> bool:
        return is_auto(self.image_size) or is_auto(self.color)

    def __post_init__(self):
        if self.data is None:  # Fashion-MNIST: what it is
            if is_auto(self.image_size):
                object.__setattr__(self, "image_size", ImageFormat.size)
            if is_auto(self.color):
                object.__setattr__(self, "color", ImageFormat.color)
        for name in ("image_size", "color"):
            if is_auto(getattr(self, name)):
                object.__setattr__(self, name, AUTO)
        ImageFormat(  # checks size, colour and fit, 'auto' standing for a valid value
            28 if self.image_size == AUTO else self.image_size,
            "grey" if self.color == AUTO else self.color,
            self.fit,
        )
        if self.data is None and (self.examples or self.truth):
            raise ValueError("EXAMPLES and TRUTH go with a DATA folder (Fashion-MNIST has its own)")
        if self.data is not None and not self.examples:
            raise ValueError(
                f"DATA={self.data!r} needs EXAMPLES: a folder with one sub-folder of example "
                "images per class, or a path,label CSV"
            )


def resolve_inputs(recorded: dict | None = None, **given) -> Inputs:
    """Inputs from the given values (None: not given), else the environment, else what the
    run directory ``recorded`` for the same pile, else the defaults.

    Notebook 01 passes no record: its parameters (and the environment) say what the pile
    is. The later notebooks pass the run's record, so they follow notebook 01.
    """
    chosen = {}
    for name, variable in ENVIRONMENT.items():
        value = given.get(name)
        if value is None:
            value = os.environ.get(variable) or None
        if value is not None:
            chosen[name] = value
    if recorded and chosen.get("data", recorded.get("data")) == recorded.get("data"):
        chosen = {**recorded, **chosen}  # the same pile: the record fills the gaps
    if chosen.get("image_size") is not None and not is_auto(chosen["image_size"]):
        chosen["image_size"] = int(chosen["image_size"])
    return Inputs(**{k: v for k, v in chosen.items() if k in ENVIRONMENT and v is not None})


@dataclass
class ExampleSet:
    """The user's class examples."""

    images: np.ndarray  # uint8 (n, size, size, channels)
    labels: np.ndarray  # (n,) class index
    class_names: tuple[str, ...]
    names: list[str]  # where each came from
    in_pile: np.ndarray  # (n,) index of the same image in the pile, -1 if it is not there
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_examples(spec: str | os.PathLike, pile: ImageFolder, fmt: ImageFormat) -> ExampleSet:
    """Examples from a folder of class sub-folders (class = folder name) or a ``path,label``
    CSV naming images of the pile. Errors name the folder or file at fault."""
    spec = Path(spec).expanduser()
    if spec.is_dir():
        return _examples_from_folders(spec, pile, fmt)
    if spec.is_file():
        return _examples_from_csv(spec, pile)
    raise FileNotFoundError(f"{spec}: no such folder or file (the class examples)")


def _examples_from_folders(root: Path, pile: ImageFolder, fmt: ImageFormat) -> ExampleSet:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise ValueError(
            f"{root}: needs one sub-folder of example images per class, and at least two "
            f"classes (found {len(class_dirs)})"
        )
    where = _real_paths(pile)
    images, labels, names, in_pile, skipped = [], [], [], [], []
    for c, folder in enumerate(class_dirs):
        try:
            found = read_folder(folder, fmt)
        except FileNotFoundError as err:
            raise ValueError(
                f"{folder}: no readable example image for class {folder.name!r}"
            ) from err
        images.append(found.images)
        labels += [c] * len(found)
        names += [f"{folder.name}/{p}" for p in found.paths]
        in_pile += [where.get(os.path.realpath(folder / p), -1) for p in found.paths]
        skipped += [(str(folder / p), reason) for p, reason in found.skipped]
    return ExampleSet(
        np.concatenate(images),
        np.asarray(labels),
        tuple(d.name for d in class_dirs),
        names,
        np.asarray(in_pile),
        skipped,
    )


def read_path_labels(path: Path) -> list[tuple[str, str]]:
    """Rows of a ``path,label`` CSV (a header row naming ``path`` is skipped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be read as a path,label CSV ({err})") from err
    if rows and rows[0][0].strip().lower() in ("path", "image"):
        rows = rows[1:]
    bad = [i for i, r in enumerate(rows) if len(r) < 2 or not r[1].strip()]
    if bad:
        raise ValueError(f"{path}: row {bad[0] + 2} is not path,label")
    return [(r[0].strip(), r[1].strip()) for r in rows]


def _pile_index(pile: ImageFolder) -> dict[str, int]:
    return {p: i for i, p in enumerate(pile.paths)}


def _real_paths(pile: ImageFolder) -> dict[str, int]:
    """Each pile file's real path (links resolved) -> its index; one ``realpath`` per
    folder and one ``lstat`` per file, not one per path component of every file."""
    folders: dict[str, str] = {}
    out = {}
    for i, rel in enumerate(pile.paths):
        full = os.path.join(pile.root, rel)
        if os.path.islink(full):
            out[os.path.realpath(full)] = i
            continue
        folder, name = os.path.split(full)
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        out[os.path.join(folders[folder], name)] = i
    return out


def _in_pile(path: str, pile: ImageFolder, index: dict[str, int]) -> int:
    rel = Path(path).as_posix()
    if Path(path).is_absolute():
        try:
            rel = Path(path).resolve().relative_to(pile.root.resolve()).as_posix()
        except ValueError:
            return -1
    return index.get(rel, -1)


def _examples_from_csv(path: Path, pile: ImageFolder) -> ExampleSet:
    index = _pile_index(pile)
    rows, skipped = [], []
    for name, label in read_path_labels(path):
        i = _in_pile(name, pile, index)
        if i < 0:
            skipped.append((name, f"named in {path.name} but not a readable image of the pile"))
        else:
            rows.append((i, label))
    class_names = tuple(sorted({label for _, label in rows}))
    if len(class_names) < 2:
        raise ValueError(
            f"{path}: names {len(class_names)} class(es) with readable images; needs at least two"
        )
    at = np.asarray([i for i, _ in rows])
    return ExampleSet(
        pile.images[at],
        np.asarray([class_names.index(label) for _, label in rows]),
        class_names,
        [pile.paths[i] for i in at],
        at,
        skipped,
    )


def read_truth(path: str | os.PathLike, pile: ImageFolder, class_names) -> tuple[np.ndarray, list]:
    """(n,) class index of each pile image from a ``path,label`` CSV, -1 where unknown; and
    the rows that could not be used, with why."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the truth CSV)")
    index = _pile_index(pile)
    truth = np.full(len(pile), -1, np.int64)
    ignored = []
    for name, label in read_path_labels(path):
        i = _in_pile(name, pile, index)
        if i < 0:
            ignored.append((name, "not a readable image of the pile"))
        elif label not in class_names:
            ignored.append((name, f"class {label!r} has no examples"))
        else:
            truth[i] = list(class_names).index(label)
    return truth, ignored


def files_fingerprint(root: Path, files: list[Path]) -> str:
    """What a list of files is: names, sizes and modification times."""
    listing = []
    under = str(root).rstrip(os.sep) + os.sep
    for f in map(str, files):
        name = f[len(under) :].replace(os.sep, "/") if f.startswith(under) else f
        try:
            st = os.stat(f)
            listing.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            listing.append((f, -1, -1))
    return fingerprint(listing)
