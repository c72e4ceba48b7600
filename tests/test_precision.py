"""Mixed precision, gradient accumulation and torch.compile (sknn.training.precision).

What a user relies on: ``accumulation_steps=k`` with ``batch_size=b`` trains the network
that ``batch_size=k*b`` trains (same steps, same L2 term, sample weights included);
bfloat16 autocast on a CPU gives the float32 model within the documented tolerance;
``compile`` gives the eager model; combinations that cannot work are refused up front.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV

import sknn
from sknn import CNNClassifier, MLPClassifier, MLPRegressor, NeuralNetRegressor
from sknn.callbacks import Callback
from sknn.model_selection import fit_stacked
from sknn.training.precision import check_step_plan

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def clf_data():
    return make_classification(500, 10, n_informative=6, random_state=0)


@pytest.fixture(scope="module")
def reg_data():
    return make_regression(500, 10, noise=1.0, random_state=0)


class CountSteps(Callback):
    """Counts optimiser steps (on_batch_end) and gradient reads (on_backward_end)."""

    def __init__(self):
        self.steps = 0
        self.backwards = 0

    def on_backward_end(self, trainer):
        self.backwards += 1

    def on_batch_end(self, trainer, loss):
        self.steps += 1


def _max_weight_gap(a, b) -> float:
    return max(
        (p - q).abs().max().item()
        for p, q in zip(a.module_.parameters(), b.module_.parameters())
    )


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_accumulation_trains_the_larger_batch_network(
    kind, weighted, solver, clf_data, reg_data
):
    X, y = clf_data if kind == "classifier" else reg_data
    Est = MLPClassifier if kind == "classifier" else MLPRegressor
    w = np.random.RandomState(1).uniform(0.2, 2.0, len(y)) if weighted else None
    # 500 rows: 10 batches of 48 and one of 20, so the last group is a short one.
    common = dict(solver=solver, alpha=1e-2, max_iter=4, random_state=0)
    big = Est(batch_size=48, **common).fit(X, y, sample_weight=w)
    acc = Est(batch_size=16, accumulation_steps=3, **common).fit(X, y, sample_weight=w)
    assert _max_weight_gap(big, acc) < 1e-10
    np.testing.assert_allclose(acc.loss_curve_, big.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(acc.predict(X), big.predict(X), rtol=1e-9, atol=1e-12)


def test_accumulation_steps_once_per_group_and_keeps_early_stopping(clf_data):
    X, y = clf_data
    net = MLPClassifier(
        batch_size=20,
        accumulation_steps=4,
        max_iter=3,
        random_state=0,
        callbacks=[CountSteps()],
    ).fit(X, y)
    count = net.callbacks_[0]
    # 25 batches of 20 rows an epoch: 6 groups of 4 and a last group of 1.
    assert count.steps == count.backwards == 3 * 7
    stopped = MLPClassifier(
        batch_size=10, accumulation_steps=2, early_stopping=True, random_state=0
    ).fit(X, y)
    ref = MLPClassifier(batch_size=20, early_stopping=True, random_state=0).fit(X, y)
    assert stopped.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(stopped.validation_scores_, ref.validation_scores_)


def test_accumulation_in_partial_fit_matches_fit(clf_data):
    X, y = clf_data
    common = dict(batch_size=25, accumulation_steps=2, random_state=0)
    inc = MLPClassifier(**common)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    full = MLPClassifier(max_iter=3, **common).fit(X, y)
    assert _max_weight_gap(inc, full) < 1e-10


def test_bfloat16_autocast_on_cpu_is_close_to_float32(clf_data):
    X, y = clf_data
    common = dict(max_iter=15, random_state=0)
    fp32 = MLPClassifier(dtype="float32", **common).fit(X, y)
    bf16 = MLPClassifier(autocast="bfloat16", **common).fit(X, y)
    # Weights stay float32 (autocast computes in bfloat16, keeps float32 masters).
    assert bf16._dtype_ == "float32"
    assert next(bf16.module_.parameters()).dtype == torch.float32
    proba = bf16.predict_proba(X)
    assert proba.dtype == np.float32 and np.isfinite(proba).all()
    # The documented tolerance: probabilities within 0.05, accuracy within 2 points.
    assert np.abs(proba - fp32.predict_proba(X)).max() < 0.05
    assert abs(bf16.score(X, y) - fp32.score(X, y)) <= 0.02
    assert abs(bf16.loss_ - fp32.loss_) < 0.02 * fp32.loss_


def test_bfloat16_autocast_trains_a_cnn(clf_data):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 1, 8, 8).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > X[:, 0, 4:].mean(axis=(1, 2))).astype(int)
    common = dict(channels=(4,), hidden_layer_sizes=(8,), max_iter=5)
    fp32 = CNNClassifier(**common, random_state=0).fit(X, y)
    bf16 = CNNClassifier(**common, autocast="bfloat16", random_state=0).fit(X, y)
    assert np.abs(bf16.predict_proba(X) - fp32.predict_proba(X)).max() < 0.05


def test_compile_gives_the_eager_network(reg_data):
    X, y = reg_data
    common = dict(max_iter=3, random_state=0, dtype="float32")
    eager = MLPRegressor(**common).fit(X, y)
    # The "eager" backend runs dynamo's capture without code generation (fast).
    compiled = MLPRegressor(compile={"backend": "eager"}, **common).fit(X, y)
    assert _max_weight_gap(eager, compiled) < 1e-6
    np.testing.assert_allclose(compiled.predict(X), eager.predict(X), rtol=1e-5)
    # What trains is the compiled wrapper; what predicts and pickles is the module.
    assert type(compiled.module_).__name__ != "OptimizedModule"
    again = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_array_equal(again.predict(X), compiled.predict(X))


def test_compile_with_inductor_matches_eager(reg_data):
    X, y = reg_data
    common = dict(max_iter=2, batch_size=100, random_state=0, dtype="float32")
    eager = MLPRegressor(**common).fit(X, y)
    compiled = MLPRegressor(compile=True, **common).fit(X, y)
    np.testing.assert_allclose(
        compiled.predict(X), eager.predict(X), rtol=1e-4, atol=1e-4
    )


class _Breaks(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.lin = torch.nn.Linear(n_features_in, n_outputs)

    def forward(self, x):
        if float(x.sum()) > 1e30:  # a data-dependent branch: a graph break
            x = x * 0
        return self.lin(x)


def test_compile_failure_names_the_parameter(reg_data):
    X, y = reg_data
    net = NeuralNetRegressor(
        _Breaks,
        max_iter=1,
        compile={"backend": "eager", "fullgraph": True},
        dtype="float32",
    )
    with pytest.raises(RuntimeError, match=r"torch\.compile failed while training"):
        net.fit(X.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"refused by torch\.compile"):
        MLPRegressor(max_iter=1, compile={"no_such_option": 1}).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(autocast="float16", device="cpu"), "needs a CUDA device"),
        (dict(autocast="bfloat16", dtype="float64"), 'dtype="float64"'),
        (dict(accumulation_steps=2, solver="lbfgs"), "solver='lbfgs'"),
        (dict(compile=True, solver="lbfgs"), "solver='lbfgs'"),
        (dict(autocast="int8"), "autocast"),
        (dict(accumulation_steps=0), "accumulation_steps"),
    ],
)
def test_impossible_combinations_are_refused(params, match, clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match=match):
        MLPClassifier(max_iter=1, **params).fit(X, y)


def test_accumulation_is_refused_in_data_parallel_fits():
    with pytest.raises(ValueError, match="raise batch_size instead"):
        check_step_plan(
            autocast=None,
            accumulation_steps=2,
            compile=False,
            device=torch.device("cpu"),
            dtype="auto",
            full_batch=False,
            parallel=True,
        )


def test_bfloat16_is_refused_on_a_gpu_without_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ValueError, match="bfloat16 support"):
        check_step_plan(
            autocast="bfloat16",
            accumulation_steps=1,
            compile=False,
            device=torch.device("cuda"),
            dtype="auto",
            full_batch=False,
            parallel=False,
        )


def test_parameters_clone_search_and_save(clf_data, tmp_path):
    X, y = clf_data
    net = MLPClassifier(
        max_iter=2, autocast="bfloat16", accumulation_steps=2, random_state=0
    )
    assert clone(net).get_params()["accumulation_steps"] == 2
    search = GridSearchCV(
        MLPClassifier(max_iter=2, random_state=0),
        {"accumulation_steps": [1, 2], "autocast": [None, "bfloat16"]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    net.fit(X, y)
    path = tmp_path / "net.sknn"
    sknn.save(net, path)
    loaded = sknn.load(path)
    assert loaded.get_params()["autocast"] == "bfloat16"
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    loaded.partial_fit(X, y)  # continues training after loading


def test_stacked_search_fits_these_alone(clf_data, capsys):
    X, y = clf_data
    nets = [
        MLPClassifier((8,), max_iter=3, accumulation_steps=2, random_state=0),
        MLPClassifier((8,), max_iter=3, random_state=0),
    ]
    fit_stacked(nets, X, y, verbose=1)
    assert "1 network(s) fitted alone" in capsys.readouterr().out
    ref = MLPClassifier((8,), max_iter=3, accumulation_steps=2, random_state=0)
    np.testing.assert_allclose(
        nets[0].predict_proba(X), ref.fit(X, y).predict_proba(X), rtol=1e-6
    )


@pytest.mark.cuda
def test_float16_autocast_with_gradient_scaler_on_cuda(clf_data):
    X, y = clf_data
    common = dict(max_iter=10, random_state=0, device="cuda")
    fp32 = MLPClassifier(**common).fit(X, y)
    fp16 = MLPClassifier(autocast="float16", **common).fit(X, y)
    assert fp16._grad_scaler is not None and fp16._grad_scaler.get_scale() > 0
    assert np.abs(fp16.predict_proba(X) - fp32.predict_proba(X)).max() < 0.05
    fp16.partial_fit(X, y)  # the loss scale carries over
    bf16 = MLPClassifier(autocast="bfloat16", **common).fit(X, y)
    assert abs(bf16.score(X, y) - fp32.score(X, y)) <= 0.02
    assert "_grad_scaler" not in pickle.loads(pickle.dumps(fp16)).__dict__
