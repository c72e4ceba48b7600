"""A user's own optimiser and parameter groups, and the conflicts of a user's settings.

An estimator's ``criterion`` becomes the engine's loss in
:mod:`sknn.training.user_loss` (:class:`UserLoss`, re-exported here); its ``optimizer`` (any
``torch.optim.Optimizer`` class, or a factory ``optimizer(params, lr=..., **kw)``) and
``optimizer__param_groups`` are built by :func:`make_optimizer` from an
:class:`OptimizerSpec`, and :func:`check_custom_params` refuses settings that say two
things at once. Nothing here reads an estimator: the fit plan (:mod:`sknn.plan`)
passes the values.
"""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sknn.training.optim import build_optimizer, split_decay_groups
from sknn.training.user_loss import UserLoss, callable_name, loss_family
from sknn.utils._compat import optimizer_speed_kwargs

__all__ = [
    "OptimizerSpec",
    "UserLoss",
    "check_custom_params",
    "loss_family",
    "make_optimizer",
]

#: ``optimizer__`` keys that scikit-learn-named parameters already set for ``solver``.
SOLVER_KEYS = {
    "lr": "learning_rate_init",
    "momentum": "momentum",
    "nesterov": "nesterovs_momentum",
    "betas": "beta_1 / beta_2",
    "eps": "epsilon",
    "weight_decay": "alpha",
}
#: scikit-learn-named parameters that only configure a ``solver``, and their defaults.
SOLVER_PARAMS = {
    "momentum": 0.9,
    "nesterovs_momentum": True,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
}


@dataclass(frozen=True)
class OptimizerSpec:
    """What builds a stochastic solver's optimiser, in engine terms.

    Parameters
    ----------
    solver : str
        A name of :data:`~sknn.training.SOLVERS` (``"adam"`` when ``optimizer`` is
        given).
    optimizer : torch.optim.Optimizer class, callable or None, default=None
        Replaces ``solver``; built with ``lr`` and ``options``.
    options : dict, default={}
        The nested ``optimizer__*`` options (``param_groups`` and
        ``weight_decay`` included), unprefixed.
    solver_params : dict, default={}
        The scikit-learn-named solver parameters by name (``momentum``,
        ``nesterovs_momentum``, ``beta_1``, ``beta_2``, ``epsilon``); a missing one
        is its default (:data:`SOLVER_PARAMS`).

    Examples
    --------
    >>> from sknn.training.custom import OptimizerSpec
    >>> OptimizerSpec("sgd", solver_params={"momentum": 0.5}).param("momentum")
    0.5
    """

    solver: str
    optimizer: Any = None
    options: dict = field(default_factory=dict)
    solver_params: dict = field(default_factory=dict)

    def param(self, name: str) -> Any:
        """A solver parameter's value (its default when not given)."""
        return self.solver_params.get(name, SOLVER_PARAMS[name])

    @property
    def weight_decay_option(self) -> bool:
        """Whether ``optimizer__weight_decay`` replaces ``alpha``."""
        return "weight_decay" in self.options


def check_custom_params(
    spec: OptimizerSpec,
    *,
    criterion: Any = None,
    criterion_options: dict | None = None,
    loss: str | None = None,
    alpha_is_default: bool = True,
    alpha: float | None = None,
) -> None:
    """Refuse settings that conflict; called at the start of ``fit``.

    Parameters
    ----------
    spec : OptimizerSpec
        The solver, optimiser and their options.
    criterion : torch loss class, instance, callable or None, default=None
        The user's loss.
    criterion_options : dict, default=None
        The nested ``criterion__*`` options, unprefixed.
    loss : str or None, default=None
        A regressor's named ``loss`` (``None`` for classifiers).
    alpha_is_default, alpha : bool, float
        Whether ``alpha`` is left at its default, and its value (for the message).

    Raises
    ------
    ValueError
        Naming both parameters and which one to use.

    Examples
    --------
    >>> from sknn.training.custom import OptimizerSpec, check_custom_params
    >>> check_custom_params(OptimizerSpec("sgd", options={"momentum": 0.5}))
    Traceback (most recent call last):
    ...
    ValueError: optimizer__momentum duplicates momentum for solver='sgd': set momentum instead.
    """
    opt_kw = spec.options
    optimizer = spec.optimizer
    if "lr" in opt_kw:
        raise ValueError(
            "optimizer__lr duplicates learning_rate_init, which every learning-rate "
            "schedule starts from: set learning_rate_init instead (per-group rates go "
            "in optimizer__param_groups)."
        )
    if optimizer is not None:
        if spec.solver != "adam":
            raise ValueError(
                f"solver={spec.solver!r} and optimizer={callable_name(optimizer)} both name the "
                "optimiser: leave solver at its default when passing optimizer."
            )
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.LBFGS):
            raise ValueError(
                "optimizer=LBFGS needs the full-batch loop: use solver='lbfgs'."
            )
        for param, default in SOLVER_PARAMS.items():
            value = spec.param(param)
            if value != default:
                raise ValueError(
                    f"{param}={value!r} configures solver={spec.solver!r}, not "
                    f"optimizer={callable_name(optimizer)}: pass its own option as "
                    "optimizer__<name> instead."
                )
    else:
        for key, param in SOLVER_KEYS.items():
            if key in opt_kw and key != "weight_decay":
                raise ValueError(
                    f"optimizer__{key} duplicates {param} for solver={spec.solver!r}: "
                    f"set {param} instead."
                )
    if "weight_decay" in opt_kw and not alpha_is_default:
        raise ValueError(
            f"optimizer__weight_decay and alpha={alpha!r} both set the L2 "
            "penalty: use one (alpha is scaled as in scikit-learn, "
            "optimizer__weight_decay is the optimiser's own)."
        )
    if spec.solver == "lbfgs" and opt_kw:
        raise ValueError(
            "optimizer__ options do not apply to solver='lbfgs' (scikit-learn's "
            "full-batch L-BFGS); use a stochastic solver or an optimizer class."
        )
    crit_kw = criterion_options or {}
    if crit_kw and criterion is None:
        raise ValueError(
            f"criterion__{next(iter(crit_kw))} is set but criterion is None: pass the "
            "loss class as criterion."
        )
    if criterion is not None and loss not in (None, "squared_error"):
        raise ValueError(
            f"loss={loss!r} and criterion={callable_name(criterion)} both name the loss: "
            "leave loss at its default when passing criterion."
        )


def _groups(
    module: nn.Module, spec: list | None, weight_decay: float, lr: float
) -> list[dict]:
    """Parameter groups: ``spec``'s ``(pattern, options)`` pairs, then the rest.

    Parameter names are matched with :func:`fnmatch.fnmatchcase` against
    ``module.named_parameters()``; the first matching pattern wins. Within each
    group weights are decayed and biases / norms are not, unless the options give
    ``weight_decay`` (then it applies to the whole group). A group's ``lr`` is kept
    relative to ``learning_rate_init`` (``lr_scale``) so that schedules keep the
    ratio.
    """
    if not spec:
        return split_decay_groups(module, weight_decay)
    if not isinstance(spec, (list, tuple)) or not all(
        isinstance(s, (list, tuple))
        and len(s) == 2
        and isinstance(s[0], str)
        and isinstance(s[1], dict)
        for s in spec
    ):
        raise ValueError(
            "optimizer__param_groups must be a list of (pattern, options) pairs, "
            "e.g. [('body.*', {'lr': 1e-4})]; got "
            f"{spec!r}."
        )
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    taken: set[str] = set()
    matched: list[tuple[dict, list]] = []
    for pattern, options in spec:
        members = [
            (n, p)
            for n, p in named
            if n not in taken and fnmatch.fnmatchcase(n, pattern)
        ]
        if not members:
            raise ValueError(
                f"optimizer__param_groups pattern {pattern!r} matches no trainable "
                f"parameter; the names are {[n for n, _ in named]}."
            )
        taken.update(n for n, _ in members)
        matched.append(({**options, "pattern": pattern}, [p for _, p in members]))
    rest = [p for n, p in named if n not in taken]
    groups = _split(rest, weight_decay)
    for options, params in matched:
        if "lr" in options:
            lr_group = float(options.pop("lr"))
            if not lr_group > 0:
                raise ValueError(
                    f"A parameter group's lr must be positive; got {lr_group!r}."
                )
            options["lr_scale"] = lr_group / lr
            options["lr"] = lr_group
        if "weight_decay" in options:
            groups.append({"params": params, **options})
        else:
            for g in _split(params, weight_decay):
                groups.append({**g, **options})
    return groups


def _split(params: list, weight_decay: float) -> list[dict]:
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    out = []
    if decay:
        out.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        out.append({"params": no_decay, "weight_decay": 0.0})
    return out


def make_optimizer(
    spec: OptimizerSpec,
    module: nn.Module,
    *,
    weight_decay: float,
    lr: float,
    device: torch.device,
) -> torch.optim.Optimizer:
    """The optimiser of a stochastic solver: ``solver`` or ``optimizer``, grouped.

    Parameters
    ----------
    spec : OptimizerSpec
        The solver or optimiser, the solver's parameters and the nested
        ``optimizer__*`` options.
    module : torch.nn.Module
        The network.
    weight_decay : float
        The decay of the weight tensors (``alpha`` scaled, or
        ``optimizer__weight_decay``).
    lr : float
        The initial learning rate.
    device : torch.device
        Where the parameters live (picks fused kernels).

    Returns
    -------
    torch.optim.Optimizer

    Examples
    --------
    >>> import torch
    >>> from sknn.training.custom import OptimizerSpec, make_optimizer
    >>> opt = make_optimizer(OptimizerSpec("sgd"), torch.nn.Linear(2, 1),
    ...                      weight_decay=0.0, lr=0.1, device=torch.device("cpu"))
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
    """
    options = dict(spec.options)
    group_spec = options.pop("param_groups", None)
    if "weight_decay" in options:
        weight_decay = float(options.pop("weight_decay"))
    groups = _groups(module, group_spec, weight_decay, lr)
    optimizer = spec.optimizer
    if optimizer is None:
        return build_optimizer(
            spec.solver,
            groups,
            lr=lr,
            device=device,
            momentum=spec.param("momentum"),
            nesterov=spec.param("nesterovs_momentum"),
            betas=(spec.param("beta_1"), spec.param("beta_2")),
            eps=spec.param("epsilon"),
            extra=options,
        )
    kwargs = {"lr": lr, **options}
    if isinstance(optimizer, type):
        speed = optimizer_speed_kwargs(optimizer.__name__, device)
        accepted = inspect.signature(optimizer).parameters
        kwargs = {
            **{k: v for k, v in speed.items() if k in accepted and k not in options},
            **kwargs,
        }
    try:
        built = optimizer(groups, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"optimizer={callable_name(optimizer)} could not be built with {kwargs}: {exc}"
        ) from None
    if not isinstance(built, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer class or a factory returning "
            f"one; {callable_name(optimizer)} returned {type(built).__name__}."
        )
    return built
