"""Import TensorFlow without its start-up chatter (CUDA probes, oneDNN notices) on stderr.

Those lines are written by C++ straight to file descriptor 2, which Jupyter shows as red
text in the first cell that imports Keras. Real import failures still raise.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    if "tensorflow" in sys.modules or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded consoles)
        import tensorflow  # noqa: F401

        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe logs here, once
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def hush_retracing_warnings() -> None:
    """Predicting with the encoder, decoder and autoencoder in turn makes TensorFlow warn
    about re-tracing, a performance hint that means nothing to a notebook reader."""
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].get_logger().setLevel("ERROR")


import_tensorflow_quietly()
hush_retracing_warnings()
