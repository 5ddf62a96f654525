"""Run the five notebooks in order without a browser (``python -m helpers run``).

A kernel that dies (killed for memory, a crash) ends the run within seconds with the
notebook's name, the cell and the signal; the executed copy up to there is kept.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import run_sync

from helpers.core import config
from helpers.core.run_dir import LABELS, RunDir
from helpers.data.inputs import ENVIRONMENT

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

    The profile, run directory, ``engine`` (``helpers.core.engine``), ``ray_address`` and
    ``inputs`` (``data``, ``examples``, ``truth``, ``image_size``, ``color``, ``fit``; see
    ``helpers.data.inputs``) reach the notebooks through the environment, which their parameter
    cells read. Returns the path of ``labels.csv``.
    """
    profile = config.get_profile(profile).name
    run = RunDir(run_dir)
    out_dir = run.path / "notebooks"
    os.environ["WORKBOOK_PROFILE"] = profile
    os.environ["WORKBOOK_RUN_DIR"] = str(run.path)
    os.environ[config.HEADLESS] = "1"  # Keras: one line per epoch in the executed copies
    if engine is not None:
        os.environ["WORKBOOK_ENGINE"] = engine  # checked where it is used (notebook 03)
    if ray_address is not None:
        os.environ["RAY_ADDRESS"] = ray_address
    for name, value in inputs.items():
        if value is not None:
            os.environ[ENVIRONMENT[name]] = str(value)
    start = time.time()
    for name in NOTEBOOKS:
        t0 = time.time()
        execute_notebook(notebooks_dir() / f"{name}.ipynb", run, timeout)
        if not quiet:
            print(f"{name}: {time.time() - t0:.0f} s")
    labels = run / LABELS
    if not quiet:
        print(f"done in {time.time() - start:.0f} s ({profile} profile)")
        print(f"executed notebooks and HTML: {out_dir}")
        print(f"labels: {labels}")
    return labels


class NotebookFailed(RuntimeError):
    """A notebook of the run stopped: which, in which cell, and why, in words."""


def execute_notebook(path: Path, run: RunDir, timeout: int = 3600) -> None:
    """Execute one notebook (in the notebooks' folder) into ``<run dir>/notebooks/`` as
    ``.ipynb`` and ``.html``, also when it fails; a failure raises ``NotebookFailed``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert import HTMLExporter

    name = path.stem
    nb = nbformat.read(path, as_version=4)
    at = {"cell": None}

    def starting(cell, cell_index):
        at["cell"] = cell_index

    with tempfile.TemporaryDirectory(prefix="workbook-kernel-") as sockets:
        kernel = _local_kernel(sockets)
        client = NotebookClient(
            nb,
            km=kernel,
            timeout=timeout,
            on_cell_start=starting,
            resources={"metadata": {"path": str(notebooks_dir())}},
        )
        try:
            client.execute()
        except DeadKernelError as err:
            why = _why_the_kernel_died(kernel)
            raise NotebookFailed(
                f"{name}: the kernel died in cell {at['cell']} ({why}); "
                f"executed copy up to there: {run.path / 'notebooks' / name}.ipynb"
            ) from err
        except CellTimeoutError as err:
            raise NotebookFailed(
                f"{name}: cell {at['cell']} did not answer within {timeout} s"
            ) from err
        except CellExecutionError as err:
            raise NotebookFailed(f"{name}: cell {at['cell']} failed:\n{err}") from err
        finally:
            if kernel.has_kernel:  # a kernel passed in is not shut down by the client
                run_sync(kernel.shutdown_kernel)(now=True)
            run.save_text(f"notebooks/{name}.ipynb", nbformat.writes(nb))
            html, _ = HTMLExporter().from_notebook_node(nb)
            run.save_text(f"notebooks/{name}.html", html)


def _why_the_kernel_died(kernel) -> str:
    """The kernel process's end in words: its signal or exit code, when known."""
    process = getattr(kernel.provisioner, "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "it stopped answering"
    if code < 0:
        sig = signal.Signals(-code).name
        return f"killed by {sig}" + (", likely out of memory" if -code == signal.SIGKILL else "")
    return f"it exited with code {code}"


class WatchedKernelClient(AsyncKernelClient):
    """A kernel client that is alive only while the kernel's process is: its heartbeat alone
    can go on answering over local sockets after the process is gone."""

    async def is_alive(self) -> bool:
        manager = self.parent
        if manager is not None and hasattr(manager, "is_alive"):
            if not await manager.is_alive():
                return False
        return await super().is_alive()


def _local_kernel(socket_dir: str):
    """A kernel that talks over local (IPC) sockets instead of TCP: nothing leaves the
    machine, and the kernel has no reason to warn about unencrypted traffic. The socket
    path is absolute, since the kernel runs in the notebooks' folder. Asynchronous, so
    that the client's watch on the kernel runs while it waits for output."""
    from jupyter_client.manager import AsyncKernelManager

    return AsyncKernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=os.path.join(socket_dir, "kernel"),
        client_factory=WatchedKernelClient,
    )
