"""Bad parameters, modules and inputs get scikit-learn-style errors, never torch's."""

import numpy as np
import pytest
import torch

from sknn import (
    CNNClassifier,
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
    RNNClassifier,
)

rng = np.random.RandomState(0)
X = rng.randn(20, 5)
y = np.arange(20) % 2
IMAGES = rng.randn(20, 1, 4, 4)


class _Net(torch.nn.Module):
    def __init__(self, n_features_in=5, width=4, n_in=None, n_out=3):
        super().__init__()
        self.body = torch.nn.Linear(n_in or n_features_in, width)
        self.output = torch.nn.Linear(width, n_out)

    def forward(self, x):
        return self.output(self.body(x))


CASES = {
    "module output width": (
        lambda: NeuralNetRegressor(_Net, max_iter=1).fit(X, y * 1.0),
        ValueError,
        "returns 3 output\\(s\\) per sample but the targets need n_outputs=1",
    ),
    "module output width (classifier)": (
        lambda: NeuralNetClassifier(_Net, max_iter=1).fit(X, y),
        ValueError,
        "n_outputs=1",
    ),
    "module input width": (
        lambda: NeuralNetRegressor(_Net, {"n_in": 7}, max_iter=1).fit(X, y * 1.0),
        ValueError,
        "cannot read X.*n_features_in=5",
    ),
    "module_kwargs negative width": (
        lambda: NeuralNetClassifier(_Net, {"width": -3}, max_iter=1).fit(X, y),
        ValueError,
        "Could not build the module _Net.*'width': -3",
    ),
    "hidden size not an int": (
        lambda: MLPClassifier((2.5,), max_iter=1).fit(X, y),
        TypeError,
        "hidden_layer_sizes must hold integers",
    ),
    "hidden size 0": (
        lambda: MLPRegressor((4, 0), max_iter=1).fit(X, y * 1.0),
        ValueError,
        "hidden_layer_sizes must be > 0",
    ),
    "CNN kernel larger than the image": (
        lambda: CNNClassifier(channels=(4,), kernel_size=7, padding=0).fit(IMAGES, y),
        ValueError,
        "kernel_size=7 with padding=0",
    ),
    "empty CNN input": (
        lambda: CNNClassifier().fit(np.zeros((0, 1, 4, 4)), []),
        ValueError,
        "0 sample\\(s\\) \\(shape=\\(0, 1, 4, 4\\)\\)",
    ),
    "RNN with 0 features per step": (
        lambda: RNNClassifier().fit(np.zeros((20, 5, 0)), y),
        ValueError,
        "0 features per time step",
    ),
    "empty RNN input": (
        lambda: RNNClassifier().fit([], []),
        ValueError,
        "0 sample\\(s\\)",
    ),
    "batch norm with one sample": (
        lambda: MLPRegressor((4,), batch_norm=True).fit(X[:1], [1.0]),
        ValueError,
        "Batch normalisation needs at least 2 rows",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_clear_error(case):
    fit, error, match = CASES[case]
    with pytest.raises(error, match=match):
        fit()
