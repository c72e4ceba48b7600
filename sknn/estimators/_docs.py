"""Shared docstring pieces: parameter and attribute entries picked by name.

The entries come from the MLP estimators' docstrings, so a shared parameter is
documented in one place only.
"""

from __future__ import annotations

from sknn.estimators.mlp import _COMMON_ATTRS, _COMMON_DOC


def _entries(text: str) -> dict[str, str]:
    """Split a numpydoc section into ``{name: entry text}``."""
    entries: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        is_header = line.startswith("    ") and not line.startswith("     ")
        if is_header and " : " in line:
            name = line.strip().split(" : ")[0]
            entries[name] = line
        elif is_header:
            name = None
        elif name is not None:
            entries[name] += line
    return entries


_PARAMS = _entries(_COMMON_DOC)
_ATTRS = _entries(_COMMON_ATTRS)

# The CNN and RNN estimators are no scikit-learn drop-ins: they keep torch's schedule
# and momentum semantics and train in float32 by default. Their entries differ from
# the MLPs' here.
_PARAMS.update(
    _entries(
        """
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule, applied to every stochastic solver. ``"adaptive"``
        divides the rate by 5 when ``n_iter_no_change`` epochs bring no ``tol``
        improvement, until it falls below 1e-6.
    momentum : float, default=0.9
        Momentum for ``"sgd"`` (and ``"rmsprop"``), as in ``torch.optim.SGD``.
    dtype : {"float32", "float64"}, default="float32"
        Floating precision of the weights and of the data on the device (inputs of
        any numeric dtype are accepted and converted).
"""
    )
)


def params(*names: str) -> str:
    """The shared entries of the ``Parameters`` section for ``names``, in order.

    Examples
    --------
    >>> from sknn.estimators._docs import params
    >>> params("shuffle").split()[:3]
    ['shuffle', ':', 'bool,']
    """
    return "".join(_PARAMS.get(n, "") for n in names)


def attrs(*names: str) -> str:
    """The shared entries of the ``Attributes`` section for ``names``, in order.

    Examples
    --------
    >>> from sknn.estimators._docs import attrs
    >>> attrs("n_iter_").split()[:3]
    ['n_iter_', ':', 'int']
    """
    return "".join(_ATTRS.get(n, "") for n in names)


def engine_params(
    learning_rate_init: str, max_iter: str, batch_size: str | None = None
) -> str:
    """The engine's parameter entries, with those whose defaults differ per estimator
    (``batch_size`` is the shared entry unless given).

    Examples
    --------
    >>> from sknn.estimators._docs import engine_params
    >>> text = engine_params("", "    max_iter : int, default=5")
    >>> "max_iter : int, default=5" in text
    True
    """
    return (
        params("solver", "alpha")
        + (params("batch_size") if batch_size is None else batch_size)
        + params("learning_rate")
        + learning_rate_init
        + params("power_t")
        + max_iter
        + params(
            "shuffle",
            "random_state",
            "tol",
            "verbose",
            "warm_start",
            "momentum",
            "nesterovs_momentum",
            "early_stopping",
            "validation_fraction",
            "beta_1, beta_2, epsilon",
            "n_iter_no_change",
            "max_fun",
        )
    )


#: Parameters after the estimator-specific ones.
TAIL_PARAMS = params(
    "device",
    "dtype",
    "callbacks",
    "scoring",
    "n_threads",
    "optimizer",
    "criterion",
    "data_placement",
    "memory_budget",
    "autocast",
    "accumulation_steps",
    "compile",
    "loader_kwargs",
    "**kwargs",
)

#: Fitted attributes every network estimator has.
FIT_ATTRS = attrs(
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "history_",
    "n_iter_",
    "t_",
    "n_outputs_",
    "out_activation_",
    "n_features_in_",
    "feature_names_in_",
    "device_",
    "callbacks_",
    "stop_reason_",
)
