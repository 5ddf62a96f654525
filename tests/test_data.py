import gzip
import os

import numpy as np
import pytest

from helpers.data import fashion_mnist as data
from helpers.data.fashion_mnist import DatasetError, load_fashion_mnist


def _write_idx_images(path, images, magic=2051, truncate=0):
    n, r, c = images.shape
    header = np.array([magic, n, r, c], ">u4").tobytes()
    raw = header + images.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(raw[: len(raw) - truncate] if truncate else raw)


def _write_idx_labels(path, labels, magic=2049):
    with gzip.open(path, "wb") as fh:
        fh.write(
            np.array([magic, len(labels)], ">u4").tobytes() + labels.astype(np.uint8).tobytes()
        )


def _fake_dataset(folder, n_train=5, n_test=3, rng=None):
    rng = rng or np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    _write_idx_images(
        folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28))
    )
    _write_idx_labels(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    _write_idx_images(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    _write_idx_labels(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, n_test))
    return folder


def test_shared_copy_matches_keras_contract(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert y_train[0] == 9  # an ankle boot
    assert data.CLASS_NAMES[y_train[0]] == "Ankle boot"
    assert abs(x_train.mean() / 255 - 0.2860) < 5e-5
    assert abs(x_train.std() / 255 - 0.3530) < 5e-5
    assert abs(x_test.mean() / 255 - 0.2868) < 5e-5
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    explicit = _fake_dataset(tmp_path / "explicit", n_train=4)
    env = _fake_dataset(tmp_path / "env", n_train=6)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(env))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    assert len(load_fashion_mnist(explicit, download=False)[0][0]) == 4
    assert len(load_fashion_mnist(download=False)[0][0]) == 6
    monkeypatch.delenv("FASHION_MNIST_DIR")
    _fake_dataset(tmp_path / "keras_home" / "datasets" / "fashion-mnist", n_train=7)
    assert len(load_fashion_mnist(download=False)[0][0]) == 7


def test_missing_file_names_file_and_every_place_looked(tmp_path, monkeypatch):
    folder = _fake_dataset(tmp_path / "d")
    os.remove(folder / "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "envdir"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    with pytest.raises(FileNotFoundError) as err:
        load_fashion_mnist(folder, download=False)
    msg = str(err.value)
    assert str(folder / "t10k-labels-idx1-ubyte.gz") in msg
    assert str(tmp_path / "envdir") in msg
    assert str(tmp_path / "kh" / "datasets" / "fashion-mnist") in msg


def test_failed_download_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))

    def no_network():
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "_download_with_keras", no_network)
    with pytest.raises(FileNotFoundError, match="download failed.*network unreachable"):
        load_fashion_mnist(tmp_path / "nothing")


def test_truncated_file_is_named(tmp_path):
    folder = _fake_dataset(tmp_path / "d")
    _write_idx_images(folder / "train-images-idx3-ubyte.gz", np.zeros((5, 28, 28)), truncate=10)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz.*header promises 5 images"):
        load_fashion_mnist(folder, download=False)


def test_corrupt_gzip_is_named(tmp_path):
    folder = _fake_dataset(tmp_path / "d")
    raw = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz.*corrupt"):
        load_fashion_mnist(folder, download=False)


def test_wrong_magic_number_is_named(tmp_path):
    folder = _fake_dataset(tmp_path / "d")
    _write_idx_labels(folder / "train-labels-idx1-ubyte.gz", np.zeros(5), magic=2051)
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz.*magic number 2051"):
        load_fashion_mnist(folder, download=False)


def test_label_and_image_counts_must_agree(tmp_path):
    folder = _fake_dataset(tmp_path / "d")
    _write_idx_labels(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(DatasetError, match="3 images but .*t10k-labels.* 4 labels"):
        load_fashion_mnist(folder, download=False)


def test_to_float_images():
    x = np.array([[[0, 255], [51, 102]]], np.uint8)
    f = data.to_float_images(x)
    assert f.shape == (1, 2, 2, 1) and f.dtype == np.float32
    np.testing.assert_allclose(f[0, :, :, 0], [[0, 1], [0.2, 0.4]], atol=1e-7)
    assert data.to_float_images(np.zeros((2, 8, 8, 3), np.uint8)).shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="1 or 3"):
        data.to_float_images(np.zeros((2, 28, 28, 2), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.to_float_images(np.full((1, 4, 4), 2.0))


def test_choose_examples_is_seeded_and_balanced(fashion_mnist):
    (_, y_train), _ = fashion_mnist
    idx = data.choose_examples(y_train, per_class=3, seed=5)
    assert np.bincount(y_train[idx], minlength=10).tolist() == [3] * 10
    assert np.array_equal(idx, data.choose_examples(y_train, per_class=3, seed=5))
    assert not np.array_equal(idx, data.choose_examples(y_train, per_class=3, seed=6))
