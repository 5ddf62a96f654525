"""The images: Fashion-MNIST, a folder of your own, the examples and truth that come with
them, and the pile the notebooks work on (``pile.load_pile``)."""

from helpers.data.fashion_mnist import load_fashion_mnist

__all__ = ["load_fashion_mnist"]
