"""Test-session settings that the notebooks' kernels inherit (they start from this env).

Tests never touch ``runs/default``: unless WORKBOOK_RUN_DIR is set, every test session works
in a fresh temporary run directory. The data defaults to the offline copy beside the repo.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("WORKBOOK_PROFILE", "smoke")
os.environ.setdefault("WORKBOOK_RUN_DIR", tempfile.mkdtemp(prefix="workbook-tests-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_shared = Path(__file__).resolve().parent.parent / "shared" / "data" / "fashion-mnist"
if _shared.is_dir():
    os.environ.setdefault("FASHION_MNIST_DIR", str(_shared))
