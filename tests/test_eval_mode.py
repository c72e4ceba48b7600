"""Predictions run the network in eval mode: no dropout, batch norm's running statistics."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sknn import CNNClassifier, MLPClassifier, RNNClassifier

rng = np.random.RandomState(0)
N = 60
Y = np.arange(N) % 3

CASES = {
    "MLP": (
        lambda: MLPClassifier((16,), dropout=0.5, batch_norm=True),
        rng.randn(N, 4),
    ),
    "CNN": (
        lambda: CNNClassifier(channels=(4,), hidden_layer_sizes=(8,), dropout=0.5),
        rng.randn(N, 1, 6, 6),
    ),
    "RNN": (
        lambda: RNNClassifier(hidden_size=8, hidden_layer_sizes=(8,), dropout=0.5),
        rng.randn(N, 5, 2),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_predict_is_the_eval_mode_forward(name):
    make, X = CASES[name]
    est = make().set_params(max_iter=3, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    module = est.module_
    module.train()  # whatever mode the module is left in (a callback, a user)
    first, second = est.predict_proba(X), est.predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert module.training  # predict restores the mode it found
    dtype = next(module.parameters()).dtype
    module.eval()
    with torch.no_grad():
        logits = module(torch.as_tensor(X, dtype=dtype))
    expected = torch.softmax(logits, dim=1).numpy()
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)
    # Dropout of 0.5 is really there: a training-mode forward gives other outputs.
    module.train()
    with torch.no_grad():
        noisy = torch.softmax(module(torch.as_tensor(X, dtype=dtype)), dim=1).numpy()
    assert np.abs(noisy - expected).max() > 1e-3
