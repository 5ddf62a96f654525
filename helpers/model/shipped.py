"""Train the Fashion-MNIST weights that ship with the package, and record how."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from helpers.core import config
from helpers.core.files import write_text
from helpers.data.fashion_mnist import load_fashion_mnist, to_float_images
from helpers.model.autoencoder import build_autoencoder, reconstruct, save_weights
from helpers.model.training import TUTORIAL_RECIPE, Recipe, train
from helpers.ssim import ssim


def test_set_ssim(autoencoder, x_test: np.ndarray, max_val: float = 1.0) -> float:
    """Mean SSIM between test images and their reconstructions."""
    recon = reconstruct(autoencoder, x_test)
    return float(np.mean(np.asarray(ssim(x_test, recon, max_val))))


def train_fashion_mnist(
    recipe: Recipe = TUTORIAL_RECIPE,
    max_val: float = 1.0,
    seed: int = 0,
    augment: bool = False,
    checkpoint: str | os.PathLike = "runs/train/checkpoint.keras",
    out: str | os.PathLike = "helpers/model/weights/fashion_mnist.weights.h5",
) -> dict:
    """Train on all 60,000 training images (resumable), save weights and a JSON beside them."""
    root = config.project_root()
    checkpoint, out = root / checkpoint, root / out
    (x_train, _), (x_test, _) = load_fashion_mnist()
    x_test = to_float_images(x_test)
    autoencoder, _, _ = build_autoencoder()
    start = time.time()
    history = train(
        autoencoder,
        x_train[..., None],
        recipe,
        max_val=max_val,
        seed=seed,
        checkpoint=checkpoint,
        verbose=2,
        augment=augment,
    )
    seconds = time.time() - start
    save_weights(autoencoder, out)
    info = {
        "weights": out.name,
        "data": "Fashion-MNIST, all 60,000 training images, scaled to [0, 1]",
        "architecture": "tutorial autoencoder, 215,499 parameters, latent 10",
        "recipe": {
            "optimizer": "Adam",
            **asdict(recipe),
            "precision_used": recipe.resolved_precision(),
            "augment": "shift up to 2 px, mirror half" if augment else "none",
            "epochs_done": len(history.get("loss", [])),
            "loss": f"1 - mean SSIM, max_val={max_val}",
        },
        "seed": seed,
        "final_train_loss": history["loss"][-1] if history.get("loss") else None,
        "test_ssim": test_set_ssim(autoencoder, x_test, 1.0),
        "test_ssim_note": "mean tf.image.ssim-style SSIM (max_val 1.0) of the 10,000 test "
        "images against their reconstructions",
        "command": f"python -m helpers train --epochs {recipe.epochs} "
        f"--batch-size {recipe.batch_size} --schedule {recipe.schedule} "
        f"--precision {recipe.precision} --max-val {max_val} --seed {seed}"
        + (" --augment" if augment else "")
        + (
            f" --invariance {recipe.invariance} --invariance-kind {recipe.invariance_kind}"
            + (" --mirror" if recipe.mirror else "")
            if recipe.invariance
            else ""
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "train_seconds_last_session": round(seconds, 1),
        "keras_backend": __import__("keras").backend.backend(),
    }
    write_text(
        Path(str(out).removesuffix(".weights.h5") + ".json"), json.dumps(info, indent=2) + "\n"
    )
    print(json.dumps(info, indent=2))
    return info
