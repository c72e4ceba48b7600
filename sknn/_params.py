"""The parameters every network estimator shares: their names, their constraints, and
how a concrete estimator hands them to :class:`~sknn.base.BaseNeuralNet`, which stores
them in one place (as scikit-learn's MLPs do with ``BaseMultilayerPerceptron``).

Their documentation is composed from the same list (``sknn/estimators/_docs.py``);
``tests/test_parameters.py`` keeps every signature, default and docstring in agreement.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from sknn.training import SOLVERS
from sknn.utils._compat import Interval, Options, StrOptions

__all__ = ["SHARED_CONSTRAINTS", "SHARED_PARAMS", "shared_params"]

#: The parameters every network estimator shares, stored by ``BaseNeuralNet.__init__``.
SHARED_PARAMS = (
    "solver",
    "alpha",
    "batch_size",
    "learning_rate",
    "learning_rate_init",
    "power_t",
    "max_iter",
    "shuffle",
    "random_state",
    "tol",
    "verbose",
    "warm_start",
    "momentum",
    "nesterovs_momentum",
    "early_stopping",
    "validation_fraction",
    "beta_1",
    "beta_2",
    "epsilon",
    "n_iter_no_change",
    "max_fun",
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
)


def shared_params(arguments: dict[str, Any]) -> dict[str, Any]:
    """The shared parameters (and the nested ``**kwargs``) among a constructor's
    arguments, for ``super().__init__(**shared_params(locals()))``.

    Concrete estimators list every parameter in their own signature (scikit-learn's
    ``get_params`` reads it), store their own, and hand the shared ones to
    :class:`BaseNeuralNet`, which stores them in one place.

    Examples
    --------
    >>> from sknn._params import SHARED_PARAMS, shared_params
    >>> args = {name: None for name in SHARED_PARAMS}
    >>> sorted(shared_params({**args, "self": 0, "kwargs": {"optimizer__x": 1}}))[:3]
    ['accumulation_steps', 'alpha', 'autocast']
    """
    return {
        **{name: arguments[name] for name in SHARED_PARAMS},
        **arguments.get("kwargs", {}),
    }


#: scikit-learn's declarative checks of the shared parameters
#: (``_parameter_constraints``), run by ``fit`` before anything else.
SHARED_CONSTRAINTS: dict = {
    "solver": [StrOptions(set(SOLVERS))],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [
        StrOptions({"auto"}),
        Interval(Integral, 1, None, closed="left"),
    ],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [
        Interval(Integral, 1, None, closed="left"),
        Options(Real, {np.inf}),
    ],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "device": [str, torch.device],
    "dtype": [StrOptions({"auto", "float32", "float64"})],
    "callbacks": [list, tuple, None],
    "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    "optimizer": [callable, None],
    "criterion": [callable, None],
    "data_placement": [StrOptions({"auto", "device", "stream"})],
    "memory_budget": [Interval(Integral, 1, None, closed="left"), None],
    "autocast": [StrOptions({"bfloat16", "float16"}), None],
    "accumulation_steps": [Interval(Integral, 1, None, closed="left")],
    "compile": ["boolean", dict],
    "loader_kwargs": [dict, None],
    "scoring": [str, callable, list, tuple, dict, None],
}
