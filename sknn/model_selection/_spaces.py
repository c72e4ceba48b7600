"""Default Optuna search spaces for sknn estimators, and the tuple encoding they use.

Optuna stores categorical choices as JSON primitives (``None``, ``bool``, ``int``,
``float``, ``str``), so a choice of layer sizes is written as the string form of a
tuple, ``"(128, 64)"``; :func:`decode_params` turns it back into ``(128, 64)`` before
it reaches the estimator, so ``best_params_`` always holds valid estimator parameters.

To give a new estimator family a default space, add an entry to ``_ARCHITECTURE``
(estimator class name -> function returning its architecture distributions); the
training parameters shared by every sknn estimator (learning rate, weight decay,
batch size, dropout) come from :func:`_training_space`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import BaseEstimator, clone

from sknn._nested import accepts_nested

__all__ = ["check_search_space", "decode_params", "default_search_space"]

_INT_TUPLE = re.compile(r"^\(\s*\d+\s*(,\s*\d+\s*)*,?\s*\)$")

MLP_LAYER_CHOICES = (
    "(32,)",
    "(64,)",
    "(128,)",
    "(256,)",
    "(64, 64)",
    "(128, 64)",
    "(128, 128)",
    "(256, 128)",
)


def decode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn Optuna-stored values into estimator parameters.

    A string that spells a tuple of non-negative integers, such as ``"(128, 64)"``,
    becomes that tuple (Optuna cannot store tuples as categorical choices); every
    other value is returned unchanged.

    Parameters
    ----------
    params : mapping of str to object
        Parameter values as Optuna sampled them (``trial.params``).

    Returns
    -------
    params : dict
        The same parameters, ready for ``estimator.set_params``.

    Examples
    --------
    >>> from sknn.model_selection import decode_params
    >>> decode_params({"hidden_layer_sizes": "(128, 64)", "alpha": 0.01})
    {'hidden_layer_sizes': (128, 64), 'alpha': 0.01}
    """
    out = {}
    for name, value in params.items():
        if isinstance(value, str) and _INT_TUPLE.match(value):
            value = tuple(int(v) for v in ast.literal_eval(value))
        out[name] = value
    return out


BATCH_SIZES = (32, 64, 128, 256)


def _training_space(
    params: Mapping[str, Any], fit_rows: int | None
) -> dict[str, BaseDistribution]:
    """Optimiser and regularisation parameters shared by every sknn estimator;
    batch sizes capped to the ``fit_rows`` rows a fit trains on."""
    sizes = BATCH_SIZES
    if fit_rows is not None:
        sizes = tuple(sorted({min(size, fit_rows) for size in sizes}))
    space: dict[str, BaseDistribution] = {
        "learning_rate_init": FloatDistribution(1e-4, 1e-1, log=True),
        "alpha": FloatDistribution(1e-6, 1e-1, log=True),
        "batch_size": CategoricalDistribution(list(sizes)),
    }
    if "dropout" in params:
        space["dropout"] = FloatDistribution(0.0, 0.5)
    return space


def _mlp_space(params: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    return {
        "hidden_layer_sizes": CategoricalDistribution(list(MLP_LAYER_CHOICES)),
        "activation": CategoricalDistribution(["relu", "tanh", "gelu"]),
    }


def _cnn_space(params: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    space: dict[str, BaseDistribution] = {}
    if "channels" in params:
        space["channels"] = CategoricalDistribution(
            ["(16,)", "(32,)", "(16, 32)", "(32, 64)"]
        )
    if "kernel_size" in params:
        space["kernel_size"] = CategoricalDistribution([3, 5])
    return space


def _rnn_space(params: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    space: dict[str, BaseDistribution] = {}
    if "hidden_size" in params:
        space["hidden_size"] = IntDistribution(16, 256, log=True)
    if "num_layers" in params:
        space["num_layers"] = IntDistribution(1, 3)
    if "cell" in params:
        space["cell"] = CategoricalDistribution(["lstm", "gru"])
    if "pooling" in params:
        space["pooling"] = CategoricalDistribution(["last", "mean", "max"])
    return space


# Estimator class name -> architecture distributions (training ones are added to all).
_ARCHITECTURE: dict[str, Callable[[Mapping[str, Any]], dict[str, BaseDistribution]]] = {
    "MLPClassifier": _mlp_space,
    "MLPRegressor": _mlp_space,
    "CNNClassifier": _cnn_space,
    "CNNRegressor": _cnn_space,
    "RNNClassifier": _rnn_space,
    "RNNRegressor": _rnn_space,
    "NeuralNetClassifier": lambda params: {},
    "NeuralNetRegressor": lambda params: {},
}


def _tabular_space(
    params: Mapping[str, Any], fit_rows: int | None
) -> dict[str, BaseDistribution]:
    """TabularClassifier / TabularRegressor: modelled on RealMLP's HPO space
    (Holzmüller et al., 2024), which searches the recipe's elements themselves."""
    space: dict[str, BaseDistribution] = {
        "learning_rate_init": FloatDistribution(2e-2, 3e-1, log=True),
        "hidden_layer_sizes": CategoricalDistribution(list(TABULAR_LAYER_CHOICES)),
        "activation": CategoricalDistribution(["relu", "selu", "mish"]),
        "numeric_embedding": CategoricalDistribution(
            [None, "periodic", "piecewise_linear"]
        ),
        "frequency_scale": FloatDistribution(0.05, 0.5, log=True),
        "feature_scaling": CategoricalDistribution([True, False]),
        "dropout": CategoricalDistribution([0.0, 0.15, 0.3]),
        "weight_decay": CategoricalDistribution([0.0, 0.02]),
        "scaling": CategoricalDistribution(["robust", "quantile"]),
    }
    if "label_smoothing" in params:
        space["label_smoothing"] = CategoricalDistribution([0.0, 0.1])
    return space


TABULAR_LAYER_CHOICES = (
    "(256, 256)",
    "(256, 256, 256)",
    "(512,)",
    "(64, 64, 64, 64, 64)",
)

# Estimator class name -> its whole space (the training parameters included).
_FULL_SPACES: dict[
    str, Callable[[Mapping[str, Any], int | None], dict[str, BaseDistribution]]
] = {"TabularClassifier": _tabular_space, "TabularRegressor": _tabular_space}


def _final_step(estimator: BaseEstimator) -> tuple[str, BaseEstimator]:
    """The estimator whose space applies and the parameter prefix that reaches it."""
    steps = getattr(estimator, "steps", None)
    if steps and hasattr(estimator, "named_steps"):
        name, last = steps[-1]
        prefix, inner = _final_step(last)
        return f"{name}__{prefix}", inner
    return "", estimator


def _fit_rows(estimator: BaseEstimator, n_samples: int) -> int:
    """Rows a fit on ``n_samples`` rows trains on: less the validation split of
    early stopping (or of callbacks that monitor a validation score)."""
    params = estimator.get_params(deep=False)
    splits = params.get("early_stopping") and params.get("solver") != "lbfgs"
    splits = splits or any(
        getattr(cb, "requires_validation", False)
        for cb in params.get("callbacks") or ()
    )
    fraction = params.get("validation_fraction")
    if splits and fraction:
        n_samples -= int(np.ceil(fraction * n_samples))
    return max(1, n_samples)


def default_search_space(
    estimator: BaseEstimator, *, n_samples: int | None = None
) -> dict[str, BaseDistribution]:
    """The documented default Optuna search space of an sknn estimator.

    The space is chosen by the type of ``estimator`` (or of the last step of a
    :class:`~sklearn.pipeline.Pipeline`, with its ``step__`` prefix):

    Every sknn estimator
        ``learning_rate_init``: log-uniform in [1e-4, 1e-1];
        ``alpha`` (L2 weight decay): log-uniform in [1e-6, 1e-1];
        ``batch_size``: one of 32, 64, 128, 256, each capped to the rows a fit
        trains on when ``n_samples`` is given (so that no batch is larger than
        the data);
        ``dropout`` (where the estimator has it): uniform in [0, 0.5].
    MLPClassifier, MLPRegressor
        ``hidden_layer_sizes``: one of (32,), (64,), (128,), (256,), (64, 64),
        (128, 64), (128, 128), (256, 128) (stored in the study as strings such as
        ``"(128, 64)"``, see :func:`decode_params`);
        ``activation``: one of "relu", "tanh", "gelu".
    CNNClassifier, CNNRegressor
        ``channels``: one of (16,), (32,), (16, 32), (32, 64);
        ``kernel_size``: 3 or 5 (each where the estimator has the parameter).
    RNNClassifier, RNNRegressor
        ``hidden_size``: log-uniform integer in [16, 256]; ``num_layers``: 1 to 3;
        ``cell``: "lstm" or "gru"; ``pooling``: "last", "mean" or "max" (each where
        the estimator has the parameter).
    TabularClassifier, TabularRegressor (instead of the spaces above; modelled on
    RealMLP's HPO space)
        ``learning_rate_init``: log-uniform in [0.02, 0.3];
        ``hidden_layer_sizes``: one of (256, 256), (256, 256, 256), (512,),
        (64, 64, 64, 64, 64); ``activation``: "relu", "selu" or "mish";
        ``numeric_embedding``: None, "periodic" or "piecewise_linear";
        ``frequency_scale``: log-uniform in [0.05, 0.5]; ``feature_scaling``: True
        or False; ``dropout``: 0, 0.15 or 0.3; ``weight_decay``: 0 or 0.02;
        ``scaling``: "robust" or "quantile"; ``label_smoothing`` (classifier): 0 or
        0.1.

    The number of epochs (``max_iter``) is not searched: it is the budget that
    pruning cuts short.

    Parameters
    ----------
    estimator : estimator instance
        An sknn estimator, or a Pipeline ending in one.
    n_samples : int or None, default=None
        Rows each fit of the search sees (:class:`OptunaSearchCV` passes its
        smallest training fold). The batch sizes are capped to the rows a fit
        trains on: ``n_samples`` less early stopping's validation split.
        ``None``: no cap.

    Returns
    -------
    space : dict of str to optuna.distributions.BaseDistribution
        Parameter names (as ``set_params`` takes them) and their distributions.

    Raises
    ------
    ValueError
        If there is no default space for this estimator type.

    Examples
    --------
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import default_search_space
    >>> sorted(default_search_space(MLPClassifier()))
    ['activation', 'alpha', 'batch_size', 'dropout', 'hidden_layer_sizes', 'learning_rate_init']
    >>> default_search_space(MLPClassifier(), n_samples=100)["batch_size"].choices
    (32, 64, 100)
    """
    prefix, final = _final_step(estimator)
    from sknn.base import BaseNeuralNet

    arch = full = None
    if isinstance(final, BaseNeuralNet):
        for cls in type(final).__mro__:
            full = _FULL_SPACES.get(cls.__name__)
            arch = _ARCHITECTURE.get(cls.__name__)
            if arch is not None or full is not None:
                break
    params = final.get_params(deep=False)
    rows = None if n_samples is None else _fit_rows(final, int(n_samples))
    if full is not None:
        return {prefix + name: dist for name, dist in full(params, rows).items()}
    if arch is None:
        raise ValueError(
            f"There is no default search space for {type(final).__name__}; pass "
            "param_distributions, a dict of parameter names to Optuna distributions."
        )
    space = {**arch(params), **_training_space(params, rows)}
    return {prefix + name: dist for name, dist in space.items()}


def check_search_space(
    estimator: BaseEstimator, space: Mapping[str, Any]
) -> dict[str, BaseDistribution]:
    """Check a search space against an estimator, before any trial runs.

    Every name must be a parameter of ``estimator`` (``step__param`` in a
    Pipeline), every value an Optuna distribution, and the ends of each
    distribution (each choice of a categorical one) must be accepted by the
    estimator's parameter validation.

    Parameters
    ----------
    estimator : estimator instance
        The estimator to tune.
    space : mapping of str to optuna.distributions.BaseDistribution
        The search space.

    Returns
    -------
    space : dict
        The same space, as a dict.

    Raises
    ------
    ValueError
        Naming the parameter and the problem.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection._spaces import check_search_space
    >>> space = {"hidden_layer_sizes": FloatDistribution(1, 5)}
    >>> check_search_space(MLPClassifier(), space)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The distribution FloatDistribution(...) of 'hidden_layer_sizes' cannot apply: ...
    """
    space = dict(space)
    if not space:
        raise ValueError("param_distributions is empty: there is nothing to tune.")
    valid = estimator.get_params(deep=True)
    for name, dist in space.items():
        if not isinstance(dist, BaseDistribution):
            raise ValueError(
                f"param_distributions[{name!r}] must be an Optuna distribution "
                f"(optuna.distributions.*), got {type(dist).__name__}."
            )
        if name not in valid and not accepts_nested(estimator, name):
            raise ValueError(
                f"Invalid parameter {name!r} for estimator "
                f"{type(estimator).__name__}. Valid parameters are: {sorted(valid)!r}."
            )
        ends = (
            list(dist.choices)
            if isinstance(dist, CategoricalDistribution)
            else [dist.low, dist.high]
        )
        for value in ends:
            _check_value(estimator, name, dist, value)
    return space


def _check_value(base: BaseEstimator, name: str, dist, value) -> None:
    """Raise if ``value`` (a point of ``dist``) is not a valid ``name`` parameter."""
    est = clone(base).set_params(**decode_params({name: value}))
    for target in [est, *est.get_params(deep=True).values()]:
        if isinstance(target, BaseEstimator) and hasattr(
            type(target), "_parameter_constraints"
        ):
            try:
                target._validate_params()
            except ValueError as exc:
                raise ValueError(
                    f"The distribution {dist} of {name!r} cannot apply: its value "
                    f"{value!r} is rejected by {type(target).__name__}: {exc}"
                ) from exc
