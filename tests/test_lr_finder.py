"""The learning-rate range test on real data: a sane suggestion that trains well, and
the estimator passed in left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sknn import MLPClassifier, MLPRegressor
from sknn.lr_finder import LRFinderDisplay, find_lr


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, random_state=0)


@pytest.mark.parametrize("solver, default_lr", [("adam", 1e-3), ("sgd", 1e-2)])
def test_suggestion_trains_on_digits(digits, solver, default_lr):
    Xtr, Xte, ytr, yte = digits
    clf = MLPClassifier((64,), batch_size=32, solver=solver, random_state=0)
    finder = find_lr(clf, Xtr, ytr)
    assert len(finder.lrs_) == len(finder.losses_) <= 100
    assert np.all(np.diff(finder.lrs_) > 0)  # exponentially growing
    np.testing.assert_allclose(np.diff(np.log(finder.lrs_)), np.log(1e8) / 99)
    assert 1e-4 < finder.suggestion_ < 1.0
    # At the suggestion the loss is falling, below its starting level.
    i = int(np.searchsorted(finder.lrs_, finder.suggestion_))
    assert finder.smoothed_losses_[i] < finder.smoothed_losses_[0]
    params = dict(hidden_layer_sizes=(64,), batch_size=32, solver=solver, max_iter=15)
    tuned = clone(clf).set_params(learning_rate_init=finder.suggestion_, **params)
    default = clone(clf).set_params(learning_rate_init=default_lr, **params)
    acc = tuned.fit(Xtr, ytr).score(Xte, yte)
    assert acc > 0.9
    assert acc >= default.fit(Xtr, ytr).score(Xte, yte) - 0.02


def test_estimator_unchanged(digits):
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier((16,), batch_size=32, max_iter=2, random_state=0)
    params = clf.get_params()
    find_lr(clf, Xtr, ytr, num_steps=20)
    assert clf.get_params() == params
    assert not hasattr(clf, "module_")
    clf.fit(Xtr, ytr)
    weights = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    find_lr(clf, Xtr, ytr, num_steps=20)
    assert all(torch.equal(v, weights[k]) for k, v in clf.module_.state_dict().items())
    assert clf.n_iter_ == 2


def test_large_data_uses_a_subset_and_stops_at_divergence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 3))
    y = X @ [1.0, -2.0, 0.5]
    reg = MLPRegressor((8,), batch_size=10, solver="sgd", random_state=0)
    finder = find_lr(reg, X, y, num_steps=40, max_lr=1e3)
    # 40 batches of 10 rows, not 500 batches: the test ends when the loss blows up.
    assert len(finder.lrs_) < 40
    assert finder.lrs_[-1] < 1e3
    assert finder.suggestion_ < finder.lrs_[-1]


def test_plot():
    mpl = pytest.importorskip("matplotlib", reason="plotting needs matplotlib")
    mpl.use("Agg")
    lrs = np.logspace(-5, 0, 30)
    losses = 2 - np.tanh(np.log10(lrs) + 3)
    disp = LRFinderDisplay(lrs, losses, suggestion=1e-3, estimator_name="X").plot()
    assert disp.ax_.get_xscale() == "log"
    np.testing.assert_allclose(disp.line_.get_xdata(), lrs)
    assert "suggestion 0.001" in [t.get_text() for t in disp.ax_.get_legend().texts]


def test_errors(digits):
    Xtr, _, ytr, _ = digits
    with pytest.raises(ValueError, match="stochastic solver"):
        find_lr(MLPClassifier(solver="lbfgs"), Xtr, ytr)
    with pytest.raises(TypeError, match="sknn estimators"):
        from sklearn.linear_model import LogisticRegression

        find_lr(LogisticRegression(), Xtr, ytr)
    bad = [
        dict(min_lr=0),
        dict(max_lr=1e-8),
        dict(num_steps=1),
        dict(num_steps=2.5),
        dict(smoothing=1.0),
        dict(diverge_factor=1),
    ]
    for kwargs in bad:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            find_lr(MLPClassifier(), Xtr, ytr, **kwargs)
