"""Training the autoencoder: a ``Recipe`` (how), ``train`` (resumable, seeded epochs),
the recipes the workbook and the tutorial use, and mixed precision where the CPU has it."""

from __future__ import annotations

from helpers.core import _quiet  # noqa: F401  (first: silences TensorFlow's start-up logs)

# isort: split

import contextlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from helpers.core import config
from helpers.core.files import atomic_write, write_text
from helpers.core.views import DEFAULT_VIEWS, ViewSettings, random_views, shift_and_mirror
from helpers.data.fashion_mnist import to_float_images
from helpers.model.autoencoder import set_seed
from helpers.model.invariance import InvarianceLoss, two_view_model
from helpers.ssim import DEFAULT_MAX_VAL, SSIMLoss

PRECISIONS = ("float32", "mixed_bfloat16", "auto")
SCHEDULES = ("constant", "cosine")
VIEW_TARGETS = ("image", "view")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX): there mixed
    precision is faster; elsewhere oneDNN emulates it and it is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


@dataclass(frozen=True)
class Recipe:
    """How the autoencoder is trained. ``precision="auto"``: mixed bfloat16 where the CPU
    has it (``cpu_has_bf16``), else float32."""

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "constant"  # or "cosine": down to 0 along a cosine by the last epoch
    precision: str = "float32"
    invariance: float = 0.0  # weight of the two-view code agreement (``train``); 0: none
    invariance_kind: str = "ntxent"  # or "vicreg" (``InvarianceLoss``)
    view_target: str = "image"  # what each view's code is decoded to: the image, or "view"
    mirror: bool = False  # views may be mirrored: only where that keeps the class
    projection: int = 0  # units of the projection head the invariance loss sees; 0: none

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be 'constant' or 'cosine', not {self.schedule!r}")
        if self.view_target not in VIEW_TARGETS:
            raise ValueError(f"view_target must be 'view' or 'image', not {self.view_target!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")

    def resolved_precision(self) -> str:
        if self.precision != "auto":
            return self.precision
        return "mixed_bfloat16" if cpu_has_bf16() else "float32"


TUTORIAL_RECIPE = Recipe()  # Adam 1e-3, batch 64, 20 epochs, float32
# The workbook's: the tutorial's test SSIM in a quarter of its time (benchmarks/speed.py).
FAST_RECIPE = Recipe(epochs=8, schedule="cosine", precision="auto")


@contextlib.contextmanager
def _computing_in(model: keras.Model, precision: str):
    """Every layer but the output computes in ``precision`` inside the block; float32 after
    (and the traced functions are dropped, so nothing keeps computing in bfloat16)."""
    if precision == "float32":
        yield
        return
    layers = [layer for layer in _leaf_layers(model) if layer.name != "reconstruction"]
    try:
        for layer in layers:
            layer.dtype_policy = keras.DTypePolicy(precision)
        yield
    finally:
        for layer in layers:
            layer.dtype_policy = keras.DTypePolicy("float32")
        model.train_function = model.predict_function = model.test_function = None


def _leaf_layers(model: keras.Model) -> list:
    out = []
    for layer in model.layers:
        out.extend(_leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


class EpochBatches(keras.utils.PyDataset):
    """Batches of images (input = target) in an order drawn from ``(seed, epoch)``.

    Keras's own shuffling draws from a global generator whose state a resumed run does not
    have; drawing each epoch's order from its number makes epoch 3 the same whether or not
    the run stopped after epoch 2. ``augment`` shifts and mirrors each batch, also seeded;
    ``views`` gives two random views of each image instead (first views, then second), to
    be reconstructed as they are or, ``view_target="image"``, as the image.
    """

    def __init__(
        self,
        images: np.ndarray,
        batch_size: int,
        seed: int,
        first_epoch: int = 0,
        augment: bool = False,
        views: ViewSettings | None = None,
        view_target: str = "view",
    ):
        super().__init__()
        self.images, self.batch_size, self.seed, self.augment = images, batch_size, seed, augment
        self.views, self.view_target = views, view_target
        self.epoch = first_epoch
        self._order()

    def _order(self):
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index: int):
        chunk = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[chunk]
        if self.augment:
            batch = shift_and_mirror(batch, np.random.default_rng([self.seed, self.epoch, index]))
        batch = to_float_images(batch)  # a pile is kept as uint8, one batch at a time float
        if self.views is None:
            return batch, batch
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        both = np.concatenate([random_views(batch, rng, self.views) for _ in range(2)])
        target = both if self.view_target == "view" else np.concatenate([batch, batch])
        return both, (target, np.zeros((len(both), 1), np.float32))

    def on_epoch_end(self):
        self.epoch += 1
        self._order()


class _EpochCheckpoint(keras.callbacks.Callback):
    """Saves model + optimizer (``.keras``) and the history after each epoch, atomically."""

    def __init__(self, path: Path):
        super().__init__()
        if path.suffix != ".keras":
            raise ValueError(f"{path}: checkpoints are .keras files")
        self.path = path
        self.state_path = path.with_suffix(".json")
        self.history: dict[str, list[float]] = {}

    def restore(self, autoencoder: keras.Model) -> tuple[dict[str, list[float]], int]:
        if not (self.path.is_file() and self.state_path.is_file()):
            return {}, 0
        saved = keras.models.load_model(self.path, compile=True)
        autoencoder.set_weights(saved.get_weights())
        autoencoder.optimizer.build(autoencoder.trainable_variables)
        for mine, theirs in zip(
            autoencoder.optimizer.variables, saved.optimizer.variables, strict=True
        ):
            mine.assign(theirs)
        state = json.loads(self.state_path.read_text())
        self.history = {k: list(v) for k, v in state["history"].items()}
        return {k: list(v) for k, v in self.history.items()}, int(state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        atomic_write(self.path, self.model.save)
        write_text(self.state_path, json.dumps({"epoch": epoch + 1, "history": self.history}))


def compile_autoencoder(
    autoencoder: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    max_val: float = DEFAULT_MAX_VAL,
) -> keras.Model:
    """Adam and the SSIM loss."""
    autoencoder.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss=SSIMLoss(max_val=max_val)
    )
    return autoencoder


def train(
    autoencoder: keras.Model,
    x_train: np.ndarray,
    recipe: Recipe = TUTORIAL_RECIPE,
    *,
    max_val: float = DEFAULT_MAX_VAL,
    n_images: int | None = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    augment: bool = False,
    verbose: int | str = "auto",
    callbacks: list | None = None,
) -> dict[str, list[float]]:
    """Fit the autoencoder to reproduce its input under the SSIM loss, as ``recipe`` says.

    ``x_train`` is (N, H, W, C), uint8 or float32 in [0, 1]; ``n_images`` trains on a seeded subset.
    Shows Keras's progress bar (``verbose``; "auto": a live bar, or one line per epoch in
    a headless run, whose executed notebooks keep every line); returns the per-epoch
    history (a dict).
    With ``checkpoint`` (a ``.keras`` path) the model, optimizer and history are saved
    atomically after every epoch, and a later call with the same path resumes from there.
    ``augment=True`` shows each image shifted by up to 2 pixels and mirrored half of the
    time. The recipe's ``schedule="cosine"`` lowers the learning rate along a cosine to 0 by
    the last epoch (the tutorial's is ``"constant"``). Its ``precision="mixed_bfloat16"``
    computes in bfloat16 (weights stay float32; the output layer and the loss stay float32),
    which oneDNN runs about twice as fast on CPUs with AVX-512 BF16; the model is float32
    again afterwards, so codes and reconstructions do not depend on how it was trained.

    The recipe's ``invariance > 0`` trains on two random views of each image
    (``helpers.core.views``, ``DEFAULT_VIEWS``; ``mirror`` adds left-right flips): each
    view's code is decoded under the SSIM loss, back to the image itself
    (``view_target="image"``) or to the view (``"view"``), and ``invariance`` times
    ``InvarianceLoss`` (``invariance_kind``) pulls the two codes together (through a
    projection head of ``projection`` units, if > 0). 0 is the tutorial's training.

    Reproducible: each epoch's order (and augmentation) is drawn from ``(seed, epoch)``, so
    two runs with one seed, or a run interrupted and resumed, end with the same weights
    (given a model built with the same seed).
    """
    if n_images is not None and n_images < len(x_train):
        idx = np.random.default_rng(seed).choice(len(x_train), n_images, replace=False)
        x_train = x_train[np.sort(idx)]
    precision = recipe.resolved_precision()
    set_seed(seed)
    learning_rate = recipe.learning_rate
    if recipe.schedule == "cosine":
        steps = recipe.epochs * -(-len(x_train) // recipe.batch_size)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model = autoencoder
    if recipe.invariance > 0:
        model = two_view_model(autoencoder, recipe.projection, seed)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=[SSIMLoss(max_val=max_val), InvarianceLoss(recipe.invariance_kind)],
            loss_weights=[1.0, float(recipe.invariance)],
        )
    else:
        compile_autoencoder(autoencoder, learning_rate=learning_rate, max_val=max_val)
    history: dict[str, list[float]] = {}
    initial_epoch = 0
    callbacks = list(callbacks or [])
    if checkpoint is not None:
        saver = _EpochCheckpoint(Path(checkpoint))
        history, initial_epoch = saver.restore(model)
        callbacks.append(saver)
    if initial_epoch >= recipe.epochs:
        return history
    batches = EpochBatches(
        x_train,
        recipe.batch_size,
        seed,
        first_epoch=initial_epoch,
        augment=augment,
        views=replace(DEFAULT_VIEWS, mirror=recipe.mirror) if recipe.invariance > 0 else None,
        view_target=recipe.view_target,
    )
    with _computing_in(model, precision):
        fit = model.fit(
            batches,
            epochs=recipe.epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # the order is EpochBatches', seeded per epoch
            verbose=config.keras_verbosity(verbose),
            callbacks=callbacks,
        )
    for key, values in fit.history.items():
        history.setdefault(key, []).extend(float(v) for v in values)
    return history
