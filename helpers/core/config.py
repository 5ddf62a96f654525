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


# Notebook 01 writes here which run directory it set up; notebooks 02-05, given no other,
# follow it, so a pile set once in notebook 01 is the pile every later notebook works on.
CURRENT_RUN = "runs/.current-run"


def run_dir(name: str | os.PathLike | None = None) -> Path:
    """The run directory: ``name`` if given, else ``$WORKBOOK_RUN_DIR``, else the run
    notebook 01 set up last (``current_run``), else ``runs/default``.

    A relative path is taken from the project root, so every notebook finds the same
    folder whatever its working directory.
    """
    return run_dir_and_why(name)[0]


def run_dir_and_why(name: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``run_dir(name)`` and where it came from: ``"parameter"``, ``"environment"``,
    ``"notebook 01"`` or ``"default"``."""
    if name is not None:
        raw, why = name, "parameter"
    elif os.environ.get("WORKBOOK_RUN_DIR"):
        raw, why = os.environ["WORKBOOK_RUN_DIR"], "environment"
    elif current_run() is not None:
        return current_run(), "notebook 01"
    else:
        raw, why = "runs/default", "default"
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else project_root() / path), why


def current_run() -> Path | None:
    """The run directory notebook 01 set up last, while it exists (else None)."""
    try:
        path = Path((project_root() / CURRENT_RUN).read_text().strip())
    except OSError:
        return None
    return path if path.is_dir() else None


def remember_run(path: Path) -> None:
    """Record ``path`` as the run the later notebooks follow (notebook 01 does)."""
    from helpers.core.files import write_text

    target = project_root() / CURRENT_RUN
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(target, str(Path(path).resolve()) + "\n")


HEADLESS = "WORKBOOK_HEADLESS"  # set by the headless run (python -m helpers run)


def keras_verbosity(verbose: int | str = "auto") -> int | str:
    """Keras's ``verbose``: "auto" is one line per epoch (2) in a headless run, whose
    executed notebooks would keep a progress bar's every update, else Keras's own."""
    return 2 if verbose == "auto" and os.environ.get(HEADLESS) else verbose


def fashion_mnist_dir() -> Path | None:
    """The folder named by ``$FASHION_MNIST_DIR``, if set."""
    raw = os.environ.get("FASHION_MNIST_DIR")
    return Path(raw).expanduser() if raw else None
