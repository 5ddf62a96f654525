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
    from helpers.data import load_fashion_mnist

    folder = data_dir()
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"Fashion-MNIST not found in {folder}; set FASHION_MNIST_DIR")
    return load_fashion_mnist(folder, download=False)


@pytest.fixture(scope="session")
def real_images(fashion_mnist):
    """200 test images as float32 (N, 28, 28, 1) in [0, 1], and their labels."""
    from helpers.data import to_float_images

    (_, _), (x_test, y_test) = fashion_mnist
    return to_float_images(x_test[:200]), y_test[:200]


@pytest.fixture
def rng():
    return np.random.default_rng(0)
