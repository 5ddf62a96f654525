"""Refining the autoencoder with what is known about the pile's classes.

After a first labelling the workbook knows more than the images: the person's examples,
every review, and the labels it accepted at the calibrated threshold. A refinement trains
the autoencoder a little longer on the pile with the SSIM loss as before, plus a class
term: a softmax head on the 10-number code learns the known classes from random views of
their images (``helpers.core.views``), so images of one class get codes near each other and the
neighbour graph the labels follow gets cleaner. The head is thrown away afterwards; the
codes, clusters and labels are made again from the refined encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from helpers.core.views import DEFAULT_VIEWS, ViewSettings, random_views
from helpers.data.fashion_mnist import to_float_images
from helpers.model.autoencoder import set_seed
from helpers.model.training import EpochBatches, Recipe, _computing_in
from helpers.ssim import DEFAULT_MAX_VAL, SSIMLoss


@dataclass(frozen=True)
class RefineSettings:
    """How one round of refinement trains."""

    epochs: int = 4
    class_weight: float = 1.0  # the class term's weight beside the SSIM loss
    known_share: float = 0.1  # the person's labels repeated to this share of each epoch
    learning_rate: float = 3e-4  # lower than a first training's: the codes move, not restart
    batch_size: int = 64


DEFAULT_REFINE = RefineSettings()


def class_head_model(autoencoder: keras.Model, n_classes: int, seed: int = 0) -> keras.Model:
    """The autoencoder's own encoder and decoder and a softmax head on the code: images in,
    reconstructions and class logits out."""
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    views = keras.Input(shape=autoencoder.input_shape[1:], name="views")
    codes = encoder(views)
    init = keras.initializers.GlorotUniform(seed=seed)
    logits = layers.Dense(n_classes, dtype="float32", name="class_head", kernel_initializer=init)(
        codes
    )
    return keras.Model(views, [decoder(codes), logits], name="refine")


@keras.saving.register_keras_serializable(package="helpers")
class KnownClassLoss(keras.losses.Loss):
    """Cross-entropy of the head's logits against the known class, over the images of the
    batch whose class is known (``y_true`` >= 0); 0 when none is."""

    def __init__(self, name: str = "known_class_loss", **kwargs):
        kwargs.setdefault("reduction", "sum")  # one number per batch already
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        classes = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        known = ops.cast(classes >= 0, "float32")
        ce = keras.losses.sparse_categorical_crossentropy(
            ops.maximum(classes, 0), ops.cast(y_pred, "float32"), from_logits=True
        )
        return ops.sum(ce * known) / ops.maximum(ops.sum(known), 1.0)


class RefineBatches(EpochBatches):
    """Random views of the images, with the images themselves and their classes (-1:
    unknown) as targets, in an order drawn from ``(seed, epoch)`` (``EpochBatches``')."""

    def __init__(
        self,
        images: np.ndarray,
        classes: np.ndarray,
        batch_size: int,
        seed: int,
        views: ViewSettings = DEFAULT_VIEWS,
    ):
        super().__init__(images, batch_size, seed)
        self.classes, self.refine_views = np.asarray(classes, np.int64), views

    def __getitem__(self, index: int):
        chunk = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = to_float_images(self.images[chunk])
        rng = np.random.default_rng([self.seed, self.epoch, index, 2])
        view = random_views(batch, rng, self.refine_views)
        return view, (batch, self.classes[chunk].astype(np.int32)[:, None])


def training_set(
    pile: np.ndarray,
    pile_classes: np.ndarray,
    extra_images: np.ndarray | None = None,
    extra_classes: np.ndarray | None = None,
    known: np.ndarray | None = None,
    known_share: float = DEFAULT_REFINE.known_share,
) -> tuple[np.ndarray, np.ndarray]:
    """The images a refinement trains on and their classes (-1: unknown).

    ``pile_classes`` (n,) is the class of each pile image the term learns (accepted labels,
    reviews, examples that are pile images), -1 elsewhere; ``extra_images`` are labelled
    images outside the pile (examples the person gave from elsewhere); ``known`` (n,) bool
    marks the pile images a person labelled. What a person labelled is repeated until it is
    about ``known_share`` of an epoch, so a hundred examples are not lost among ten
    thousand accepted labels.
    """
    pile_classes = np.asarray(pile_classes, np.int64)
    known = np.zeros(len(pile), bool) if known is None else np.asarray(known, bool)
    person = [pile[known]]
    person_classes = [pile_classes[known]]
    if extra_images is not None and len(extra_images):
        person.append(np.asarray(extra_images, pile.dtype))
        person_classes.append(np.asarray(extra_classes, np.int64))
    person_images = np.concatenate(person)
    person_labels = np.concatenate(person_classes)
    repeats = 0
    if len(person_images):
        repeats = max(1, int(round(known_share * len(pile) / len(person_images))))
    images = np.concatenate([pile, *[person_images] * repeats])
    classes = np.concatenate([np.where(known, -1, pile_classes), *[person_labels] * repeats])
    return images, classes


def refine(
    autoencoder: keras.Model,
    images: np.ndarray,
    classes: np.ndarray,
    n_classes: int,
    settings: RefineSettings = DEFAULT_REFINE,
    seed: int = 0,
    max_val: float = DEFAULT_MAX_VAL,
    precision: str = "float32",
    verbose: int | str = "auto",
) -> dict[str, list[float]]:
    """Train ``autoencoder`` (in place) on ``images`` (N, H, W, C) with the SSIM loss and the
    class term on the images whose ``classes`` is >= 0; returns the per-epoch history."""
    classes = np.asarray(classes, np.int64)
    if not (classes >= 0).any():
        raise ValueError("a refinement needs images of known class; none given")
    if classes.max() >= n_classes:
        raise ValueError(f"class {classes.max()} given, but there are {n_classes} classes")
    set_seed(seed)
    model = class_head_model(autoencoder, n_classes, seed)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=[SSIMLoss(max_val=max_val), KnownClassLoss()],
        loss_weights=[1.0, float(settings.class_weight)],
    )
    batches = RefineBatches(images, classes, settings.batch_size, seed)
    with _computing_in(model, Recipe(precision=precision).resolved_precision()):
        fit = model.fit(batches, epochs=settings.epochs, shuffle=False, verbose=verbose)
    return {key: [float(v) for v in values] for key, values in fit.history.items()}
