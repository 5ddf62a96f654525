"""Shared fixtures: the offline Fashion-MNIST copy and small real image batches."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "fashion-mnist"


def data_dir() -> Path:
    env = os.environ.get("FASHION_MNIST_DIR")
    return Path(env) if env else SHARED_DATA


@pytest.fixture(scope="session")
def fashion_mnist():
    from helpers.data.fashion_mnist import load_fashion_mnist

    folder = data_dir()
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"Fashion-MNIST not found in {folder}; set FASHION_MNIST_DIR")
    return load_fashion_mnist(folder, download=False)


@pytest.fixture(scope="session")
def real_images(fashion_mnist):
    """200 test images as float32 (N, 28, 28, 1) in [0, 1], and their labels."""
    from helpers.data.fashion_mnist import to_float_images

    (_, _), (x_test, y_test) = fashion_mnist
    return to_float_images(x_test[:200]), y_test[:200]


@pytest.fixture(scope="session", autouse=True)
def keep_the_current_run():
    """Tests set up runs of their own in notebook 01's way: afterwards the run the later
    notebooks follow (``config.CURRENT_RUN``) is again the one a person set up."""
    from helpers.core import config

    pointer = ROOT / config.CURRENT_RUN
    before = pointer.read_text() if pointer.is_file() else None
    yield
    if before is None:
        pointer.unlink(missing_ok=True)
    else:
        pointer.write_text(before)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def pile_folder(tmp_path_factory, fashion_mnist):
    """60 test images of mixed formats with broken files and clutter, 3 examples per class
    as class folders, and a truth CSV."""
    from tests import piles

    (x_train, y_train), (x_test, y_test) = fashion_mnist
    root = tmp_path_factory.mktemp("data")
    pile = root / "pile"
    paths = piles.write_good_images(pile, x_test[:60])
    piles.write_bad_files(pile / "broken", x_test[0])
    piles.write_clutter(pile, x_test[0])
    idx = np.concatenate([np.flatnonzero(y_train == c)[:3] for c in range(10)])
    names = piles.FOLDER_NAMES
    piles.write_class_folders(root / "examples", x_train[idx], y_train[idx], names)
    piles.write_truth(root / "truth.csv", paths, y_test[:60], names)
    return root, paths
