"""Fashion-MNIST (offline first), and the array helpers every pile shares: scaling,
seeded subsets, seeded example choice. A folder of your own images: ``helpers.data.folders``."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from helpers.core import config

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


class DatasetError(ValueError):
    """A data file is missing, truncated or not what it claims to be."""


def keras_cache_dir() -> Path:
    """Where ``keras.datasets.fashion_mnist.load_data()`` caches its files."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def _read_gzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"{path}: cannot be decompressed ({err}); the file is corrupt") from err


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read a gzip IDX image file (magic 2051) into a uint8 array (N, rows, cols)."""
    path = Path(path)
    raw = _read_gzip(path)
    if len(raw) < 16:
        raise DatasetError(f"{path}: {len(raw)} bytes is too short for an IDX image header")
    magic, n, rows, cols = np.frombuffer(raw, ">u4", count=4, offset=0)
    if magic != IDX_IMAGES_MAGIC:
        raise DatasetError(
            f"{path}: magic number {int(magic)} is not {IDX_IMAGES_MAGIC} (IDX images)"
        )
    expected = 16 + int(n) * int(rows) * int(cols)
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: header promises {int(n)} images of {int(rows)}x{int(cols)} "
            f"({expected} bytes) but the file holds {len(raw)} bytes"
        )
    return np.frombuffer(raw, np.uint8, offset=16).reshape(int(n), int(rows), int(cols))


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read a gzip IDX label file (magic 2049) into a uint8 vector."""
    path = Path(path)
    raw = _read_gzip(path)
    if len(raw) < 8:
        raise DatasetError(f"{path}: {len(raw)} bytes is too short for an IDX label header")
    magic, n = np.frombuffer(raw, ">u4", count=2, offset=0)
    if magic != IDX_LABELS_MAGIC:
        raise DatasetError(
            f"{path}: magic number {int(magic)} is not {IDX_LABELS_MAGIC} (IDX labels)"
        )
    if len(raw) != 8 + int(n):
        raise DatasetError(
            f"{path}: header promises {int(n)} labels ({8 + int(n)} bytes) "
            f"but the file holds {len(raw)} bytes"
        )
    return np.frombuffer(raw, np.uint8, offset=8).copy()


def _candidate_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    env_dir = config.fashion_mnist_dir()
    if env_dir is not None:
        dirs.append(env_dir)
    dirs.append(keras_cache_dir())
    return dirs


def find_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding all four Fashion-MNIST files, or None."""
    for folder in _candidate_dirs(data_dir):
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES.values()):
            return folder
    return None


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``, like Keras's loader.

    Looks in ``data_dir``, then ``$FASHION_MNIST_DIR``, then the Keras cache; if none
    holds all four files and ``download`` is true, Keras downloads them into its cache.
    """
    folder = find_fashion_mnist(data_dir)
    if folder is None:
        looked = _candidate_dirs(data_dir)
        missing = [
            str(d / name)
            for d in looked
            for name in FASHION_MNIST_FILES.values()
            if not (d / name).is_file()
        ]
        if not download:
            raise FileNotFoundError(
                "Fashion-MNIST not found; missing: "
                + ", ".join(missing)
                + ". Set FASHION_MNIST_DIR to a folder holding the four .gz files."
            )
        try:
            _download_with_keras()
        except Exception as err:  # no network, proxy, ...
            raise FileNotFoundError(
                "Fashion-MNIST not found and the Keras download failed "
                f"({type(err).__name__}: {err}). Looked in: "
                + ", ".join(str(d) for d in looked)
                + "; missing: "
                + ", ".join(missing)
                + ". Set FASHION_MNIST_DIR to a folder holding the four .gz files."
            ) from err
        folder = keras_cache_dir()
    return _load_folder(folder)


def _download_with_keras() -> None:
    from keras.datasets import fashion_mnist

    fashion_mnist.load_data()


def _load_folder(folder: Path):
    f = {key: folder / name for key, name in FASHION_MNIST_FILES.items()}
    x_train, y_train = read_idx_images(f["train_images"]), read_idx_labels(f["train_labels"])
    x_test, y_test = read_idx_images(f["test_images"]), read_idx_labels(f["test_labels"])
    for images, labels, ipath, lpath in (
        (x_train, y_train, f["train_images"], f["train_labels"]),
        (x_test, y_test, f["test_images"], f["test_labels"]),
    ):
        if len(images) != len(labels):
            raise DatasetError(
                f"{ipath} holds {len(images)} images but {lpath} holds {len(labels)} labels"
            )
    return (x_train, y_train), (x_test, y_test)


def to_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) images -> float32 (N, H, W, C) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected images (N, H, W[, 1 or 3]), got shape {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    images = images.astype(np.float32)
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError("float images must lie in [0, 1]")
    return images


def subset(n: int | None, *arrays: np.ndarray, seed: int = 0) -> tuple[np.ndarray, ...]:
    """The same seeded random ``n`` rows of each array (all rows, in order, if n is None)."""
    total = len(arrays[0])
    if n is None or n >= total:
        return arrays
    idx = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
    return tuple(a[idx] for a in arrays)


def choose_examples(
    labels: np.ndarray, per_class: int, seed: int = 0, n_classes: int | None = None
) -> np.ndarray:
    """Indices of ``per_class`` seeded examples of each class, class by class."""
    labels = np.asarray(labels)
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} images, fewer than {per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.concatenate(chosen)


def check_examples_cover_classes(example_labels, n_classes: int) -> None:
    """Every class needs at least one example image."""
    missing = sorted(set(range(n_classes)) - set(np.asarray(example_labels).tolist()))
    if missing:
        raise ValueError(f"no example images for class(es) {missing}")
