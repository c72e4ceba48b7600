"""The network estimators that share ``BaseNeuralNet``'s parameters and target
handlers, for the tests that check them all alike."""

from __future__ import annotations

import sknn

ESTIMATORS = [
    sknn.MLPClassifier,
    sknn.MLPRegressor,
    sknn.CNNClassifier,
    sknn.CNNRegressor,
    sknn.RNNClassifier,
    sknn.RNNRegressor,
    sknn.NeuralNetClassifier,
    sknn.NeuralNetRegressor,
]
