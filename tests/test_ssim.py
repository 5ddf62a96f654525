"""SSIM against tf.image.ssim and scikit-image, on random and real images."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import structural_similarity

from helpers import ssim as S


@pytest.mark.parametrize("max_val", [1.0, 2.0])
def test_ssim_matches_tensorflow_on_real_images(real_images, max_val):
    x, _ = real_images
    a, b = x[:100], x[100:200]
    ours = keras.ops.convert_to_numpy(S.ssim(a, b, max_val))
    ref = tf.image.ssim(a, b, max_val).numpy()
    assert ours.shape == (100,) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 1e-6  # same kernel, same convolution: equal in practice


def test_ssim_matches_tensorflow_on_random_images_with_channels(rng):
    a = rng.random((8, 32, 24, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1).astype(np.float32)
    ours = keras.ops.convert_to_numpy(S.ssim(a, b))
    assert np.abs(ours - tf.image.ssim(a, b, 1.0).numpy()).max() < 1e-5


def test_ssim_matches_scikit_image_away_from_the_border(rng):
    # scikit-image pads and averages the SSIM map over the whole image, whereas
    # tf.image.ssim (and we) average only the positions where the 11x11 window fits.
    # Cropping skimage's full map to the valid positions makes the two definitions equal.
    a = rng.random((28, 28)).astype(np.float64)
    b = np.clip(a * 0.7 + 0.2 * rng.random((28, 28)), 0, 1)
    _, full_map = structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        full=True,
    )
    ref = full_map[5:-5, 5:-5].mean()
    ours = float(
        keras.ops.convert_to_numpy(
            S.ssim(a[None, :, :, None].astype(np.float32), b[None, :, :, None].astype(np.float32))
        )[0]
    )
    assert abs(ours - ref) < 1e-5


def test_identical_images_give_one_and_loss_zero(real_images):
    x, _ = real_images
    np.testing.assert_allclose(keras.ops.convert_to_numpy(S.ssim(x[:10], x[:10])), 1.0, atol=1e-6)
    loss = S.SSIMLoss()(x[:10], x[:10])
    assert abs(float(keras.ops.convert_to_numpy(loss))) < 1e-6


def test_ssim_loss_is_one_minus_mean_ssim(real_images):
    x, _ = real_images
    for max_val in (1.0, 2.0):
        loss = float(keras.ops.convert_to_numpy(S.SSIMLoss(max_val)(x[:20], x[20:40])))
        ref = 1.0 - float(tf.reduce_mean(tf.image.ssim(x[:20], x[20:40], max_val)))
        assert abs(loss - ref) < 1e-5
    cfg = S.SSIMLoss(2.0).get_config()
    assert S.SSIMLoss.from_config(cfg).max_val == 2.0


def test_pairwise_matrix_agrees_with_pair_by_pair(real_images):
    x, _ = real_images
    a, b = x[:30], x[30:47]
    m = S.pairwise_ssim(a, b, max_val=1.0)
    assert m.shape == (30, 17) and m.dtype == np.float32
    ref = tf.image.ssim(np.repeat(a, 17, 0), np.tile(b, (30, 1, 1, 1)), 1.0).numpy().reshape(30, 17)
    # The separable matrix-product route rounds differently from tf's convolution on the
    # near-cancelling variance terms; it sits closer to a float64 reference (test below).
    assert np.abs(m - ref).max() < 1e-4
    assert np.all(m <= 1.0 + 1e-5) and np.all(m >= -1.0)


def test_pairwise_on_colour_images_averages_the_channels(rng):
    a = rng.random((5, 32, 32, 3)).astype(np.float32)
    b = np.clip(a[:3] + 0.1 * rng.standard_normal((3, 32, 32, 3)), 0, 1).astype(np.float32)
    m = S.pairwise_ssim(a, b, max_bytes=40_000)  # several padded blocks
    ref = tf.image.ssim(np.repeat(a, 3, 0), np.tile(b, (5, 1, 1, 1)), 1.0).numpy().reshape(5, 3)
    assert np.abs(m - ref).max() < 1e-4


def test_pairwise_matches_float64_reference(real_images):
    x, _ = real_images
    a, b = x[:20].astype(np.float64)[..., 0], x[20:35].astype(np.float64)[..., 0]
    g = S.valid_filter_matrix(28).astype(np.float64)

    def blur(z):
        return g @ z @ g.T

    c1, c2 = 0.01**2, 0.03**2
    ref = np.empty((20, 15))
    for i in range(20):
        mx, my = blur(a[i]), blur(b)
        lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
        cs = (2 * blur(a[i] * b) - 2 * mx * my + c2) / (blur(a[i] ** 2 + b**2) - mx**2 - my**2 + c2)
        ref[i] = (lum * cs).mean(axis=(1, 2))
    assert np.abs(S.pairwise_ssim(x[:20], x[20:35]) - ref).max() < 1e-5


def test_pairwise_chunking_does_not_change_the_result(real_images):
    x, _ = real_images
    whole = S.pairwise_ssim(x[:25], x[25:50])
    tiny = S.pairwise_ssim(x[:25], x[25:50], max_bytes=20_000)  # forces many small blocks
    np.testing.assert_allclose(tiny, whole, atol=1e-5)  # float32 matmul blocking only


def test_pairwise_diagonal_of_self_is_one(real_images):
    x, _ = real_images
    np.testing.assert_allclose(np.diag(S.pairwise_ssim(x[:12], x[:12])), 1.0, atol=1e-5)


def test_window_is_tf_gaussian():
    g = S.gaussian_window()
    assert g.shape == (11,) and abs(g.sum() - 1) < 1e-6
    assert np.argmax(g) == 5 and np.allclose(g, g[::-1])


@pytest.mark.parametrize(
    "bad, err, match",
    [
        (np.zeros((2, 28, 28, 1), np.uint8), TypeError, "dtype uint8"),
        (np.zeros((28, 28), np.float32), ValueError, r"\(N, H, W, C\)"),
        (np.zeros((2, 8, 8, 1), np.float32), ValueError, "at least 11x11"),
    ],
)
def test_bad_input_is_refused_clearly(bad, err, match):
    good = np.zeros_like(bad, dtype=np.float32) if bad.ndim == 4 else bad
    with pytest.raises(err, match=match):
        S.ssim(bad, good)
    with pytest.raises(err, match=match):
        S.pairwise_ssim(bad, good)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        S.ssim(np.zeros((2, 28, 28, 1), np.float32), np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        S.pairwise_ssim(np.zeros((2, 28, 28, 1), np.float32), np.zeros((3, 28, 32, 1), np.float32))
