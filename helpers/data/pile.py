"""The images of one run: Fashion-MNIST's splits, or a folder of the user's images with
their examples and, optionally, their truth; and a plain account of what was found."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from helpers.core import config
from helpers.core.engine import engine_from
from helpers.core.run_dir import PILE_CACHE, PILE_IMAGES, SKIPPED, RunDir, fingerprint
from helpers.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist, subset
from helpers.data.folders import (
    LOOKED_FOR,
    ImageFolder,
    describe,
    folder_from_results,
    list_image_files,
    read_files,
)
from helpers.data.images import ImageFormat, UnreadableImage, read_image
from helpers.data.inputs import ExampleSet, Inputs, files_fingerprint, read_examples, read_truth
from helpers.data.pile_settings import is_auto, look_at_pile

THUMBNAIL_SIZE = 96  # pixels per side of the explorer's thumbnails of a user's files


@dataclass
class Pile:
    """The images of one run, as uint8 (N, H, W, C): float32 only a batch at a time.

    Fashion-MNIST: the autoencoder trains on the training split, the test split is labelled,
    examples are drawn from the (labelled) training split. A folder: the pile is both what
    the autoencoder trains on and what is labelled, and the examples are the user's.
    """

    x_train: np.ndarray
    y_train: np.ndarray | None  # classes of the training images, when known
    x_test: np.ndarray  # the images to label
    y_test: np.ndarray | None  # their true classes, -1 where unknown; None: no truth at all
    test_ids: np.ndarray  # index in the test split, or path relative to the data folder
    class_names: tuple[str, ...]
    inputs: Inputs = field(default_factory=Inputs)
    made_from: str = ""  # fingerprint of the images (and how they were read)
    examples: ExampleSet | None = None  # the user's examples (None: drawn from y_train)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    info: list[dict] = field(default_factory=list)  # original size and mode of each image
    other_files: dict[str, int] = field(default_factory=dict)  # non-image files left aside
    chosen_from_pile: str = ""  # what 'auto' settings became, and why

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_test.shape[1:])

    @property
    def source(self) -> str:
        return self.inputs.data or "Fashion-MNIST"

    def original(self, i: int, size: int = THUMBNAIL_SIZE) -> np.ndarray:
        """Image ``i`` to label, read again from its file at ``size`` pixels (a legible
        thumbnail, not the model's small input); Fashion-MNIST's own pixels, or the model's
        input if the file cannot be read any more."""
        if self.inputs.data is None:
            return self.x_test[i]
        path = Path(self.inputs.data).expanduser() / str(self.test_ids[i])
        fmt = ImageFormat(size, self.inputs.color, self.inputs.fit)
        try:
            return read_image(path, fmt)[0]
        except UnreadableImage:
            return self.x_test[i]

    def labelled_images(self) -> tuple[np.ndarray, np.ndarray]:
        """Images whose class is known before labelling, and their classes: the training
        split of Fashion-MNIST, or the user's examples."""
        if self.examples is None:
            return self.x_train, self.y_train
        return self.examples.images, self.examples.labels


def load_pile(
    profile: config.Profile,
    seed: int = 0,
    inputs: Inputs | None = None,
    run: RunDir | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
    quick: bool = False,
) -> Pile:
    """The run's images: Fashion-MNIST (no data folder) or the user's folder, cut to the
    profile's size (a seeded subset in ``smoke``). A folder's decoded images are kept in the
    run directory (``pile.npz``) while its files stay the same; its files are read by the
    ``engine`` (``helpers.core.engine.engine_from``). ``quick``: trust the run directory's
    listing while no folder of the pile changed (notebooks 02-05; ``_pile_as_listed``)."""
    inputs = inputs or Inputs()
    if inputs.data is None:
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        x_train, y_train = subset(profile.n_train, x_train, y_train, seed=seed)
        test_ids = np.arange(len(x_test))
        x_test, y_test, test_ids = subset(profile.n_test, x_test, y_test, test_ids, seed=seed + 1)
        made_from = fingerprint("Fashion-MNIST", profile.n_train, profile.n_test, seed)
        return Pile(
            x_train[..., None],
            y_train,
            x_test[..., None],
            y_test,
            test_ids,
            CLASS_NAMES,
            inputs,
            made_from,
        )
    return _folder_pile(profile, seed, inputs, run, engine, ray_address, quick)


def pile_files(
    profile: config.Profile, seed: int, inputs: Inputs, folders: list | None = None
) -> tuple[Path, list[Path], dict[str, int]]:
    """The data folder, the image files to label (a seeded subset in ``smoke``), and the
    other files left aside: what every engine reads. ``folders``, if given, gets each folder
    walked with its modification time (``list_image_files``)."""
    root = Path(inputs.data).expanduser().resolve()
    files, others = list_image_files(root, folders)
    if not files:
        raise FileNotFoundError(f"{root}: no image files ({LOOKED_FOR})")
    if profile.n_test is not None and len(files) > profile.n_test:
        (files,) = subset(profile.n_test, np.asarray(files, dtype=object), seed=seed)
        files = list(files)
    return root, files, others


def _folder_pile(
    profile: config.Profile,
    seed: int,
    inputs: Inputs,
    run: RunDir | None,
    engine: str | None,
    ray_address: str | None,
    quick: bool = False,
) -> Pile:
    root = Path(inputs.data).expanduser().resolve()
    chosen, as_listed = "", None
    if quick and not inputs.is_auto:
        listed = fingerprint(str(root), profile.n_test, seed, inputs.format)
        as_listed = _pile_as_listed(run, listed, root)
    if as_listed is not None:
        pile, made_from = as_listed
    else:
        folders: list = []
        root, files, others = pile_files(profile, seed, inputs, folders)
        if inputs.is_auto:  # colour and size from a look at the pile's files
            look = look_at_pile(files, seed)
            size_auto, color_auto = is_auto(inputs.image_size), is_auto(inputs.color)
            inputs = replace(
                inputs,
                image_size=look.image_size if size_auto else inputs.image_size,
                color=look.color if color_auto else inputs.color,
            )
            chosen = look.describe(len(files), color_auto, size_auto)
        listed = fingerprint(str(root), profile.n_test, seed, inputs.format)
        made_from = fingerprint(files_fingerprint(root, files), inputs.format)
        cached = run.load_fresh_arrays(PILE_CACHE, made_from) if run is not None else None
        pile = _cached_pile(run, cached, root, others)
        read_now = pile is None
        if read_now:
            pile = _read_pile(root, files, inputs.format, others, run, engine, ray_address)
        if run is not None:  # the listing with made_from vouches for the images
            listing = {
                "paths": np.asarray(pile.paths),
                "n_images": np.asarray(len(pile.images)),
                "info": np.asarray(json.dumps(pile.info)),
                "skipped": np.asarray(json.dumps(pile.skipped)),
                "others": np.asarray(json.dumps(others)),
                "folders": np.asarray(json.dumps(folders)),
                "listed": np.asarray(listed),
                "made_from": np.asarray(made_from),
            }
            if read_now or _listing_changed(cached, listing):
                run.save_arrays(PILE_CACHE, **listing)
            if read_now:  # mapped from the file just written, not held in memory
                pile.images = _cached_images(run, listing)
    examples = read_examples(inputs.examples, pile, inputs.format)
    truth = None
    skipped = pile.skipped + examples.skipped
    if inputs.truth:
        truth, ignored = read_truth(inputs.truth, pile, examples.class_names)
        skipped += [(path, f"truth: {why}") for path, why in ignored]
    return Pile(
        pile.images,
        None,
        pile.images,
        truth,
        np.asarray(pile.paths),
        examples.class_names,
        inputs,
        made_from,
        examples,
        skipped,
        pile.info,
        pile.other_files,
        chosen,
    )


def _read_pile(
    root: Path,
    files: list[Path],
    fmt: ImageFormat,
    others: dict[str, int],
    run: RunDir | None,
    engine: str,
    ray_address: str | None,
) -> ImageFolder:
    """The pile's files read here (threads) or on Ray (``helpers.core.engine``); with a run
    directory, their pixels go to ``pile-images.npy`` there (on Ray straight into the
    memory-mapped file: this process never holds the decoded pile)."""
    if engine_from(engine) == "local":
        pile = read_files(root, files, fmt, progress=True, other_files=others)
        if run is not None:
            run.save_array(PILE_IMAGES, pile.images)
        return pile
    from helpers.data.read_on_ray import read_files_on_ray

    read = []

    def fill(into: np.ndarray) -> None:
        results = read_files_on_ray(files, fmt, into, ray_address)
        read.append(folder_from_results(root, files, results, into, others))

    shape = (len(files), *fmt.shape)
    if run is None:
        fill(np.empty(shape, np.uint8))
    else:
        run.save_array_by_parts(PILE_IMAGES, shape, np.uint8, fill)
    return read[0]


def _listing_changed(cached: dict, listing: dict) -> bool:
    """Whether a fresh cache's walk-dependent parts (the folders' times, the listing key, the
    other files) differ from this walk's; the rest comes from the cache itself."""
    return any(str(cached.get(k, "")) != str(listing[k]) for k in ("folders", "listed", "others"))


def _cached_images(run: RunDir | None, cached: dict | None) -> np.ndarray | None:
    """The decoded images saved beside a fresh listing, mapped from disk (None: read again).
    The file may hold more rows than images (room for files that turned out unreadable)."""
    if cached is None or "n_images" not in cached or not run.has(PILE_IMAGES):
        return None
    images, n = run.load_array(PILE_IMAGES), int(cached["n_images"])
    return images[:n] if len(images) >= n else None


def _cached_pile(
    run: RunDir | None, cached: dict | None, root: Path, others: dict[str, int]
) -> ImageFolder | None:
    """The pile as the run directory keeps it (None: it must be read)."""
    images = _cached_images(run, cached)
    if images is None:
        return None
    return ImageFolder(
        root,
        images,
        cached["paths"].tolist(),
        json.loads(str(cached["info"])),
        [tuple(row) for row in json.loads(str(cached["skipped"]))],
        others,
    )


def _pile_as_listed(run: RunDir | None, listed: str, root: Path) -> tuple[ImageFolder, str] | None:
    """The pile notebook 01 listed, without walking its files again, if it was listed for
    the same folder, subset and format and no folder of it changed since (a file added,
    removed or renamed changes its folder's modification time); and what it was made from.
    What this cannot see, a file rewritten in place under the same name, the next walk
    (notebook 01, or any notebook after a folder changed) sees by its size and time."""
    if run is None or not run.has(PILE_CACHE):
        return None
    cached = run.load_arrays(PILE_CACHE)
    if "folders" not in cached or str(cached.get("listed", "")) != listed:
        return None
    for folder, mtime in json.loads(str(cached["folders"])):
        try:
            if os.stat(folder).st_mtime_ns != mtime:
                return None
        except OSError:
            return None
    pile = _cached_pile(run, cached, root, json.loads(str(cached["others"])))
    return None if pile is None else (pile, str(cached["made_from"]))


def describe_inputs(pile: Pile, show_skipped: int = 5) -> None:
    """Say what was found: images, their original formats and sizes, classes, skipped files."""
    n_classes = len(pile.class_names)
    shape = "x".join(map(str, pile.image_shape[:2])) + (
        " colour" if pile.image_shape[2] == 3 else " grey"
    )
    if pile.examples is None:
        print(
            f"Fashion-MNIST: {len(pile.x_train):,} training images (classes known) and "
            f"{len(pile.x_test):,} images to label, {shape}, {n_classes} classes"
        )
        return
    print(f"{pile.source}: {len(pile.x_test):,} images read, now {shape} each")
    print(f"\n{'format':8s} {'mode':6s} {'images':>7s}  {'width':>11s}  {'height':>11s}")
    for row in describe(pile.info):
        print(
            f"{row['format']:8s} {row['mode']:6s} {row['images']:7d}  "
            f"{row['width']:>11s}  {row['height']:>11s}"
        )
    counts = np.bincount(pile.examples.labels, minlength=n_classes)
    in_pile = int((pile.examples.in_pile >= 0).sum())
    print(
        f"\n{n_classes} classes, examples: "
        + ", ".join(f"{name} {count}" for name, count in zip(pile.class_names, counts, strict=True))
        + (f" ({in_pile} of them in the pile)" if in_pile else "")
    )
    if pile.y_test is not None:
        print(f"truth known for {int((pile.y_test >= 0).sum()):,} images")
    if pile.other_files:
        others = ", ".join(f"{ext} {n}" for ext, n in sorted(pile.other_files.items()))
        print(f"other files left aside (not image extensions): {others}")
    print(f"\n{len(pile.skipped)} file(s) skipped" + (":" if pile.skipped else ""))
    for path, reason in pile.skipped[:show_skipped]:
        print(f"  {path}: {reason}")
    if len(pile.skipped) > show_skipped:
        print(f"  ... all of them in {SKIPPED} in the run directory")
