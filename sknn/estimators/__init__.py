"""Thin estimator classes: parameters, constraints and how to build the module."""

from sknn.estimators.cnn import CNNClassifier, CNNRegressor
from sknn.estimators.mlp import MLPClassifier, MLPRegressor
from sknn.estimators.neuralnet import NeuralNetClassifier, NeuralNetRegressor
from sknn.estimators.rnn import RNNClassifier, RNNRegressor

__all__ = [
    "CNNClassifier",
    "CNNRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "RNNClassifier",
    "RNNRegressor",
]

__all__ += ["NeuralNetClassifier", "NeuralNetRegressor"]
