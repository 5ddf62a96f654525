"""Structural similarity (SSIM) in ``keras.ops``: per image, as a Keras loss, and pairwise.

Same definition as ``tf.image.ssim``: an 11x11 Gaussian window (sigma 1.5) slid over the
image without padding ("valid"), constants ``(k1 * max_val)**2`` and ``(k2 * max_val)**2``,
the SSIM map averaged over positions, then over channels. The window is separable, so
filtering is two small matrix products, which also makes the pairwise matrix a pair of
large matrix products rather than one Python loop per pair.
"""

from __future__ import annotations

from helpers.core import _quiet  # noqa: F401  (first: silences TensorFlow's start-up logs)

# isort: split

import keras
import numpy as np
from keras import ops

FILTER_SIZE = 11
FILTER_SIGMA = 1.5
K1 = 0.01
K2 = 0.03
DEFAULT_MAX_VAL = 1.0  # the true dynamic range of images in [0, 1]
TUTORIAL_MAX_VAL = 2.0  # what the tutorial passed for images in [0, 1]


def gaussian_window(size: int = FILTER_SIZE, sigma: float = FILTER_SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian whose outer product is tf.image.ssim's window."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def valid_filter_matrix(length: int, size: int = FILTER_SIZE, sigma: float = FILTER_SIGMA):
    """(length - size + 1, length) matrix M so that ``M @ v`` is the valid 1-D Gaussian filter."""
    g = gaussian_window(size, sigma)
    out = length - size + 1
    m = np.zeros((out, length), np.float32)
    for i in range(out):
        m[i, i : i + size] = g
    return m


def _check_images(x, name: str):
    shape = tuple(x.shape)
    if len(shape) != 4:
        raise ValueError(f"{name} must be a batch of images (N, H, W, C); got shape {shape}")
    if shape[1] is not None and shape[2] is not None and min(shape[1], shape[2]) < FILTER_SIZE:
        raise ValueError(
            f"{name} images are {shape[1]}x{shape[2]}; SSIM needs at least "
            f"{FILTER_SIZE}x{FILTER_SIZE} (the Gaussian window)"
        )
    dtype = keras.backend.standardize_dtype(x.dtype)
    if not dtype.startswith(("float", "bfloat")):
        raise TypeError(
            f"{name} has dtype {dtype}; SSIM expects float images scaled to [0, max_val] "
            "(helpers.data.fashion_mnist.to_float_images turns uint8 into [0, 1])"
        )


def _as_tensor(x, name: str):
    if isinstance(x, np.ndarray) and x.ndim == 3:
        x = x[..., None]
    if isinstance(x, np.ndarray):
        _check_images(x, name)
        x = x.astype(np.float32, copy=False)
    x = ops.convert_to_tensor(x)
    _check_images(x, name)
    return x


def _filter2d(z, mh, mw):
    """Valid Gaussian filter over the last two axes: ``mh @ z @ mw.T``."""
    return ops.matmul(ops.matmul(mh, z), ops.transpose(mw))


def gaussian_kernel(channels: int):
    """The 11x11 window as a depthwise kernel (11, 11, channels, 1).

    Built as tf.image.ssim builds it (a float32 softmax over the 2-D grid of squared
    distances), so the two agree bit for bit on the TensorFlow backend rather than to
    float32 rounding of a slightly different kernel, which the near-cancelling variance
    terms amplify to about 1e-5.
    """
    coords = np.arange(FILTER_SIZE, dtype=np.float32) - np.float32((FILTER_SIZE - 1) / 2.0)
    g = np.square(coords) * np.float32(-0.5 / FILTER_SIGMA**2)
    grid = ops.reshape(ops.convert_to_tensor(g[None, :] + g[:, None]), (1, -1))
    kernel = ops.reshape(ops.softmax(grid), (FILTER_SIZE, FILTER_SIZE, 1, 1))
    return ops.tile(kernel, (1, 1, channels, 1))


def ssim(x, y, max_val: float = DEFAULT_MAX_VAL):
    """SSIM of each image pair ``(x[i], y[i])``: batch in, vector out (like tf.image.ssim).

    Filters with a depthwise convolution of the 2-D window, the same arithmetic as
    ``tf.image.ssim``, so the two agree to float32 rounding on any image.
    """
    x, y = _as_tensor(x, "x"), _as_tensor(y, "y")
    if tuple(x.shape[1:]) != tuple(y.shape[1:]):
        raise ValueError(f"x and y images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    kernel = gaussian_kernel(int(x.shape[-1]))

    def blur(z):
        return ops.depthwise_conv(z, kernel, strides=1, padding="valid")

    x, y = ops.cast(x, "float32"), ops.cast(y, "float32")
    c1 = (K1 * max_val) ** 2
    c2 = (K2 * max_val) ** 2
    mu_x, mu_y = blur(x), blur(y)
    num0 = mu_x * mu_y * 2.0
    den0 = ops.square(mu_x) + ops.square(mu_y)
    luminance = (num0 + c1) / (den0 + c1)
    num1 = blur(x * y) * 2.0
    den1 = blur(ops.square(x) + ops.square(y))
    cs = (num1 - num0 + c2) / (den1 - den0 + c2)
    return ops.mean(luminance * cs, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="helpers")
class SSIMLoss(keras.losses.Loss):
    """``1 - mean(ssim(y_true, y_pred, max_val))``, the autoencoder's training loss."""

    def __init__(self, max_val: float = DEFAULT_MAX_VAL, name: str = "ssim_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.max_val = float(max_val)

    def call(self, y_true, y_pred):
        return 1.0 - ssim(y_true, y_pred, self.max_val)

    def get_config(self):
        return {**super().get_config(), "max_val": self.max_val}


def pairwise_ssim(
    a, b, max_val: float = DEFAULT_MAX_VAL, max_bytes: int = 256 * 2**20
) -> np.ndarray:
    """SSIM of every image in ``a`` against every image in ``b``: a (len(a), len(b)) matrix.

    Works in blocks of pairs whose scratch memory stays under about ``max_bytes``. Each
    block is two matrix products (the column filter of every pair product at once, then the
    row filter) and one fused pass for the SSIM formula, compiled once per block shape
    (XLA on TensorFlow, ``jax.jit`` on JAX). Blocks keep one shape, the last padded, so a
    pile scored batch by batch compiles once.
    """
    a, b = _as_tensor(a, "a"), _as_tensor(b, "b")
    if tuple(a.shape[1:]) != tuple(b.shape[1:]):
        raise ValueError(f"a and b images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    n, h, w, channels = (int(s) for s in a.shape)
    m = int(b.shape[0])
    out = np.zeros((n, m), np.float32)
    if n == 0 or m == 0:
        return out
    gh = ops.convert_to_tensor(valid_filter_matrix(h))
    gw = ops.convert_to_tensor(valid_filter_matrix(w))
    p, q = int(gh.shape[0]), int(gw.shape[0])
    constants = ops.convert_to_tensor(
        np.array([(K1 * max_val) ** 2, (K2 * max_val) ** 2], np.float32)
    )
    bytes_per_pair = 4 * (h * q + 2 * p * q) + 1
    cols = max(1, min(m, max_bytes // bytes_per_pair))
    rows = max(1, min(n, max_bytes // (bytes_per_pair * cols)))
    for c in range(channels):
        a_c = ops.cast(a[..., c], "float32")
        b_c = ops.cast(b[..., c], "float32")
        mu_a, var_a = _image_stats(a_c, gh, gw)
        mu_b, var_b = _image_stats(b_c, gh, gw)
        for j0 in range(0, m, cols):
            j1 = min(m, j0 + cols)
            b_block = (b_c[j0:j1], mu_b[j0:j1], var_b[j0:j1])
            for i0 in range(0, n, rows):
                i1 = min(n, i0 + rows)
                a_block = [_pad_rows(t[i0:i1], rows) for t in (a_c, mu_a, var_a)]
                block = _pair_block(*a_block, *b_block, gh, gw, constants)
                out[i0:i1, j0:j1] += ops.convert_to_numpy(block)[: i1 - i0]
    return out / channels if channels > 1 else out


def _pad_rows(x, rows: int):
    """``x`` with zero rows appended up to ``rows``, so every block has one shape."""
    missing = rows - int(x.shape[0])
    if missing == 0:
        return x
    return ops.concatenate([x, ops.zeros((missing, *x.shape[1:]), x.dtype)], axis=0)


def _image_stats(x, gh, gw):
    """Filtered mean and variance of each image (N, H, W): two (N, P, Q) tensors."""
    mu = _filter2d(x, gh, gw)
    return mu, _filter2d(ops.square(x), gh, gw) - ops.square(mu)


def _jit(fn):
    """``fn`` compiled for the backend (XLA on TensorFlow, jax.jit on JAX), else as is."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def _pair_block_eager(a, mu_a, var_a, b, mu_b, var_b, gh, gw, constants):
    """Mean SSIM map of every pair of one block: (len(a), len(b)).

    ``a`` (n, H, W) with its filtered means and variances (n, P, Q); likewise ``b``.
    """
    n, h, w = a.shape
    m = b.shape[0]
    p, q = gh.shape[0], gw.shape[0]
    c1, c2 = constants[0], constants[1]
    # Column filter of each pair product: for image row r, (a[:, r, :] * g_q) @ b[:, r, :].T
    aw = a[:, :, None, :] * gw[None, None, :, :]  # (n, H, Q, W)
    aw = ops.reshape(ops.transpose(aw, (1, 0, 2, 3)), (h, n * q, w))
    t = ops.matmul(aw, ops.transpose(b, (1, 2, 0)))  # (H, n*Q, m)
    # Row filter: contract the image rows with the window.
    e_ab = ops.reshape(ops.matmul(gh, ops.reshape(t, (h, n * q * m))), (p, n, q, m))
    mu_a = ops.transpose(mu_a, (1, 0, 2))[..., None]  # (P, n, Q, 1)
    var_a = ops.transpose(var_a, (1, 0, 2))[..., None]
    mu_b = ops.transpose(mu_b, (1, 2, 0))[:, None]  # (P, 1, Q, m)
    var_b = ops.transpose(var_b, (1, 2, 0))[:, None]
    mu_ab = mu_a * mu_b
    numerator = (2.0 * mu_ab + c1) * (2.0 * (e_ab - mu_ab) + c2)
    denominator = (ops.square(mu_a) + ops.square(mu_b) + c1) * (var_a + var_b + c2)
    return ops.mean(numerator / denominator, axis=(0, 2))


_pair_block = _jit(_pair_block_eager)
