"""scikit-learn's estimator checks over every sknn estimator, with fast settings.

A new estimator is added to ``ESTIMATORS`` the day it exists. The MLPs pass every
check with their defaults. The other estimators train in float32 by default, which
cannot meet the sample-weight equivalence checks' ``rtol=1e-7``: those two checks are
declared expected failures through scikit-learn's own mechanism
(``expected_failed_checks``) with the reason, and run again with ``dtype="float64"``,
where they pass (``test_sample_weight_equivalence_in_float64``).

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
# cannot meet that, float64 (the precision scikit-learn's MLP trains in) does. The MLPs'
# dtype="auto" trains the checks' float64 data in float64.
SAMPLE_WEIGHT_CHECKS = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)
CHECK_PARAMS: dict = {name: {} for name in SAMPLE_WEIGHT_CHECKS}


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


# The table estimators: RealMLP-style networks in a TabM-style ensemble (float32).
from sknn import TabularClassifier, TabularRegressor  # noqa: E402

TAB_FAST = dict(
    hidden_layer_sizes=(16,), ensemble_size=2, max_iter=20, random_state=0, device="cpu"
)
ESTIMATORS += [TabularClassifier(**TAB_FAST), TabularRegressor(**TAB_FAST)]


# Deep ensembles train their members (MLPs, dtype="auto") in stacked passes.
from sknn.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor  # noqa: E402

ESTIMATORS += [
    DeepEnsembleClassifier(
        MLPClassifier(**FAST, learning_rate_init=0.01), n_estimators=3, random_state=0
    ),
    DeepEnsembleRegressor(
        MLPRegressor(**FAST, learning_rate_init=0.01), n_estimators=3, random_state=0
    ),
]


def _float32_by_default(estimator) -> bool:
    return estimator.get_params().get("dtype") == "float32"


def expected_failed_checks(estimator) -> dict:
    """scikit-learn's declaration of expected check failures, with the reason."""
    if not _float32_by_default(estimator):
        return {}
    reason = (
        'trains in float32 by default (dtype="float32"), whose rounding cannot meet '
        'rtol=1e-7; passes with dtype="float64" (test_sample_weight_equivalence_in_'
        "float64)"
    )
    if estimator.get_params().get("batch_norm"):
        reason += (
            " and batch_norm=False: batch normalisation's batch statistics are "
            "unweighted, so a weighted row is not a repeated row"
        )
    return dict.fromkeys(SAMPLE_WEIGHT_CHECKS, reason)


def _check_name(check) -> str:
    func = getattr(check, "func", check)
    return getattr(func, "__name__", str(func))


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
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


@pytest.mark.parametrize("check_name", SAMPLE_WEIGHT_CHECKS)
@pytest.mark.parametrize(
    "estimator",
    [e for e in ESTIMATORS if _float32_by_default(e)],
    ids=lambda e: type(e).__name__,
)
def test_sample_weight_equivalence_in_float64(estimator, check_name):
    from sklearn.utils import estimator_checks, get_tags

    if "sparse" in check_name and not get_tags(estimator).input_tags.sparse:
        pytest.skip("takes no sparse input (scikit-learn does not run this check)")
    params = {"dtype": "float64", **CHECK_PARAMS[check_name]}
    params = {k: v for k, v in params.items() if k in estimator.get_params()}
    estimator = clone(estimator).set_params(**params)
    getattr(estimator_checks, check_name)(type(estimator).__name__, estimator)
