"""Thin library behind the image-labeling workbook.

Its modules, what each is for and how they stack (imports point down only), are in
``docs/layout.md``. Import what you need from the module itself
(``from helpers.labelling.labels import label_images``); importing ``helpers`` alone loads nothing
heavy.
"""

import os

# TensorFlow leaves its oneDNN kernels off on some CPUs (AMD among them); on a 2-core
# laptop CPU they train the autoencoder about twice as fast. Must be set before
# TensorFlow is imported; set TF_ENABLE_ONEDNN_OPTS=0 yourself to opt out.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
