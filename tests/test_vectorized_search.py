"""Vectorised cross-validation and searches give scikit-learn's results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn import model_selection as skms
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import MLPClassifier, MLPRegressor
from sknn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Batches of 32: several per epoch and a partial last one, so that each fold's own
# shuffling stream and batch bounds matter (folds of 100 rows, or 112 and 113 rows).
NET = dict(
    hidden_layer_sizes=(8,),
    max_iter=15,
    learning_rate_init=0.01,
    batch_size=32,
    device="cpu",
)


@pytest.fixture(scope="module")
def iris_scaled(iris):
    X, y = iris
    return StandardScaler().fit_transform(X), y


def test_cross_validate_matches_sklearn(iris_scaled):
    X, y = iris_scaled
    net = MLPClassifier(**NET, random_state=0)
    ours = cross_validate(net, X, y, cv=4, return_train_score=True, return_estimator=True,
                          return_indices=True)  # fmt: skip
    ref = skms.cross_validate(net, X, y, cv=4, return_train_score=True,
                              return_estimator=True, return_indices=True)  # fmt: skip
    assert sorted(ours) == sorted(ref)
    np.testing.assert_allclose(ours["test_score"], ref["test_score"])
    np.testing.assert_allclose(ours["train_score"], ref["train_score"])
    for a, b in zip(ours["estimator"], ref["estimator"]):
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)
    for part in ("train", "test"):
        for a, b in zip(ours["indices"][part], ref["indices"][part]):
            np.testing.assert_array_equal(a, b)


def test_cross_val_score_multimetric_and_fallback(iris_scaled):
    X, y = iris_scaled
    net = MLPClassifier(**NET, random_state=1)
    np.testing.assert_allclose(
        cross_val_score(net, X, y, cv=3, scoring="neg_log_loss"),
        skms.cross_val_score(net, X, y, cv=3, scoring="neg_log_loss"),
        rtol=1e-5,
    )
    scoring = ["accuracy", "f1_macro"]
    ours = cross_validate(net, X, y, cv=3, scoring=scoring)
    ref = skms.cross_validate(net, X, y, cv=3, scoring=scoring)
    for key in ("test_accuracy", "test_f1_macro"):
        np.testing.assert_allclose(ours[key], ref[key])
    lr = LogisticRegression(max_iter=200)
    np.testing.assert_allclose(
        cross_val_score(lr, X, y, cv=3), skms.cross_val_score(lr, X, y, cv=3)
    )


def test_grid_search_matches_sklearn(iris_scaled):
    X, y = iris_scaled
    grid = {
        "learning_rate_init": [0.003, 0.03],
        "hidden_layer_sizes": [(8,), (4, 4)],  # two architectures: two groups
    }
    net = MLPClassifier(**{**NET, "learning_rate_init": 0.01}, random_state=0)
    ours = GridSearchCV(net, grid, cv=3, return_train_score=True).fit(X, y)
    ref = skms.GridSearchCV(net, grid, cv=3, return_train_score=True).fit(X, y)
    assert sorted(ours.cv_results_) == sorted(ref.cv_results_)
    for key in ("mean_test_score", "split1_test_score", "mean_train_score"):
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key])
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"]
    )
    assert ours.best_params_ == ref.best_params_
    assert ours.best_index_ == ref.best_index_ and ours.n_splits_ == 3
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_pipeline_search_fits_transformers_per_fold(diabetes):
    X, y = diabetes
    pipe = make_pipeline(StandardScaler(), MLPRegressor(**NET, random_state=0))
    grid = {
        "standardscaler__with_mean": [True, False],
        "mlpregressor__alpha": [1e-4, 1.0],
    }
    ours = GridSearchCV(pipe, grid, cv=3, refit=False).fit(X, y)
    ref = skms.GridSearchCV(pipe, grid, cv=3, refit=False).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"],
        ref.cv_results_["mean_test_score"],
        rtol=1e-4,
    )
    assert not hasattr(ours, "best_estimator_")


def test_randomized_search_matches_sklearn(iris_scaled):
    X, y = iris_scaled
    net = MLPClassifier(**NET, random_state=0)
    space = {"alpha": loguniform(1e-5, 1.0), "beta_1": [0.8, 0.9]}
    kw = dict(n_iter=4, cv=3, random_state=0, scoring=["accuracy", "neg_log_loss"],
              refit="neg_log_loss")  # fmt: skip
    ours = RandomizedSearchCV(net, space, **kw).fit(X, y)
    ref = skms.RandomizedSearchCV(net, space, **kw).fit(X, y)
    assert ours.cv_results_["params"] == ref.cv_results_["params"]
    for key in ("mean_test_accuracy", "mean_test_neg_log_loss"):
        np.testing.assert_allclose(
            ours.cv_results_[key], ref.cv_results_[key], rtol=1e-5
        )
    assert ours.best_params_ == ref.best_params_
    assert ours.multimetric_ and set(ours.scorer_) == {"accuracy", "neg_log_loss"}


def test_failed_fits_are_reported_as_in_sklearn(iris_scaled):
    X, y = iris_scaled
    net = MLPClassifier(**NET, random_state=0)
    grid = {"alpha": [1e-4, -1.0]}  # the second candidate is invalid
    with pytest.warns(FitFailedWarning):
        ours = GridSearchCV(net, grid, cv=3).fit(X, y)
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    assert ours.best_params_ == {"alpha": 1e-4}
    with pytest.raises(ValueError, match="alpha"):
        GridSearchCV(net, grid, cv=3, error_score="raise").fit(X, y)


def test_search_over_a_non_network_is_sklearn(iris_scaled):
    X, y = iris_scaled
    grid = {"C": [0.1, 1.0]}
    ours = GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    ref = skms.GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
