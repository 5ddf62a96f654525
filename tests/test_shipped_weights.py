"""The weights that ship with the package reproduce the test-set SSIM recorded beside them."""

import numpy as np
import pytest

from helpers.model.autoencoder import (
    load_weights,
    reconstruct,
    shipped_weights_info,
    shipped_weights_path,
)
from helpers.ssim import ssim


def test_shipped_weights_match_their_record(fashion_mnist):
    from helpers.data.fashion_mnist import to_float_images

    path = shipped_weights_path()
    assert path.is_file(), f"{path} is missing"
    info = shipped_weights_info()
    assert info["weights"] == path.name and info["recipe"]["epochs"] >= 1
    autoencoder, _, _ = load_weights(path)
    _, (x_test, _) = fashion_mnist
    x = to_float_images(x_test)
    mean_ssim = float(np.mean(np.asarray(ssim(x, reconstruct(autoencoder, x)))))
    # CPU kernels (oneDNN or not) round differently; the mean over 10,000 images moves
    # by far less than this.
    assert mean_ssim == pytest.approx(info["test_ssim"], abs=2e-3)
