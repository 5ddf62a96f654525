"""Load-or-compute steps shared by the notebooks: each reads what an earlier notebook saved
in the run directory and recomputes it when missing, so any notebook runs on its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers import config
from helpers.artifacts import RunDir
from helpers.cluster import cluster_codes
from helpers.data import (
    CLASS_NAMES,
    choose_examples,
    load_fashion_mnist,
    subset,
    to_float_images,
)
from helpers.export import label_rows
from helpers.labels import check_examples_cover_classes
from helpers.model import (
    build_autoencoder,
    encode,
    load_weights,
    reconstruct,
    save_weights,
    shipped_weights_path,
    train,
)
from helpers.ssim import DEFAULT_MAX_VAL, pairwise_ssim

WEIGHTS = "autoencoder.weights.h5"
WEIGHTS_INFO = "autoencoder.json"
CHECKPOINT = "checkpoint.keras"


@dataclass
class Split:
    """Images as float32 (N, 28, 28, 1) in [0, 1], labels, and indices into the full split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_ids: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES


def load_split(profile: config.Profile, seed: int = 0, data_dir=None) -> Split:
    """Fashion-MNIST cut to the profile's size (a seeded subset in ``smoke``)."""
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(data_dir)
    x_train, y_train = subset(profile.n_train, x_train, y_train, seed=seed)
    test_ids = np.arange(len(x_test))
    x_test, y_test, test_ids = subset(profile.n_test, x_test, y_test, test_ids, seed=seed + 1)
    return Split(to_float_images(x_train), y_train, to_float_images(x_test), y_test, test_ids)


def setup(
    profile: str | None = None, run_dir: str | None = None, seed: int = 0
) -> tuple[config.Profile, RunDir, Split]:
    """What every notebook starts from: its profile, run directory and images; says which."""
    profile_settings = config.get_profile(profile)
    run = RunDir(run_dir)
    split = load_split(profile_settings, seed=seed)
    print(
        f"profile {profile_settings.name}: {len(split.x_train)} training images, "
        f"{len(split.x_test)} images to label; results in {run.path}"
    )
    return profile_settings, run, split


def get_autoencoder(
    run: RunDir,
    profile: config.Profile,
    x_train: np.ndarray,
    train_new: bool | None = None,
    seed: int = 0,
    max_val: float = DEFAULT_MAX_VAL,
    verbose="auto",
):
    """The autoencoder, its encoder and decoder for this run, and where they came from.

    ``train_new=None`` (auto): reuse the run's weights if they were made for this profile;
    else, in the ``full`` profile, the shipped weights; else train (what notebooks after
    02 do when run alone; ``verbose=0`` hides the progress bar). ``True`` always trains
    (resuming an interrupted run from its checkpoint); ``False`` never does.
    """
    made = run.load_json(WEIGHTS_INFO) if run.has(WEIGHTS_INFO) else {}
    if train_new is not True and run.has(WEIGHTS) and made.get("profile") == profile.name:
        ae, enc, dec = load_weights(run / WEIGHTS)
        return ae, enc, dec, {**made, "source": f"reused {run / WEIGHTS} ({made['source']})"}
    shipped = shipped_weights_path()
    if train_new is not True and profile.name == "full" and shipped.is_file():
        ae, enc, dec = load_weights(shipped)
        save_weights(ae, run / WEIGHTS)
        made = {"profile": profile.name, "source": f"shipped weights {shipped.name}", "history": {}}
    elif train_new is False:
        raise FileNotFoundError(
            f"{run / WEIGHTS}: no weights for the {profile.name} profile and training is off"
        )
    else:
        ae, enc, dec = build_autoencoder(seed=seed)
        history = train(
            ae,
            x_train,
            epochs=profile.epochs,
            batch_size=profile.batch_size,
            seed=seed,
            max_val=max_val,
            verbose=verbose,
            checkpoint=run / CHECKPOINT,
        )
        save_weights(ae, run / WEIGHTS)
        for path in (run / CHECKPOINT, (run / CHECKPOINT).with_suffix(".json")):
            path.unlink(missing_ok=True)
        made = {
            "profile": profile.name,
            "history": history,
            "source": f"trained {profile.epochs} epoch(s) on {len(x_train)} images",
        }
    run.save_json(WEIGHTS_INFO, made)
    run.invalidate_after(WEIGHTS)
    return ae, enc, dec, made


def get_codes(run: RunDir, autoencoder, encoder, images: np.ndarray) -> dict[str, np.ndarray]:
    """Codes and reconstructions of the images (``codes.npz``)."""
    if run.has("codes.npz"):
        saved = run.load_arrays("codes.npz")
        if len(saved["codes"]) == len(images):
            return saved
    out = {"codes": encode(encoder, images), "reconstructions": reconstruct(autoencoder, images)}
    run.save_arrays("codes.npz", **out)
    run.invalidate_after("codes.npz")
    return out


def get_clusters(
    run: RunDir, codes: np.ndarray, n_clusters: int, seed: int = 0, method: str | None = None
):
    """The cluster of every code, and each cluster's mean code (``clusters.npz``).

    ``method`` is ``"spectral"`` or ``"kmeans"``; None takes whatever notebook 04 saved
    (spectral if nothing is saved yet).
    """
    if run.has("clusters.npz"):
        saved = run.load_arrays("clusters.npz")
        if (
            len(saved["clusters"]) == len(codes)
            and len(saved["centers"]) == n_clusters
            and method in (None, str(saved.get("method", "kmeans")))
        ):
            return saved
    method = method or "spectral"
    clusters = cluster_codes(codes, n_clusters, method=method, seed=seed)
    centers = np.stack([codes[clusters == c].mean(axis=0) for c in range(n_clusters)])
    out = {"clusters": clusters, "centers": centers, "method": np.array(method)}
    run.save_arrays("clusters.npz", **out)
    run.invalidate_after("clusters.npz")
    return out


@dataclass
class Examples:
    """The class examples: indices into the training split, labels, codes, reconstructions."""

    index: np.ndarray
    labels: np.ndarray
    images: np.ndarray
    codes: np.ndarray
    reconstructions: np.ndarray


def get_examples(split: Split, autoencoder, encoder, per_class: int, seed: int = 0) -> Examples:
    """``per_class`` seeded training images of each class, their codes and reconstructions."""
    idx = choose_examples(split.y_train, per_class, seed=seed, n_classes=len(split.class_names))
    images = split.x_train[idx]
    return Examples(
        idx, split.y_train[idx], images, encode(encoder, images), reconstruct(autoencoder, images)
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
    sim = None
    if run.has("scores.npz"):
        saved = run.load_arrays("scores.npz")
        if (
            "similarity" in saved
            and saved["similarity"].shape == (len(recon_images), len(examples.index))
            and np.array_equal(saved["example_index"], examples.index)
            and float(saved["max_val"]) == max_val
        ):
            sim = saved["similarity"]
    if sim is None:
        check_examples_cover_classes(examples.labels, n_classes)
        sim = pairwise_ssim(recon_images, examples.reconstructions, max_val=max_val)
        run.save_arrays(
            "scores.npz", similarity=sim, example_index=examples.index, max_val=np.float32(max_val)
        )
        run.invalidate_after("scores.npz")
    return sim


def write_labels(run: RunDir, labels, threshold: float, split: Split):
    """Write ``labels.csv`` (one row per image) atomically and return its path."""
    rows, fields = label_rows(
        labels, threshold, split.class_names, image_ids=split.test_ids, true_labels=split.y_test
    )
    return run.save_csv("labels.csv", rows, fields)
