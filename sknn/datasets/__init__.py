"""Loaders of public data sets from local files (nothing is downloaded at run time)."""

from sknn.datasets._fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

__all__ = ["FASHION_MNIST_CLASSES", "load_fashion_mnist"]
