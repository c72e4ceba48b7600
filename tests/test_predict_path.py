"""The lean inference path: the checks a user relies on, chunked conversion, one output."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError

from sknn import CNNClassifier, MLPClassifier, MLPRegressor
from sknn.training import TensorData, inference, predict_batched

CPU = dict(device="cpu", random_state=0)


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    return MLPClassifier((16,), max_iter=30, dtype="float32", **CPU).fit(X, y)


def test_fast_path_gives_the_validated_path_result(fitted, iris):
    X, _ = iris
    fast = fitted.predict_proba(X)
    slow = fitted.predict_proba(X.tolist())  # a list: through validate_data
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fitted.predict_proba(np.asfortranarray(X)), fast)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_scikit_learn_error(fitted, iris, bad):
    X = iris[0][:3].copy()
    X[1, 2] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        fitted.predict(X)
    with pytest.raises(ValueError, match="Input X contains"):
        fitted.predict_proba(X[1:2])


def test_feature_count_is_checked(fitted, iris):
    with pytest.raises(
        ValueError, match="X has 3 features, but MLPClassifier is expecting 4"
    ):
        fitted.predict(iris[0][:2, :3])
    with pytest.raises(ValueError, match="0 sample"):
        fitted.predict(np.empty((0, 4)))


def test_feature_names_are_checked_for_arrays(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier((8,), max_iter=5, **CPU).fit(df, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(df.iloc[:1])


def test_unfitted_estimator_raises_not_fitted(iris):
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(iris[0][:1])


def test_one_row_prediction_equals_its_row_in_a_batch(fitted, iris):
    # To float32 rounding: a matrix product of 8 rows and one of 152 may take BLAS
    # kernels that sum in another order (a last-bit difference, as with NumPy).
    X = iris[0]
    batch = fitted.predict_proba(X)
    for i in (0, 57, 149):
        np.testing.assert_allclose(
            fitted.predict_proba(X[i : i + 1])[0], batch[i], rtol=1e-6, atol=1e-7
        )
    np.testing.assert_array_equal(
        np.concatenate([fitted.predict(X[i : i + 1]) for i in range(len(X))]),
        fitted.predict(X),
    )


def test_input_is_converted_one_chunk_at_a_time(monkeypatch, diabetes):
    X, y = diabetes
    reg = MLPRegressor((8,), max_iter=3, dtype="float32", **CPU).fit(X, y)
    rows = []
    real = inference.to_device_chunk

    def spy(x, start, stop, *args):
        rows.append(stop - start)
        return real(x, start, stop, *args)

    monkeypatch.setattr(inference, "to_device_chunk", spy)
    big = np.resize(X, (10_000, X.shape[1]))  # float64 into a float32 network
    pred = reg.predict(big)
    assert sum(rows) == 10_000 and max(rows) <= 4096
    np.testing.assert_allclose(pred[: len(X)], reg.predict(X), rtol=1e-6)


def test_chunked_output_equals_one_pass():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)
    )
    X = np.random.RandomState(0).rand(103, 5)
    whole = predict_batched(net, X, chunk_size=1000)
    for chunk in (1, 7, 50, 103):
        parts = predict_batched(net, X, chunk_size=chunk)
        torch.testing.assert_close(parts, whole, rtol=1e-6, atol=1e-7)
    data = TensorData(X, None, None, torch.device("cpu"))
    torch.testing.assert_close(predict_batched(net, data, chunk_size=10), whole)
    sparse = predict_batched(net, sp.coo_matrix(X), chunk_size=10)
    torch.testing.assert_close(sparse, whole)


def test_predict_runs_in_eval_mode_and_restores_the_mode(iris):
    X, y = iris
    clf = MLPClassifier((32,), dropout=0.5, max_iter=5, **CPU).fit(X, y)
    expected = clf.predict_proba(X)
    clf.module_.train()  # e.g. a user inspecting the module
    np.testing.assert_array_equal(clf.predict_proba(X), expected)  # no dropout
    assert clf.module_.training


def test_values_beyond_float32_raise_with_the_way_out(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=3, dtype="float32", **CPU).fit(X, y)
    with pytest.raises(ValueError, match='dtype="float64"'):
        clf.predict(X[:2] * 1e39)


def test_image_estimators_keep_their_own_validation(digits):
    X, y = digits
    clf = CNNClassifier(channels=(4,), max_iter=1, **CPU).fit(
        X[:64].reshape(-1, 8, 8), y[:64]
    )
    assert clf.predict(X[:3].reshape(-1, 8, 8)).shape == (3,)
    assert clf.predict(X[:3]).shape == (3,)  # flat rows reshaped by the CNN's rule
