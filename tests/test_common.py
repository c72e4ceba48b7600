"""scikit-learn's estimator checks over every sknn estimator, with fast settings.

A new estimator is added to ``ESTIMATORS`` the day it exists. There is no list of
expected failures: every check passes.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn import MLPClassifier, MLPRegressor

FAST = dict(hidden_layer_sizes=(16,), max_iter=100, random_state=0, device="cpu")

ESTIMATORS = [
    MLPClassifier(**FAST, learning_rate_init=0.01),
    MLPRegressor(**FAST, learning_rate_init=0.01),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_estimator_has_docstring_example(estimator):
    assert "Examples" in type(estimator).__doc__
