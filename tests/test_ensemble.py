"""Deep ensembles: members trained in one pass, averaged, better than one network."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from sknn import MLPClassifier, MLPRegressor
from sknn.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_members_are_the_networks_trained_alone(iris):
    # Batches of 32 of 150 rows: each member's own shuffling stream matters.
    X, y = iris
    net = MLPClassifier(
        (8,), max_iter=10, learning_rate_init=0.01, batch_size=32, device="cpu"
    )
    ens = DeepEnsembleClassifier(net, n_estimators=3, random_state=0).fit(X, y)
    seeds = [m.random_state for m in ens.estimators_]
    assert len(set(seeds)) == 3
    alone = [clone(net).set_params(random_state=s).fit(X, y) for s in seeds]
    expected = np.mean([m.predict_proba(X) for m in alone], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X), expected, atol=1e-5)
    np.testing.assert_array_equal(ens.classes_, np.unique(y))


def test_ensemble_beats_its_members_on_digits(digits):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.5, random_state=0, stratify=y
    )
    net = MLPClassifier((32,), max_iter=20, device="cpu")
    ens = DeepEnsembleClassifier(net, n_estimators=5, random_state=0).fit(X_tr, y_tr)
    members = [m.score(X_te, y_te) for m in ens.estimators_]
    assert ens.score(X_te, y_te) > max(members)


def test_regressor_averages_predictions(diabetes):
    X, y = diabetes
    X = (X - X.mean(0)) / X.std(0)
    net = MLPRegressor((8,), max_iter=10, learning_rate_init=0.01, device="cpu")
    ens = DeepEnsembleRegressor(net, n_estimators=2, random_state=1).fit(X, y)
    expected = np.mean([m.predict(X) for m in ens.estimators_], axis=0)
    np.testing.assert_allclose(ens.predict(X), expected)
    assert ens.predict(X).shape == (len(y),) and ens.score(X, y) > 0


def test_string_labels_and_feature_count(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    net = MLPClassifier((8,), max_iter=5, device="cpu")
    ens = DeepEnsembleClassifier(net, n_estimators=2, random_state=0).fit(X, labels)
    assert set(ens.predict(X)) <= set(labels)
    with pytest.raises(ValueError, match="features"):
        ens.predict(X[:, :2])
