"""Files written whole or not at all: every file the workbook writes goes through here.

A write goes to a temporary file beside the target, is flushed to disk, then renamed over
the target, so a crash leaves either the old file or the new one, never half of each. The
new file gets the usual permissions (``0666`` less the umask, so ``0644`` under the common
umask 022): a colleague, a web server or a container user can read ``labels.csv``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(target: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary path, then move it onto ``target``.

    The temporary name ends like the target (``.weights.h5``, ``.keras``, ``.csv``), for
    writers that check the extension. If ``write`` raises, the target is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes[-2:]) if target.name.endswith(".weights.h5") else target.suffix
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{suffix}")
    # os.open applies the umask, unlike tempfile.mkstemp (always 0600)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
