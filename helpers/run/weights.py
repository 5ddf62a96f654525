"""The run's autoencoder: its weights reused while made from these images and settings,
the shipped weights (Fashion-MNIST, ``full`` profile), or trained here, resumably."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from helpers.core import config
from helpers.core.run_dir import WEIGHTS, WEIGHTS_INFO, RunDir, fingerprint
from helpers.data.pile import Pile
from helpers.data.pile_settings import default_epochs
from helpers.model.autoencoder import (
    build_autoencoder,
    load_weights,
    save_weights,
    shipped_weights_path,
)
from helpers.model.training import FAST_RECIPE, Recipe, train
from helpers.ssim import DEFAULT_MAX_VAL

TRAINING_SAMPLE = 100_000  # a larger pile trains on a seeded sample of this many images


class Autoencoder(NamedTuple):
    """The run's autoencoder, its encoder and decoder, and how they were made."""

    autoencoder: object
    encoder: object
    decoder: object
    made: dict  # source (in words), history, profile, made_from


def get_autoencoder(
    run: RunDir,
    profile: config.Profile,
    pile: Pile,
    train_new: bool | None = None,
    seed: int = 0,
    max_val: float = DEFAULT_MAX_VAL,
    epochs: int | None = None,
    verbose="auto",
) -> Autoencoder:
    """The autoencoder, its encoder and decoder for this run, and where they came from.

    ``train_new=None`` (auto): reuse the run's weights if they were made from these images
    and settings; else, for Fashion-MNIST in the ``full`` profile, the shipped weights;
    else train (what notebooks after 02 do when run alone; ``verbose=0`` hides the progress
    bar). ``True`` always trains (resuming an interrupted run from its checkpoint);
    ``False`` never does. ``epochs`` None: the profile's for Fashion-MNIST, one in
    ``smoke``, else ``default_epochs`` for the pile's size.
    """
    recipe, n_train = training_recipe(profile, pile, epochs)
    made_from = fingerprint(pile.made_from, pile.image_shape, recipe, seed, max_val, n_train)
    made = run.load_json(WEIGHTS_INFO) if run.has(WEIGHTS_INFO) else {}
    if train_new is not True and run.has(WEIGHTS) and made.get("made_from") == made_from:
        models = load_weights(run / WEIGHTS, pile.image_shape)
        return Autoencoder(
            *models, {**made, "source": f"reused {run / WEIGHTS} ({made['source']})"}
        )
    shipped = shipped_weights_path()
    fashion_full = pile.inputs.data is None and profile.name == "full"
    if train_new is not True and fashion_full and shipped.is_file():
        models = load_weights(shipped)
        save_weights(models[0], run / WEIGHTS)
        made = {"source": f"shipped weights {shipped.name}", "history": {}}
    elif train_new is False:
        raise FileNotFoundError(f"{run / WEIGHTS}: no weights for these images and training is off")
    else:
        models, made = _train_here(run, pile, recipe, n_train, made_from, seed, max_val, verbose)
    made = {**made, "profile": profile.name, "made_from": made_from}
    run.save_json(WEIGHTS_INFO, made)
    run.invalidate_after(WEIGHTS)
    return Autoencoder(*models, made)


def training_recipe(
    profile: config.Profile, pile: Pile, epochs: int | None = None
) -> tuple[Recipe, int]:
    """How this pile is trained (the workbook's ``FAST_RECIPE`` at the profile's batch size,
    for ``epochs``: see ``get_autoencoder``), and on how many of its images."""
    n_train = min(len(pile.x_train), TRAINING_SAMPLE)
    if epochs is None:
        fashion_or_smoke = pile.inputs.data is None or profile.name == "smoke"
        epochs = profile.epochs if fashion_or_smoke else default_epochs(n_train, pile.image_shape)
    recipe = replace(
        FAST_RECIPE,
        epochs=epochs,
        batch_size=profile.batch_size,
        precision=FAST_RECIPE.resolved_precision(),
    )
    return recipe, n_train


def _train_here(
    run: RunDir, pile: Pile, recipe: Recipe, n_train: int, made_from: str, seed, max_val, verbose
) -> tuple[tuple, dict]:
    """A new autoencoder trained on the pile (resuming from the run's checkpoint, which is
    removed once the weights are saved), and how it was made."""
    ae, enc, dec = build_autoencoder(pile.image_shape, seed=seed)
    checkpoint = run / f"checkpoint-{made_from}.keras"
    history = train(
        ae,
        pile.x_train,
        recipe,
        n_images=n_train,
        seed=seed,
        max_val=max_val,
        verbose=verbose,
        checkpoint=checkpoint,
    )
    save_weights(ae, run / WEIGHTS)
    for path in (checkpoint, checkpoint.with_suffix(".json")):
        path.unlink(missing_ok=True)
    sample = f" (a seeded sample of {len(pile.x_train)})" if n_train < len(pile.x_train) else ""
    source = (
        f"trained {recipe.epochs} epoch(s) ({recipe.schedule} rate, {recipe.precision}) "
        f"on {n_train} images{sample}"
    )
    return (ae, enc, dec), {"history": history, "source": source}
