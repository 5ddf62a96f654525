"""Run the five notebooks in order without a browser (``python -m helpers run``)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from helpers import config
from helpers.artifacts import RunDir
from helpers.inputs import ENVIRONMENT

NOTEBOOKS = (
    "01_load_data",
    "02_train_autoencoder",
    "03_visualize_latents",
    "04_cluster",
    "05_label_with_ssim",
)


def notebooks_dir() -> Path:
    return config.project_root() / "notebooks"


def run_workbook(
    profile: str | None = None,
    run_dir: str | None = None,
    timeout: int = 3600,
    quiet: bool = False,
    engine: str | None = None,
    ray_address: str | None = None,
    **inputs,
) -> Path:
    """Execute every notebook into ``<run dir>/notebooks`` (``.ipynb`` and ``.html``).

    The profile, run directory, ``engine`` (``helpers.engine``), ``ray_address`` and
    ``inputs`` (``data``, ``examples``, ``truth``, ``image_size``, ``color``, ``fit``; see
    ``helpers.inputs``) reach the notebooks through the environment, which their parameter
    cells read. Returns the path of ``labels.csv``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    profile = config.get_profile(profile).name
    run = RunDir(run_dir)
    out_dir = run.path / "notebooks"
    os.environ["WORKBOOK_PROFILE"] = profile
    os.environ["WORKBOOK_RUN_DIR"] = str(run.path)
    if engine is not None:
        os.environ["WORKBOOK_ENGINE"] = engine  # checked where it is used (notebook 03)
    if ray_address is not None:
        os.environ["RAY_ADDRESS"] = ray_address
    for name, value in inputs.items():
        if value is not None:
            os.environ[ENVIRONMENT[name]] = str(value)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="workbook-kernel-") as sockets:
        for name in NOTEBOOKS:
            t0 = time.time()
            nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
            kernel = _local_kernel(sockets)
            client = NotebookClient(
                nb,
                km=kernel,
                timeout=timeout,
                resources={"metadata": {"path": str(notebooks_dir())}},
            )
            try:
                client.execute()
            finally:
                if kernel.has_kernel:  # a kernel passed in is not shut down by the client
                    kernel.shutdown_kernel()
                run.save_text(f"notebooks/{name}.ipynb", nbformat.writes(nb))
                html, _ = HTMLExporter().from_notebook_node(nb)
                run.save_text(f"notebooks/{name}.html", html)
            if not quiet:
                print(f"{name}: {time.time() - t0:.0f} s")
    labels = run.path / "labels.csv"
    if not quiet:
        print(f"done in {time.time() - start:.0f} s ({profile} profile)")
        print(f"executed notebooks and HTML: {out_dir}")
        print(f"labels: {labels}")
    return labels


def _local_kernel(socket_dir: str):
    """A kernel that talks over local (IPC) sockets instead of TCP: nothing leaves the
    machine, and the kernel has no reason to warn about unencrypted traffic. The socket
    path is absolute, since the kernel runs in the notebooks' folder."""
    from jupyter_client.manager import KernelManager

    return KernelManager(
        kernel_name="python3", transport="ipc", ip=os.path.join(socket_dir, "kernel")
    )
