"""CUDA code paths: every family trains on a GPU, and what it trains loads on a CPU.

Every test here is marked ``cuda`` and skipped (with that reason) on machines without a
CUDA GPU; ``tests/conftest.py`` applies the skip. They run wherever a GPU is present.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold

import sknn
from sknn import (
    CNNClassifier,
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    RNNClassifier,
)
from sknn.ensemble import DeepEnsembleClassifier
from sknn.model_selection import GridSearchCV, OptunaSearchCV, fit_stacked
from sknn.modules import MLP

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

GPU = dict(device="cuda", random_state=0)


def _without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _on(est, kind: str) -> bool:
    return next(est.module_.parameters()).device.type == kind


def test_auto_device_picks_cuda(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert clf.device_.startswith("cuda")
    assert _on(clf, "cuda")
    assert clf.__sklearn_tags__().non_deterministic


def test_cuda_and_cpu_fits_agree_closely(iris):
    X, y = iris
    cpu = MLPClassifier((16,), max_iter=20, device="cpu", random_state=0).fit(X, y)
    gpu = MLPClassifier((16,), max_iter=20, **GPU).fit(X, y)
    assert gpu.n_iter_ == cpu.n_iter_
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-3)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-3)


def test_regressor_with_early_stopping_on_cuda(diabetes):
    X, y = diabetes
    reg = MLPRegressor((32,), max_iter=30, early_stopping=True, **GPU).fit(X, y)
    assert reg.best_validation_score_ is not None
    assert reg.predict(X).shape == (len(X),)


def test_cnn_and_ragged_rnn_train_on_cuda(digits):
    X, y = digits
    images = X.reshape(-1, 8, 8)[:400]
    cnn = CNNClassifier(channels=(8,), max_iter=3, **GPU).fit(images, y[:400])
    assert _on(cnn, "cuda") and cnn.score(images, y[:400]) > 0.5
    rng = np.random.RandomState(0)
    seqs = [rng.randn(rng.randint(3, 9), 2).astype(np.float32) for _ in range(60)]
    labels = np.array([int(s[:, 0].sum() > 0) for s in seqs])
    rnn = RNNClassifier(hidden_size=8, max_iter=3, **GPU).fit(seqs, labels)
    assert _on(rnn, "cuda") and rnn.predict(seqs).shape == (60,)


def test_fine_tune_and_own_module_on_cuda(iris):
    X, y = iris
    net = NeuralNetClassifier(
        module=MLP, module_kwargs={"hidden_layer_sizes": (8,)}, max_iter=5, **GPU
    ).fit(X, y)
    body = [p.detach().clone() for p in net.module_.blocks.parameters()]
    net.fine_tune(X, y + 10, freeze=True, max_iter=3)
    assert list(net.classes_) == [10, 11, 12]
    for before, after in zip(body, net.module_.blocks.parameters()):
        torch.testing.assert_close(before, after)


def test_save_on_cuda_load_on_cpu_only_machine(iris, tmp_path, monkeypatch):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=5, **GPU).fit(X, y)
    expected = clf.predict_proba(X)
    sknn.save(clf, tmp_path / "clf.sknn")
    blob = pickle.dumps(clf)
    _without_cuda(monkeypatch)
    for loaded in (sknn.load(tmp_path / "clf.sknn"), pickle.loads(blob)):
        assert loaded.device_ == "cpu" and _on(loaded, "cpu")
        np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-5)


def test_stacked_pass_on_cuda_matches_one_by_one(digits, capsys):
    X, y = digits
    X, y = X[:400], y[:400]
    folds = [tr for tr, _ in StratifiedKFold(3).split(X, y)]
    params = dict(hidden_layer_sizes=(16, 16), max_iter=6, device="cuda")
    stacked = [MLPClassifier(**params, random_state=s) for s in range(3)]
    fit_stacked(stacked, X, y, indices=folds, verbose=1)
    assert "1 stacked pass(es), 0 network(s) fitted alone" in capsys.readouterr().out
    for s, (est, rows) in enumerate(zip(stacked, folds)):
        alone = MLPClassifier(**params, random_state=s).fit(X[rows], y[rows])
        assert est.n_iter_ == alone.n_iter_
        np.testing.assert_allclose(
            est.predict_proba(X), alone.predict_proba(X), atol=1e-3
        )


def test_searches_and_ensembles_on_cuda(digits):
    X, y = digits
    X, y = X[:300], y[:300]
    net = MLPClassifier((16,), max_iter=5, **GPU)
    grid = GridSearchCV(net, {"alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert grid.best_estimator_.device_.startswith("cuda")
    search = OptunaSearchCV(net, n_trials=2, cv=2, random_state=0).fit(X, y)
    assert len(search.study_.trials) == 2
    ens = DeepEnsembleClassifier(net, n_estimators=3, random_state=0).fit(X, y)
    assert ens.predict_proba(X).shape == (300, 10)


def test_cnn_folds_stack_on_cuda_with_batch_norm(digits, capsys):
    X, y = digits
    images, y = X.reshape(-1, 8, 8)[:300], y[:300]
    folds = [np.arange(0, 200), np.arange(100, 300)]  # batches line up: one pass
    params = dict(channels=(4,), hidden_layer_sizes=(16,), max_iter=3, device="cuda")
    stacked = [CNNClassifier(**params, random_state=s) for s in range(2)]
    fit_stacked(stacked, images, y, indices=folds, verbose=1)
    assert "1 stacked pass(es), 0 network(s) fitted alone" in capsys.readouterr().out
    for s, (est, rows) in enumerate(zip(stacked, folds)):
        alone = CNNClassifier(**params, random_state=s).fit(images[rows], y[rows])
        np.testing.assert_allclose(
            est.predict_proba(images), alone.predict_proba(images), atol=1e-3
        )
