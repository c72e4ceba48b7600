"""Thin estimator classes: parameters, constraints and how to build the module."""

from sknn.estimators.mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
