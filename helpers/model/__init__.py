"""The autoencoder: its architecture, encoding and decoding, its training and recipes,
the invariance term, refining with reviews, and the shipped weights (``weights/``)."""

from helpers.model.autoencoder import build_autoencoder

__all__ = ["build_autoencoder"]
