"""Model files written by an earlier sknn still load, and predict as they did.

The files under ``tests/data/legacy_models`` were written with ``sknn.save`` by the
sknn of the commit named in ``expected.json``, before the fit plan and the target
handlers were reshaped, together with that sknn's predictions. Each case here rebuilds
the same seeded data; ``tests/data/make_legacy_models.py`` wrote the files (run it only
to add a case, with the old code on the path).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import sknn

LEGACY = Path(__file__).parent / "data" / "legacy_models"


def _iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


def _sequences():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5, 2))
    return X, X[:, :, 0].sum(axis=1)


def _table():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 80
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
        }
    )
    y = (frame["x"] > 0) ^ (frame["colour"] == "red")
    return frame, y.map({True: "yes", False: "no"}).to_numpy()


def _multiclass(est_kw):
    X, y = _iris()
    return sknn.MLPClassifier((8,), **est_kw).fit(X, y), X


def _binary_early_stopping(est_kw):
    X, y = _iris()
    y = (y == "setosa").astype(int)
    est = sknn.MLPClassifier(
        (8,), **est_kw, early_stopping=True, class_weight="balanced", solver="sgd"
    )
    return est.fit(X, y), X


def _multilabel(est_kw):
    X, y = _iris()
    Y = np.stack([y == "setosa", X[:, 0] > 5.8], axis=1).astype(int)
    return sknn.MLPClassifier((8,), **est_kw).fit(X, Y), X


def _poisson(est_kw):
    X, _ = _iris()
    Y = np.stack([X[:, 0], X[:, 1] + X[:, 2]], axis=1)
    return sknn.MLPRegressor((8,), **est_kw, loss="poisson").fit(X, Y), X


def _partial_fit(est_kw):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    est = sknn.MLPRegressor((8,), **est_kw)
    for _ in range(3):
        est.partial_fit(X, y)
    return est, X


def _cnn(est_kw):
    X, y = _digits()
    est = sknn.CNNClassifier(
        channels=(4,), hidden_layer_sizes=(8,), input_shape=(1, 8, 8), **est_kw
    )
    return est.fit(X, y), X


def _rnn(est_kw):
    X, y = _sequences()
    est = sknn.RNNRegressor(hidden_size=4, **est_kw)
    return est.fit(X, y), X


def _neuralnet(est_kw):
    from sknn.modules import MLP

    X, y = _iris()
    est = sknn.NeuralNetClassifier(
        MLP, module_kwargs={"hidden_layer_sizes": (8,)}, **est_kw
    )
    return est.fit(X, y), X


def _table_mlp(est_kw):
    X, y = _table()
    return sknn.MLPClassifier((8,), **est_kw).fit(X, y), X


def _fine_tuned(est_kw):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16
    est = sknn.MLPClassifier((8,), **est_kw).fit(X[y < 5], y[y < 5])
    est.fine_tune(X[y >= 5], y[y >= 5], max_iter=3)
    return est, X[:100]


#: name -> function(estimator keywords) -> (fitted estimator, X to predict)
CASES = {
    "mlp_multiclass": _multiclass,
    "mlp_binary_early_stopping": _binary_early_stopping,
    "mlp_multilabel": _multilabel,
    "mlp_poisson_two_outputs": _poisson,
    "mlp_partial_fit": _partial_fit,
    "cnn_classifier": _cnn,
    "rnn_regressor": _rnn,
    "neuralnet_classifier": _neuralnet,
    "mlp_raw_table": _table_mlp,
    "mlp_fine_tuned": _fine_tuned,
}

#: Small, fast, seeded settings shared by every case.
EST_KW = dict(max_iter=8, random_state=0, device="cpu")


def _expected() -> dict:
    return json.loads((LEGACY / "expected.json").read_text())


def _outputs(est, X) -> dict:
    X = X[:30]  # enough rows to tell models apart, a small expected.json
    out = {"predict": np.asarray(est.predict(X)).tolist()}
    if hasattr(est, "predict_proba"):
        out["predict_proba"] = est.predict_proba(X).tolist()
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_files_saved_before_the_reshaping_load_and_predict_the_same(name):
    expected = _expected()["cases"][name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        _, X = CASES[name](EST_KW)
    loaded = sknn.load(LEGACY / f"{name}.sknn")
    assert type(loaded).__name__ == expected["estimator"]
    got = _outputs(loaded, X)
    if np.asarray(expected["predict"]).dtype.kind in "iUb":
        np.testing.assert_array_equal(got["predict"], expected["predict"])
    else:
        np.testing.assert_allclose(got["predict"], expected["predict"], rtol=1e-6)
    if "predict_proba" in expected:
        np.testing.assert_allclose(
            got["predict_proba"], expected["predict_proba"], rtol=1e-6, atol=1e-9
        )
    for attr, value in expected["attributes"].items():
        assert np.asarray(getattr(loaded, attr)).tolist() == value, attr


@pytest.mark.parametrize("name", ["mlp_partial_fit", "mlp_multiclass"])
def test_legacy_files_keep_training(name):
    """A loaded legacy file continues with ``partial_fit`` from its weights and its
    saved optimiser state."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, X = CASES[name](EST_KW)
    loaded = sknn.load(LEGACY / f"{name}.sknn")
    y = loaded.predict(X)
    before = [p.detach().clone() for p in loaded.module_.parameters()]
    n_iter = loaded.n_iter_
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == n_iter + 1
    after = list(loaded.module_.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
