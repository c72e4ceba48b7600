"""Thin estimator classes: parameters, constraints and how to build the module."""

from sknn.estimators.mlp import MLPClassifier, MLPRegressor
from sknn.estimators.neuralnet import NeuralNetClassifier, NeuralNetRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]

__all__ += ["NeuralNetClassifier", "NeuralNetRegressor"]
