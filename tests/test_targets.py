"""Target handlers (sknn.targets): one declared place for what estimators do with y."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _estimators import ESTIMATORS

import sknn
from sknn.targets import ClassTargets, RegressionTargets

FAST = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_declares_its_target_handler(cls):
    handler = cls()._new_targets()
    assert isinstance(handler, cls._targets_type)
    assert cls._targets_type in (ClassTargets, RegressionTargets)
    assert cls._targets_type.state_name in ("_encoder", "_scaler")


@pytest.mark.parametrize(
    "handler, y, out",
    [
        (ClassTargets(), np.array(["b", "a", "c", "a"]), torch.randn(4, 3)),
        (
            ClassTargets(class_weight="balanced"),
            np.array([1, 0, 1, 1]),
            torch.randn(4, 1),
        ),
        (ClassTargets(), np.array([[1, 0], [0, 1], [1, 1], [0, 0]]), torch.randn(4, 2)),
        (RegressionTargets(), np.array([1.0, 2.0, 4.0, 8.0]), torch.randn(4, 1)),
        (RegressionTargets(loss="poisson"), np.ones((4, 2)), torch.randn(4, 2)),
    ],
    ids=["multiclass", "binary", "multilabel", "regression", "poisson"],
)
def test_handlers_implement_every_declared_operation(handler, y, out):
    y = handler.prepare(y)
    encoded = handler.encode(y)
    assert len(encoded) == len(y)
    np.testing.assert_array_equal(handler.transform(y), encoded)
    weights = handler.sample_weight(None, y)
    assert weights is None or weights.shape == (len(y),)
    assert handler.n_outputs == out.shape[1]
    assert handler.dtype in (None, torch.long)
    strat = handler.stratify(encoded)
    assert strat is None or len(strat) == len(y)
    loss_fn, score_fn = handler.losses()
    target = torch.as_tensor(encoded)
    target = target if handler.dtype == torch.long else target.float()
    assert loss_fn(out, target, None).ndim == 0
    assert score_fn(out, target, None).ndim == 0
    assert handler.criterion_target in ("binary", "multiclass", "multilabel", "values")
    assert handler.attributes()["n_outputs_"] == handler.n_outputs
    pred = handler.predict(out, np.dtype(np.float64))
    assert len(pred) == len(y)
    graph, names, _ = handler.export_head(torch.nn.Identity(), torch.float32)
    assert len(names) == (2 if isinstance(handler, ClassTargets) else 1)
    assert isinstance(graph(out), (tuple, torch.Tensor))
    assert handler.needs_new_head(y) is False
    state = handler.state()
    assert list(state) == [handler.state_name]
    restored = type(handler).restore({**state, **handler.attributes()})
    np.testing.assert_array_equal(restored.predict(out, np.dtype(np.float64)), pred)


def test_a_later_call_checks_its_targets_against_the_first():
    first = ClassTargets()
    first.encode(np.array(["a", "b"]))
    later = ClassTargets()
    with pytest.raises(ValueError, match="has classes not in"):
        later.encode(np.array(["a", "z"]), previous=first)
    reg = RegressionTargets()
    reg.encode(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="y has 2 outputs"):
        RegressionTargets().encode(np.ones((2, 2)), previous=reg)


def test_pickling_a_fitted_estimator_leaves_it_unchanged(iris):
    """Pickling used to move the live optimiser into ``_optimizer_state`` (and, on
    CUDA, the live network to the CPU): the pickled state is now a copy."""
    X, y = iris
    clf = sknn.MLPClassifier(**FAST).fit(X, y)
    optimizer, module = clf.optimizer_, clf.module_
    blob = pickle.dumps(clf)
    assert clf.optimizer_ is optimizer and clf.module_ is module
    assert vars(clf).get("_optimizer_state") is None
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("cls", [sknn.MLPClassifier, sknn.MLPRegressor])
def test_saved_state_keeps_the_target_state_under_its_own_name(cls, iris, tmp_path):
    """Files and pickles keep ``_encoder`` / ``_scaler`` (read by every sknn version)
    rather than the handler object."""
    X, y = iris
    est = cls(**FAST).fit(X, y)
    state = est.__getstate__()
    assert cls._targets_type.state_name in state and "_targets_" not in state
    sknn.save(est, tmp_path / "m.sknn")
    np.testing.assert_array_equal(
        sknn.load(tmp_path / "m.sknn").predict(X), est.predict(X)
    )


def test_predict_decodes_with_the_link_of_the_fit(diabetes):
    """Changing ``loss`` after a Poisson fit does not change how the fitted network
    is decoded (its output is a log-mean until the next fit)."""
    X, y = diabetes
    reg = sknn.MLPRegressor(**FAST, loss="poisson").fit(X, y)
    before = reg.predict(X)
    reg.set_params(loss="squared_error")
    np.testing.assert_array_equal(reg.predict(X), before)
    assert reg.out_activation_ == "exp"
