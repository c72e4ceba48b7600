"""sknn: scikit-learn estimators backed by PyTorch.

Examples
--------
>>> import sknn
>>> sorted(n for n in sknn.__all__ if n.startswith("MLP"))
['MLPClassifier', 'MLPRegressor']
"""

from sknn import callbacks as callbacks  # declares what a model file may name
from sknn._version import __version__
from sknn.estimators import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    RNNRegressor,
    TabularClassifier,
    TabularRegressor,
)
from sknn.estimators.neuralnet import NeuralNetClassifier, NeuralNetRegressor
from sknn.export import export_onnx
from sknn.io import load, save

__all__ = [
    "CNNClassifier",
    "CNNRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "RNNClassifier",
    "RNNRegressor",
    "TabularClassifier",
    "TabularRegressor",
    "__version__",
    "export_onnx",
    "load",
    "save",
]
