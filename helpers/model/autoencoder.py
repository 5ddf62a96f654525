"""The convolutional autoencoder: build, encode, decode, save, load (training:
``helpers.model.training``).

The default architecture is the tutorial's, layer for layer (215,499 parameters for
28x28x1 images and a 10-number code).
"""

from __future__ import annotations

from helpers.core import _quiet  # noqa: F401  (first: silences TensorFlow's start-up logs)

# isort: split

import json
import os
from pathlib import Path

import keras
import numpy as np
from keras import layers

from helpers.core.files import atomic_write
from helpers.data.fashion_mnist import to_float_images
from helpers.model.folded import folded_decoder

SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def build_autoencoder(
    input_shape: tuple[int, int, int] = (28, 28, 1), latent_dim: int = 10, seed: int = 0
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """The autoencoder, its encoder and its decoder (the tutorial's architecture).

    Every layer's initial weights are drawn from ``seed``, so one seed builds one model.
    """
    h, w, channels = input_shape
    if h % 4 or w % 4:
        raise ValueError(f"image height and width must be multiples of 4, got {input_shape}")
    seeds = iter(range(seed * 100, seed * 100 + 100))

    def init():  # Keras's default initializer, with a seed of its own for each layer
        return {"kernel_initializer": keras.initializers.GlorotUniform(seed=next(seeds))}

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, (filters, stride) in enumerate([(32, 1), (64, 2), (64, 2)], start=1):
        x = layers.Conv2D(
            filters, 3, strides=stride, padding="same", name=f"enc_conv{i}", **init()
        )(x)
        x = layers.BatchNormalization(name=f"enc_bn{i}")(x)
        x = layers.LeakyReLU(name=f"enc_act{i}")(x)
    x = layers.Flatten(name="enc_flatten")(x)
    code = layers.Dense(latent_dim, name="code", **init())(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="code_in")
    y = layers.Dense((h // 4) * (w // 4) * 64, name="dec_dense", **init())(code_in)
    y = layers.Reshape((h // 4, w // 4, 64), name="dec_reshape")(y)
    for i, (filters, stride) in enumerate([(64, 2), (64, 2), (32, 1)], start=1):
        y = layers.Conv2DTranspose(
            filters, 3, strides=stride, padding="same", name=f"dec_deconv{i}", **init()
        )(y)
        y = layers.BatchNormalization(name=f"dec_bn{i}")(y)
        y = layers.LeakyReLU(name=f"dec_act{i}")(y)
    out = layers.Conv2DTranspose(
        channels,
        3,
        strides=1,
        padding="same",
        activation="sigmoid",
        name="reconstruction",
        **init(),
    )(y)
    decoder = keras.Model(code_in, out, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return autoencoder, encoder, decoder


def set_seed(seed: int = 0) -> None:
    """Seed Python, numpy and the backend; make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def encode(encoder: keras.Model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Codes of the images (uint8, or float in [0, 1]), float32 (N, latent_dim)."""
    return _predict(encoder, images, batch_size, to_float_images)


def reconstruct(autoencoder: keras.Model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The autoencoder's reconstructions of the images, float32 (N, H, W, C) in [0, 1]."""
    return _predict(autoencoder, images, batch_size, to_float_images)


def decode(decoder: keras.Model, codes: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The decoder's images for the codes: what ``reconstruct`` gives for their images
    (within float rounding: computed by its folded twin, ``helpers.model.folded``)."""
    return _predict(folded_decoder(decoder), np.asarray(codes, np.float32), batch_size, lambda c: c)


PREDICT_CHUNK = 16_384  # inputs turned into float32 at a time, so a pile is never all float


def _predict(model: keras.Model, inputs: np.ndarray, batch_size: int, prepare) -> np.ndarray:
    chunks = [
        np.asarray(
            model.predict(prepare(inputs[i : i + PREDICT_CHUNK]), batch_size=batch_size, verbose=0),
            np.float32,
        )
        for i in range(0, len(inputs), PREDICT_CHUNK)
    ]
    if not chunks:
        return np.zeros((0, *model.output_shape[1:]), np.float32)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def rebuild_verdict(scores: np.ndarray) -> str:
    """What the SSIM between images and their reconstructions says about this pile, in a
    plain sentence: how much of what the images show the 10-number codes keep."""
    mean = float(np.mean(scores))
    said = f"mean SSIM {mean:.2f} over {len(scores)} images, where 1 is a perfect copy"
    if mean >= 0.75:
        return (
            f"The autoencoder rebuilds this pile well ({said}): its codes keep what the "
            "images show."
        )
    if mean >= 0.5:
        return (
            f"The autoencoder keeps the broad shapes of this pile and loses the detail ({said}): "
            "its codes group images by their overall look. The labels' neighbour graph uses "
            "the description of notebook 03, which keeps the detail."
        )
    return (
        f"The autoencoder learned little about this pile ({said}): its reconstructions are "
        "blurs, near the pile's average image, and its codes say little about what an image "
        "shows. The labels lean on the description of notebook 03 and on Poisson learning, "
        "not on these codes; the SSIM scores against the examples count for little."
    )


def save_weights(autoencoder: keras.Model, path: str | os.PathLike) -> Path:
    """Save the weights (Keras 3 ``.weights.h5``) atomically."""
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"{path}: Keras 3 weight files must end in .weights.h5")
    return atomic_write(path, autoencoder.save_weights)


def load_weights(
    path: str | os.PathLike, input_shape=(28, 28, 1), latent_dim: int = 10
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """Build the autoencoder and load weights saved by ``save_weights``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    autoencoder, encoder, decoder = build_autoencoder(input_shape, latent_dim)
    try:
        autoencoder.load_weights(path)
    except Exception as err:
        raise ValueError(
            f"{path}: cannot load into the autoencoder ({type(err).__name__}: {err})"
        ) from err
    return autoencoder, encoder, decoder


def shipped_weights_path(name: str = "fashion_mnist") -> Path:
    """Path of the weights that come with the package (may not exist)."""
    return SHIPPED_WEIGHTS_DIR / f"{name}.weights.h5"


def shipped_weights_info(name: str = "fashion_mnist") -> dict:
    """How the shipped weights were made (the JSON beside them)."""
    path = SHIPPED_WEIGHTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}
