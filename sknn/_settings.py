"""Resource caps on the settings a model file gives an estimator.

:func:`sknn.load` validates a file's parameters with the estimator's own
``_parameter_constraints`` first; the settings that spend the machine's resources
when the loaded estimator predicts or trains again are then held to what this
machine has, and the ones that would run something a file names are refused:

* ``n_threads``: at most the cores this process may use;
* ``loader_kwargs``: the ``DataLoader`` options sknn takes, ``num_workers`` at most
  the cores, ``prefetch_factor`` at most :data:`MAX_PREFETCH`, plain values only
  (``collate_fn`` and ``worker_init_fn`` are code: they come from the caller);
* ``compile``: ``True`` / ``False`` or ``torch.compile``'s ``mode``, ``fullgraph``,
  ``dynamic`` and a built-in ``backend``; other options (compiler paths, inductor
  settings) are refused.

Each refusal is a ``ValueError`` naming the parameter; nothing is loaded.

scikit-learn's constraints take a ``bool`` for an int (``isinstance(True, Integral)``);
:func:`check_no_bool_numbers` refuses it wherever a parameter does not take booleans,
at fit and at load.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from sknn.utils._compat import InvalidParameterError, Options, StrOptions
from sknn.utils.threads import available_cores

#: Batches each ``DataLoader`` worker may load ahead, from a model file.
MAX_PREFETCH = 64
#: The longest ``DataLoader`` ``timeout`` a model file may set, in seconds (a day).
MAX_TIMEOUT = 24 * 3600
#: ``torch.compile`` options a model file may set, and their allowed values.
COMPILE_OPTIONS: dict[str, tuple] = {
    "mode": (
        None,
        "default",
        "reduce-overhead",
        "max-autotune",
        "max-autotune-no-cudagraphs",
    ),
    "fullgraph": (True, False),
    "dynamic": (None, True, False),
    "backend": ("inductor", "eager", "aot_eager"),
}


def _int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _loader_rules(cores: int) -> dict[str, tuple[Any, str]]:
    """Per ``loader_kwargs`` key: a check of its value, and what it must be."""
    return {
        "num_workers": (
            lambda v: _int(v) and 0 <= v <= cores,
            f"an int from 0 to the {cores} cores of this machine",
        ),
        "prefetch_factor": (
            lambda v: v is None or (_int(v) and 1 <= v <= MAX_PREFETCH),
            f"None or an int from 1 to {MAX_PREFETCH}",
        ),
        "batch_size": (lambda v: _int(v) and v >= 1, "a positive int"),
        "timeout": (
            lambda v: (
                isinstance(v, Real)
                and not isinstance(v, bool)
                and 0 <= v <= MAX_TIMEOUT
            ),
            f"a number of seconds from 0 to {MAX_TIMEOUT}",
        ),
        "pin_memory": (lambda v: isinstance(v, bool), "a bool"),
        "persistent_workers": (lambda v: isinstance(v, bool), "a bool"),
        "in_order": (lambda v: isinstance(v, bool), "a bool"),
        "multiprocessing_context": (
            lambda v: v in (None, "spawn", "fork", "forkserver"),
            'None, "spawn", "fork" or "forkserver"',
        ),
    }


def _takes_bool(constraints: list, value: bool) -> bool:
    for c in constraints:
        if c in ("boolean", "verbose", "no_validation") or c in (bool, object):
            return True
        if isinstance(c, Options) and not isinstance(c, StrOptions):
            if value in c.options:
                return True
        elif isinstance(c, type) and c not in (Integral, Real, int, float):
            if isinstance(value, c):
                return True
    return False


def _describe(c: Any) -> str:
    if c is None:
        return "None"
    if c is callable:
        return "a callable"
    if isinstance(c, type):
        return f"an instance of {c.__name__}"
    return str(c)


def check_no_bool_numbers(owner: str, params: dict, constraints: dict) -> None:
    """Refuse ``True`` / ``False`` for a parameter whose constraints take no bool.

    Parameters
    ----------
    owner : str
        The estimator's name (or the file's), for the message.
    params : dict
        Parameter values.
    constraints : dict
        The estimator's ``_parameter_constraints``.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` naming the first parameter refused.

    Examples
    --------
    >>> from sknn import MLPClassifier
    >>> from sknn._settings import check_no_bool_numbers
    >>> rules = MLPClassifier._parameter_constraints
    >>> check_no_bool_numbers("MLPClassifier", {"shuffle": False}, rules)
    >>> check_no_bool_numbers("MLPClassifier", {"n_threads": True}, rules)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n_threads' parameter of MLPClassifier must be an int in the range [1, inf) or None; got True (a bool is not a number).
    """  # noqa: E501
    for key, value in params.items():
        if not isinstance(value, (bool, np.bool_)) or key not in constraints:
            continue
        allowed = constraints[key]
        if not _takes_bool(allowed, bool(value)):
            described = " or ".join(_describe(c) for c in allowed)
            raise InvalidParameterError(
                f"The {key!r} parameter of {owner} must be {described}; got "
                f"{value!r} (a bool is not a number)."
            )


def check_file_settings(name: str, params: dict) -> None:
    """Refuse a model file's settings that exceed this machine or name code.

    Parameters
    ----------
    name : str
        The file's name, for the messages.
    params : dict
        The estimator's parameters as the file gives them (already checked against
        the estimator's ``_parameter_constraints``).

    Raises
    ------
    ValueError
        Naming the first parameter refused.

    Examples
    --------
    >>> from sknn._settings import check_file_settings
    >>> check_file_settings("m.sknn", {"n_threads": 1, "loader_kwargs": None})
    >>> check_file_settings("m.sknn", {"n_threads": 10**6})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'm.sknn' sets n_threads=1000000: a model file may ask for ...
    """
    cores = available_cores()

    def refuse(param: str, value: Any, rule: str) -> ValueError:
        return ValueError(
            f"{name!r} sets {param}={str(value)[:80]}: a model file may ask for "
            f"{rule}. Nothing was loaded."
        )

    n_threads = params.get("n_threads")
    if n_threads is not None and n_threads > cores:
        raise refuse(
            "n_threads", n_threads, f"None or at most the {cores} cores of this machine"
        )
    loader = params.get("loader_kwargs") or {}
    rules = _loader_rules(cores)
    for key, value in loader.items():
        if key not in rules:
            raise refuse(
                f"loader_kwargs[{str(key)[:40]!r}]",
                value,
                f"plain DataLoader options only ({sorted(rules)}); code such as a "
                "collate_fn comes from you",
            )
        check, rule = rules[key]
        if not check(value):
            raise refuse(f"loader_kwargs[{key!r}]", value, rule)
    compile_ = params.get("compile", False)
    if isinstance(compile_, dict):
        for key, value in compile_.items():
            allowed = COMPILE_OPTIONS.get(key)
            if allowed is None or not any(
                value is a or (type(value) is type(a) and value == a) for a in allowed
            ):
                raise refuse(
                    f"compile[{str(key)[:40]!r}]",
                    value,
                    "torch.compile's "
                    + ", ".join(f"{k} in {v}" for k, v in COMPILE_OPTIONS.items())
                    + " only",
                )


__all__ = [
    "COMPILE_OPTIONS",
    "MAX_PREFETCH",
    "MAX_TIMEOUT",
    "check_file_settings",
    "check_no_bool_numbers",
]
