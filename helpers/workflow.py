"""Load-or-compute steps shared by the notebooks: each reads what an earlier notebook saved
in the run directory and recomputes it when missing, so any notebook runs on its own."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from helpers import config
from helpers.artifacts import RunDir, fingerprint
from helpers.cluster import cluster_codes
from helpers.data import (
    CLASS_NAMES,
    choose_examples,
    load_fashion_mnist,
    subset,
    to_float_images,
)
from helpers.export import label_rows
from helpers.folders import IMAGE_SUFFIXES, ImageFolder, describe, list_image_files, read_files
from helpers.inputs import (
    ExampleSet,
    Inputs,
    files_fingerprint,
    read_examples,
    read_truth,
    resolve_inputs,
)
from helpers.labels import Known, LabelSettings, check_examples_cover_classes
from helpers.model import (
    build_autoencoder,
    encode,
    load_weights,
    reconstruct,
    save_weights,
    shipped_weights_path,
    train,
)
from helpers.session import LabelSession
from helpers.ssim import DEFAULT_MAX_VAL, pairwise_ssim

WEIGHTS = "autoencoder.weights.h5"
WEIGHTS_INFO = "autoencoder.json"
INPUTS = "inputs.json"
SKIPPED = "skipped.csv"
PILE_CACHE = "pile.npz"
TRAINING_BUDGET = 120_000_000  # pixel-passes a default training gets: see default_epochs


@dataclass
class Split:
    """The images of one run, as float32 (N, H, W, C) in [0, 1].

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

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_test.shape[1:])

    @property
    def source(self) -> str:
        return self.inputs.data or "Fashion-MNIST"

    def labelled_images(self) -> tuple[np.ndarray, np.ndarray]:
        """Images whose class is known before labelling, and their classes: the training
        split of Fashion-MNIST, or the user's examples."""
        if self.examples is None:
            return self.x_train, self.y_train
        return to_float_images(self.examples.images), self.examples.labels


def load_split(
    profile: config.Profile, seed: int = 0, inputs: Inputs | None = None, run: RunDir | None = None
) -> Split:
    """The run's images: Fashion-MNIST (no data folder) or the user's folder, cut to the
    profile's size (a seeded subset in ``smoke``). A folder's decoded images are kept in the
    run directory (``pile.npz``) while its files stay the same."""
    inputs = inputs or Inputs()
    if inputs.data is None:
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        x_train, y_train = subset(profile.n_train, x_train, y_train, seed=seed)
        test_ids = np.arange(len(x_test))
        x_test, y_test, test_ids = subset(profile.n_test, x_test, y_test, test_ids, seed=seed + 1)
        made_from = fingerprint("Fashion-MNIST", profile.n_train, profile.n_test, seed)
        return Split(
            to_float_images(x_train),
            y_train,
            to_float_images(x_test),
            y_test,
            test_ids,
            CLASS_NAMES,
            inputs,
            made_from,
        )
    return _load_pile(profile, seed, inputs, run)


def _load_pile(profile: config.Profile, seed: int, inputs: Inputs, run: RunDir | None) -> Split:
    root = Path(inputs.data).expanduser().resolve()
    files, others = list_image_files(root)
    if not files:
        raise FileNotFoundError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    if profile.n_test is not None and len(files) > profile.n_test:
        (files,) = subset(profile.n_test, np.asarray(files, dtype=object), seed=seed)
        files = list(files)
    made_from = fingerprint(files_fingerprint(root, files), inputs.format)
    cached = run.load_fresh_arrays(PILE_CACHE, made_from) if run is not None else None
    if cached is not None:
        pile = ImageFolder(
            root,
            cached["images"],
            cached["paths"].tolist(),
            json.loads(str(cached["info"])),
            [tuple(row) for row in json.loads(str(cached["skipped"]))],
            others,
        )
    else:
        pile = read_files(root, files, inputs.format, progress=True, other_files=others)
        if run is not None:
            run.save_arrays(
                PILE_CACHE,
                images=pile.images,
                paths=np.asarray(pile.paths),
                info=np.asarray(json.dumps(pile.info)),
                skipped=np.asarray(json.dumps(pile.skipped)),
                made_from=np.asarray(made_from),
            )
    examples = read_examples(inputs.examples, pile, inputs.format)
    truth = None
    skipped = pile.skipped + examples.skipped
    if inputs.truth:
        truth, ignored = read_truth(inputs.truth, pile, examples.class_names)
        skipped += [(path, f"truth: {why}") for path, why in ignored]
    images = to_float_images(pile.images)
    return Split(
        images,
        None,
        images,
        truth,
        np.asarray(pile.paths),
        examples.class_names,
        inputs,
        made_from,
        examples,
        skipped,
        pile.info,
        pile.other_files,
    )


def setup(
    profile: str | None = None,
    run_dir: str | None = None,
    seed: int = 0,
    follow_run: bool = True,
    **inputs,
) -> tuple[config.Profile, RunDir, Split]:
    """What every notebook starts from: its profile, run directory and images; says which.

    ``inputs`` are ``data``, ``examples``, ``truth``, ``image_size``, ``color``, ``fit``
    (None: from the environment). With ``follow_run`` (notebooks 02-05) what is not given
    follows what the run directory recorded for the same pile (notebook 01 records it);
    notebook 01 passes ``follow_run=False``: its parameters say what the pile is.
    """
    profile_settings = config.get_profile(profile)
    run = RunDir(run_dir)
    recorded = run.load_json(INPUTS) if follow_run and run.has(INPUTS) else None
    chosen = resolve_inputs(recorded, **inputs)
    split = load_split(profile_settings, seed=seed, inputs=chosen, run=run)
    run.save_json(INPUTS, asdict(chosen))
    rows = [{"path": path, "reason": reason} for path, reason in split.skipped]
    run.save_csv(SKIPPED, rows, ["path", "reason"])
    print(
        f"profile {profile_settings.name}: {split.source}: {len(split.x_train)} training "
        f"images, {len(split.x_test)} images to label"
        + (f", {len(split.skipped)} file(s) skipped (see {SKIPPED})" if split.skipped else "")
        + f"; results in {run.path}"
    )
    return profile_settings, run, split


def default_epochs(n_images: int, image_shape: tuple[int, int, int]) -> int:
    """Epochs for training on a pile: a budget of ``TRAINING_BUDGET`` pixel-passes (about
    150,000 images of 28x28 grey, a few minutes on a 2-core laptop CPU), so a 10,000-image
    pile gets 15 epochs and a 100,000-image pile 1; between 1 and 30."""
    pixels = int(np.prod(image_shape))
    return int(np.clip(round(TRAINING_BUDGET / max(1, n_images * pixels)), 1, 30))


def get_autoencoder(
    run: RunDir,
    profile: config.Profile,
    split: Split,
    train_new: bool | None = None,
    seed: int = 0,
    max_val: float = DEFAULT_MAX_VAL,
    epochs: int | None = None,
    verbose="auto",
):
    """The autoencoder, its encoder and decoder for this run, and where they came from.

    ``train_new=None`` (auto): reuse the run's weights if they were made from these images
    and settings; else, for Fashion-MNIST in the ``full`` profile, the shipped weights;
    else train (what notebooks after 02 do when run alone; ``verbose=0`` hides the progress
    bar). ``True`` always trains (resuming an interrupted run from its checkpoint);
    ``False`` never does. ``epochs`` None: the profile's for Fashion-MNIST, one in
    ``smoke``, else ``default_epochs`` for the pile's size.
    """
    if epochs is None:
        fashion_or_smoke = split.inputs.data is None or profile.name == "smoke"
        epochs = (
            profile.epochs
            if fashion_or_smoke
            else default_epochs(len(split.x_train), split.image_shape)
        )
    made_from = fingerprint(
        split.made_from, split.image_shape, epochs, profile.batch_size, seed, max_val
    )
    made = run.load_json(WEIGHTS_INFO) if run.has(WEIGHTS_INFO) else {}
    if train_new is not True and run.has(WEIGHTS) and made.get("made_from") == made_from:
        ae, enc, dec = load_weights(run / WEIGHTS, split.image_shape)
        return ae, enc, dec, {**made, "source": f"reused {run / WEIGHTS} ({made['source']})"}
    shipped = shipped_weights_path()
    fashion_full = split.inputs.data is None and profile.name == "full"
    if train_new is not True and fashion_full and shipped.is_file():
        ae, enc, dec = load_weights(shipped)
        save_weights(ae, run / WEIGHTS)
        made = {"source": f"shipped weights {shipped.name}", "history": {}}
    elif train_new is False:
        raise FileNotFoundError(f"{run / WEIGHTS}: no weights for these images and training is off")
    else:
        ae, enc, dec = build_autoencoder(split.image_shape, seed=seed)
        checkpoint = run / f"checkpoint-{made_from}.keras"
        history = train(
            ae,
            split.x_train,
            epochs=epochs,
            batch_size=profile.batch_size,
            seed=seed,
            max_val=max_val,
            verbose=verbose,
            checkpoint=checkpoint,
        )
        save_weights(ae, run / WEIGHTS)
        for path in (checkpoint, checkpoint.with_suffix(".json")):
            path.unlink(missing_ok=True)
        made = {
            "history": history,
            "source": f"trained {epochs} epoch(s) on {len(split.x_train)} images",
        }
    made = {**made, "profile": profile.name, "made_from": made_from}
    run.save_json(WEIGHTS_INFO, made)
    run.invalidate_after(WEIGHTS)
    return ae, enc, dec, made


def get_codes(run: RunDir, autoencoder, encoder, split: Split) -> dict[str, np.ndarray]:
    """Codes and reconstructions of the images to label (``codes.npz``)."""
    weights = run.load_json(WEIGHTS_INFO).get("made_from", "") if run.has(WEIGHTS_INFO) else ""
    made_from = fingerprint(weights, split.made_from)
    saved = run.load_fresh_arrays("codes.npz", made_from)
    if saved is not None:
        return saved
    images = split.x_test
    out = {"codes": encode(encoder, images), "reconstructions": reconstruct(autoencoder, images)}
    run.save_arrays("codes.npz", **out, made_from=np.asarray(made_from))
    run.invalidate_after("codes.npz")
    return run.load_arrays("codes.npz")


def get_clusters(
    run: RunDir, codes: np.ndarray, n_clusters: int, seed: int = 0, method: str | None = None
):
    """The cluster of every code, and each cluster's mean code (``clusters.npz``).

    ``method`` is ``"spectral"`` or ``"kmeans"``; None takes whatever notebook 04 saved
    (spectral if nothing is saved yet).
    """
    codes_made_from = _made_from(run, "codes.npz")
    if method is None and run.has("clusters.npz"):
        method = str(run.load_arrays("clusters.npz").get("method", "spectral"))
    method = method or "spectral"
    made_from = fingerprint(codes_made_from, n_clusters, method, seed)
    saved = run.load_fresh_arrays("clusters.npz", made_from)
    if saved is not None:
        return saved
    clusters = cluster_codes(codes, n_clusters, method=method, seed=seed)
    centers = np.stack([codes[clusters == c].mean(axis=0) for c in range(n_clusters)])
    out = {"clusters": clusters, "centers": centers, "method": np.array(method)}
    run.save_arrays("clusters.npz", **out, made_from=np.asarray(made_from))
    run.invalidate_after("clusters.npz")
    return out


def _made_from(run: RunDir, name: str) -> str:
    """What an artifact of the run was made from ("" if it is not there)."""
    return str(run.load_arrays(name).get("made_from", "")) if run.has(name) else ""


@dataclass
class Examples:
    """The class examples, their codes and reconstructions."""

    labels: np.ndarray
    images: np.ndarray
    codes: np.ndarray
    reconstructions: np.ndarray
    in_pile: np.ndarray  # index of the same image among those labelled, -1 if not there
    made_from: str  # fingerprint of the images and their classes

    def known(self) -> Known:
        """The examples that are in the pile: those images keep the class you gave them."""
        return Known.of(self.in_pile, self.labels, "example")


def get_examples(split: Split, autoencoder, encoder, per_class: int, seed: int = 0) -> Examples:
    """The user's examples, or (Fashion-MNIST) ``per_class`` seeded training images of each
    class; with their codes and reconstructions."""
    if split.examples is not None:
        images, labels = split.labelled_images()
        in_pile = split.examples.in_pile
    else:
        idx = choose_examples(split.y_train, per_class, seed=seed, n_classes=len(split.class_names))
        images, labels = split.x_train[idx], split.y_train[idx]
        in_pile = np.full(len(idx), -1)
    return Examples(
        labels,
        images,
        encode(encoder, images),
        reconstruct(autoencoder, images),
        in_pile,
        fingerprint(images, labels),
    )


def get_similarity(
    run: RunDir,
    recon_images: np.ndarray,
    examples: Examples,
    n_classes: int,
    max_val: float = DEFAULT_MAX_VAL,
) -> np.ndarray:
    """(n, n_examples) SSIM of each image's reconstruction with each example's (``scores.npz``).

    New examples or another ``max_val`` recompute it; everything downstream of it
    (how a class's examples are combined, spreading, the threshold) costs nothing.
    """
    made_from = fingerprint(_made_from(run, "codes.npz"), examples.made_from, max_val)
    saved = run.load_fresh_arrays("scores.npz", made_from)
    if saved is not None:
        return saved["similarity"]
    check_examples_cover_classes(examples.labels, n_classes)
    sim = pairwise_ssim(recon_images, examples.reconstructions, max_val=max_val)
    run.save_arrays("scores.npz", similarity=sim, made_from=np.asarray(made_from))
    run.invalidate_after("scores.npz")
    return sim


def label_session(
    run: RunDir,
    split: Split,
    encoded: dict[str, np.ndarray],
    clusters: np.ndarray,
    examples: Examples,
    similarity: np.ndarray,
    settings: LabelSettings,
) -> LabelSession:
    """Everything the labels are made from, for ``relabel()`` now and after each review."""
    return LabelSession(
        run,
        split.test_ids,
        split.class_names,
        encoded["codes"],
        encoded["reconstructions"],
        clusters,
        similarity,
        examples.labels,
        examples.codes,
        examples.reconstructions,
        examples.known(),
        settings,
        made_from=str(encoded.get("made_from", "")),
    )


def write_labels(run: RunDir, labels, threshold: float, split: Split):
    """Write ``labels.csv`` (one row per image) atomically and return its path."""
    rows, fields = label_rows(
        labels, threshold, split.class_names, image_ids=split.test_ids, true_labels=split.y_test
    )
    return run.save_csv("labels.csv", rows, fields)


def describe_inputs(split: Split, show_skipped: int = 5) -> None:
    """Say what was found: images, their original formats and sizes, classes, skipped files."""
    n_classes = len(split.class_names)
    shape = "x".join(map(str, split.image_shape[:2])) + (
        " colour" if split.image_shape[2] == 3 else " grey"
    )
    if split.examples is None:
        print(
            f"Fashion-MNIST: {len(split.x_train):,} training images (classes known) and "
            f"{len(split.x_test):,} images to label, {shape}, {n_classes} classes"
        )
        return
    print(f"{split.source}: {len(split.x_test):,} images read, now {shape} each")
    print(f"\n{'format':8s} {'mode':6s} {'images':>7s}  {'width':>11s}  {'height':>11s}")
    for row in describe(split.info):
        print(
            f"{row['format']:8s} {row['mode']:6s} {row['images']:7d}  "
            f"{row['width']:>11s}  {row['height']:>11s}"
        )
    counts = np.bincount(split.examples.labels, minlength=n_classes)
    in_pile = int((split.examples.in_pile >= 0).sum())
    print(
        f"\n{n_classes} classes, examples: "
        + ", ".join(
            f"{name} {count}" for name, count in zip(split.class_names, counts, strict=True)
        )
        + (f" ({in_pile} of them in the pile)" if in_pile else "")
    )
    if split.y_test is not None:
        print(f"truth known for {int((split.y_test >= 0).sum()):,} images")
    if split.other_files:
        others = ", ".join(f"{ext} {n}" for ext, n in sorted(split.other_files.items()))
        print(f"other files left aside (not image extensions): {others}")
    print(f"\n{len(split.skipped)} file(s) skipped" + (":" if split.skipped else ""))
    for path, reason in split.skipped[:show_skipped]:
        print(f"  {path}: {reason}")
    if len(split.skipped) > show_skipped:
        print(f"  ... all of them in {SKIPPED} in the run directory")
