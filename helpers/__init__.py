"""Thin library behind the image-labeling workbook.

Modules by floor; imports point down only:

- bottom: ``config``, ``files``, ``graph``, ``plots``, ``folders`` (your images),
  ``data`` (Fashion-MNIST), ``ssim``, ``artifacts``, ``reviews``, ``evaluation``, ``export``,
  ``folded`` (the decoder folded for inference), ``pile_settings`` (colour, size and
  epochs chosen from the pile)
- middle: ``inputs`` (DATA, EXAMPLES, TRUTH), ``split`` (the run's images), ``model``,
  ``refine`` (fine-tuning with known classes; measured, not on by default), ``engine``,
  ``cluster``, ``poisson`` (Poisson learning from the examples), ``labels`` (scores ->
  spread -> assign), ``held_out`` and ``precision`` (for the threshold), ``calibration``,
  ``tutorial``
  (the tutorial's rule), ``scoring`` (reconstructions decoded from codes), ``sorting``
- top: ``session`` (relabel with reviews; the review queue), ``workflow`` (load-or-compute
  steps for the notebooks), ``widgets``, ``training``, ``headless``, ``queue``
  (``python -m helpers``)

Import what you need from the module itself (``from helpers.labels import label_images``);
importing ``helpers`` alone loads nothing heavy.
"""

import os

# TensorFlow leaves its oneDNN kernels off on some CPUs (AMD among them); on a 2-core
# laptop CPU they train the autoencoder about twice as fast. Must be set before
# TensorFlow is imported; set TF_ENABLE_ONEDNN_OPTS=0 yourself to opt out.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
