"""A check shared by the estimators' tests: ``class_weight`` changes the training."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_sample_weight


def assert_class_weight_applies(make, X, y):
    """``class_weight="balanced"`` trains the network that balanced sample weights
    train, and another than the unweighted one (``y`` must be imbalanced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        balanced = make(class_weight="balanced").fit(X, y)
        weighted = make().fit(X, y, sample_weight=compute_sample_weight("balanced", y))
        plain = make().fit(X, y)
    proba = balanced.predict_proba(X)
    np.testing.assert_allclose(proba, weighted.predict_proba(X), atol=1e-6)
    assert np.abs(proba - plain.predict_proba(X)).max() > 1e-3
