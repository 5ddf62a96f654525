"""Training the codes to ignore what does not change an image's class.

Two random views of each image (``helpers.core.views``) go through the autoencoder's own
encoder and decoder (``two_view_model``); besides the SSIM loss on the reconstructions,
``InvarianceLoss`` pulls the two views' codes together without letting every code
collapse to one (``helpers.model.autoencoder.train``, ``invariance > 0``).
"""

from __future__ import annotations

import keras
from keras import layers, ops


def two_view_model(autoencoder: keras.Model, projection: int = 0, seed: int = 0) -> keras.Model:
    """The autoencoder's own encoder and decoder, returning reconstructions and codes: fed
    two views stacked (first halves, second halves), it trains both losses at once.

    ``projection > 0`` puts a projection head (Dense ``projection`` ReLU, Dense
    ``projection``) between the code and the invariance loss, as SimCLR does, so the
    10-number code is not itself the space where the views must agree; the head is only
    trained with the loss, never part of the autoencoder.
    """
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    views = keras.Input(shape=autoencoder.input_shape[1:], name="views")
    codes = encoder(views)
    recon = decoder(codes)
    if projection > 0:
        init = keras.initializers.GlorotUniform
        codes = layers.Dense(
            projection, activation="relu", name="projection1", kernel_initializer=init(seed)
        )(codes)
        codes = layers.Dense(projection, name="projection2", kernel_initializer=init(seed + 1))(
            codes
        )
    codes = layers.Activation("linear", dtype="float32", name="codes")(codes)
    return keras.Model(views, [recon, codes], name="two_views")


@keras.saving.register_keras_serializable(package="helpers")
class InvarianceLoss(keras.losses.Loss):
    """How far the codes of two views of each image are from agreeing, without collapse.

    ``y_pred`` holds the first views' codes, then the second views' (``y_true`` is unused).
    ``"vicreg"`` (Bardes et al., 2022): the two codes of an image should be close (mean
    squared difference) while, across the batch, every code dimension keeps a standard
    deviation of at least 1 and the dimensions stay uncorrelated (weighted 25 : 25 : 1, over
    25). ``"ntxent"`` (SimCLR, Chen et al., 2020): among all codes of the batch, each code's
    nearest in direction (cosine over ``temperature``) should be its image's other view.
    """

    def __init__(
        self,
        kind: str = "vicreg",
        temperature: float = 0.5,
        name: str = "invariance_loss",
        **kwargs,
    ):
        if kind not in INVARIANCE_KINDS:
            raise ValueError(f"kind must be one of {INVARIANCE_KINDS}, not {kind!r}")
        kwargs.setdefault("reduction", "sum")  # one number per batch already
        super().__init__(name=name, **kwargs)
        self.kind, self.temperature = kind, float(temperature)

    def call(self, y_true, y_pred):
        codes = ops.cast(y_pred, "float32")
        if self.kind == "ntxent":
            return _nt_xent(codes, self.temperature)
        half = ops.shape(codes)[0] // 2
        first, second = codes[:half], codes[half:]
        agree = ops.mean(ops.square(first - second))
        return agree + _spread_out(first) + _spread_out(second)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "temperature": self.temperature}


INVARIANCE_KINDS = ("vicreg", "ntxent")


def _nt_xent(codes, temperature: float):
    """SimCLR's loss: cross-entropy of each code's cosine similarities (itself left out)
    against its other view."""
    n = ops.shape(codes)[0]
    unit = codes / ops.sqrt(ops.sum(ops.square(codes), axis=1, keepdims=True) + 1e-8)
    logits = ops.matmul(unit, ops.transpose(unit)) / temperature
    logits = logits - 1e9 * ops.eye(n)
    partner = (ops.arange(n) + n // 2) % n
    return ops.mean(keras.losses.sparse_categorical_crossentropy(partner, logits, from_logits=True))


def _spread_out(codes):
    """VICReg's variance and covariance terms for one batch of codes (over 25)."""
    n, dim = ops.shape(codes)[0], ops.shape(codes)[1]
    centred = codes - ops.mean(codes, axis=0, keepdims=True)
    std = ops.sqrt(ops.mean(ops.square(centred), axis=0) + 1e-4)
    variance = ops.mean(ops.relu(1.0 - std))
    cov = ops.matmul(ops.transpose(centred), centred) / ops.cast(n - 1, "float32")
    off_diagonal = ops.sum(ops.square(cov)) - ops.sum(ops.square(ops.diagonal(cov)))
    return variance + off_diagonal / ops.cast(dim, "float32") / 25.0
