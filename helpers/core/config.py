"""Settings read from the environment: profile, data folder, run directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("smoke", "full")


@dataclass(frozen=True)
class Profile:
    """How much work one run of the workbook does."""

    name: str
    n_train: int | None  # training images used (None: all)
    n_test: int | None  # images to label (None: all)
    epochs: int
    batch_size: int = 64


PROFILE_SETTINGS = {
    "smoke": Profile("smoke", n_train=2000, n_test=1000, epochs=1),
    "full": Profile("full", n_train=None, n_test=None, epochs=20),
}


def profile_name() -> str:
    """The profile named by ``$WORKBOOK_PROFILE`` (default ``full``)."""
    name = os.environ.get("WORKBOOK_PROFILE", "full").strip().lower() or "full"
    if name not in PROFILES:
        raise ValueError(
            f"WORKBOOK_PROFILE={name!r} is not a known profile; use one of {', '.join(PROFILES)}"
        )
    return name


def get_profile(name: str | None = None) -> Profile:
    """Settings of the named profile, or of ``$WORKBOOK_PROFILE`` when ``name`` is None."""
    name = profile_name() if name is None else name
    if name not in PROFILE_SETTINGS:
        raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILES)}")
    return PROFILE_SETTINGS[name]


def project_root() -> Path:
    """The folder holding ``helpers/`` (the repository root in a source checkout)."""
    return Path(__file__).resolve().parents[2]


def run_dir(name: str | os.PathLike | None = None) -> Path:
    """The run directory: ``name`` if given, else ``$WORKBOOK_RUN_DIR``, else ``runs/default``.

    A relative path is taken from the project root, so every notebook finds the same
    folder whatever its working directory.
    """
    raw = name if name is not None else os.environ.get("WORKBOOK_RUN_DIR", "runs/default")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = project_root() / path
    return path


def fashion_mnist_dir() -> Path | None:
    """The folder named by ``$FASHION_MNIST_DIR``, if set."""
    raw = os.environ.get("FASHION_MNIST_DIR")
    return Path(raw).expanduser() if raw else None
