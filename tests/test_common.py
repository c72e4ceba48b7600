"""scikit-learn's estimator checks over every sknn estimator, with fast settings.

A new estimator is added to ``ESTIMATORS`` the day it exists. There is no list of
expected failures: every check passes.

Like scikit-learn does for its own MLP (``PER_ESTIMATOR_CHECK_PARAMS`` in
``sklearn/utils/_test_common/instance_generator.py``), a few checks run with adjusted
parameters, listed in ``CHECK_PARAMS`` with the reason. They are configurations the
estimator supports, not skips.
"""

from __future__ import annotations

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    RNNRegressor,
)

FAST = dict(hidden_layer_sizes=(16,), max_iter=100, random_state=0, device="cpu")

ESTIMATORS = [
    MLPClassifier(**FAST, learning_rate_init=0.01),
    MLPRegressor(**FAST, learning_rate_init=0.01),
]

from sknn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402
from sknn.modules import MLP  # noqa: E402

_NN_FAST = dict(
    module=MLP,
    module_kwargs={"hidden_layer_sizes": (16,)},
    max_iter=100,
    learning_rate_init=0.01,
    random_state=0,
    device="cpu",
)
ESTIMATORS += [NeuralNetClassifier(**_NN_FAST), NeuralNetRegressor(**_NN_FAST)]

# The sample-weight equivalence checks compare a weighted fit with a fit on repeated
# rows at rtol=1e-7: float32 arithmetic sums in a different order in the two fits and
# cannot meet that, float64 (the precision scikit-learn's MLP trains in) does.
CHECK_PARAMS = {
    "check_sample_weight_equivalence_on_dense_data": {"dtype": "float64"},
    "check_sample_weight_equivalence_on_sparse_data": {"dtype": "float64"},
}


# Convolutional and recurrent estimators read the checks' 2-D tables as one-channel
# signals and univariate sequences. Flattening keeps the position of each feature, which
# the regression checks' linear targets need (global average pooling would discard it).
CNN_FAST = dict(
    channels=(8,),
    global_pooling="flatten",
    hidden_layer_sizes=(16,),
    max_iter=50,
    learning_rate_init=0.01,
    random_state=0,
    device="cpu",
)
RNN_FAST = dict(
    hidden_size=16,
    bidirectional=False,
    batch_size="auto",
    max_iter=60,
    learning_rate_init=0.02,
    random_state=0,
    device="cpu",
)
ESTIMATORS += [
    CNNClassifier(**CNN_FAST),
    CNNRegressor(**CNN_FAST),
    RNNClassifier(**RNN_FAST),
    RNNRegressor(**RNN_FAST),
]
# Batch norm normalises with unweighted batch statistics, so weighting a row is not the
# same as repeating it: the CNNs run that check without batch norm.
CHECK_PARAMS["check_sample_weight_equivalence_on_dense_data"] = {
    **CHECK_PARAMS["check_sample_weight_equivalence_on_dense_data"],
    "batch_norm": False,
}


# Deep ensembles train their members in stacked passes; the members get the same
# float64 setting as the networks for the sample-weight equivalence checks.
from sknn.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor  # noqa: E402

ESTIMATORS += [
    DeepEnsembleClassifier(
        MLPClassifier(**FAST, learning_rate_init=0.01), n_estimators=3, random_state=0
    ),
    DeepEnsembleRegressor(
        MLPRegressor(**FAST, learning_rate_init=0.01), n_estimators=3, random_state=0
    ),
]
for _name in (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
):
    CHECK_PARAMS[_name] = {**CHECK_PARAMS[_name], "estimator__dtype": "float64"}


def _check_name(check) -> str:
    func = getattr(check, "func", check)
    return getattr(func, "__name__", str(func))


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    params = {
        key: value
        for key, value in CHECK_PARAMS.get(_check_name(check), {}).items()
        if key in estimator.get_params()
    }
    if params:
        estimator = clone(estimator).set_params(**params)
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_estimator_has_docstring_example(estimator):
    assert "Examples" in type(estimator).__doc__
