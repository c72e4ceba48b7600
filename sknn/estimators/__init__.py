"""Thin estimator classes: parameters, constraints and how to build the module."""

from sknn.estimators.cnn import CNNClassifier, CNNRegressor
from sknn.estimators.mlp import MLPClassifier, MLPRegressor
from sknn.estimators.neuralnet import NeuralNetClassifier, NeuralNetRegressor
from sknn.estimators.rnn import RNNClassifier, RNNRegressor
from sknn.estimators.tabular import TabularClassifier, TabularRegressor

__all__ = [
    "CNNClassifier",
    "CNNRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "RNNClassifier",
    "RNNRegressor",
    "TabularClassifier",
    "TabularRegressor",
]

__all__ += ["NeuralNetClassifier", "NeuralNetRegressor"]
