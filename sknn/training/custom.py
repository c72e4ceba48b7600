"""A user's own loss, optimiser and parameter groups, and their conflicts.

An estimator's ``criterion`` (a torch loss class, instance or any callable
``criterion(output, target) -> scalar``) becomes a loss function of the engine's
signature ``fn(output, y, w)`` through :class:`UserLoss`; its ``optimizer`` (any
``torch.optim.Optimizer`` class, or a factory ``optimizer(params, lr=..., **kw)``) and
``optimizer__param_groups`` are built by :func:`make_optimizer`, and
:func:`check_custom_params` refuses settings that say two things at once.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sknn.training.losses import weighted_mean
from sknn.training.optim import build_optimizer, split_decay_groups
from sknn.utils._compat import optimizer_speed_kwargs

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


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", type(obj).__name__)


def check_custom_params(est: Any) -> None:
    """Refuse an estimator's settings that conflict; called at the start of ``fit``.

    Raises
    ------
    ValueError
        Naming both parameters and which one to use.
    TypeError
        For a keyword argument that is not a nested parameter.
    """
    est._check_nested_names()
    opt_kw = est._nested("optimizer")
    optimizer = getattr(est, "optimizer", None)
    if "lr" in opt_kw:
        raise ValueError(
            "optimizer__lr duplicates learning_rate_init, which every learning-rate "
            "schedule starts from: set learning_rate_init instead (per-group rates go "
            "in optimizer__param_groups)."
        )
    if optimizer is not None:
        if est.solver != "adam":
            raise ValueError(
                f"solver={est.solver!r} and optimizer={_name(optimizer)} both name the "
                "optimiser: leave solver at its default when passing optimizer."
            )
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.LBFGS):
            raise ValueError(
                "optimizer=LBFGS needs the full-batch loop: use solver='lbfgs'."
            )
        for param, default in SOLVER_PARAMS.items():
            value = getattr(est, param, default)
            if value != default:
                raise ValueError(
                    f"{param}={value!r} configures solver={est.solver!r}, not "
                    f"optimizer={_name(optimizer)}: pass its own option as "
                    "optimizer__<name> instead."
                )
    else:
        for key, param in SOLVER_KEYS.items():
            if key in opt_kw and key != "weight_decay":
                raise ValueError(
                    f"optimizer__{key} duplicates {param} for solver={est.solver!r}: "
                    f"set {param} instead."
                )
    if "weight_decay" in opt_kw:
        default = inspect.signature(type(est)).parameters["alpha"].default
        if est.alpha != default:
            raise ValueError(
                f"optimizer__weight_decay and alpha={est.alpha!r} both set the L2 "
                "penalty: use one (alpha is scaled as in scikit-learn, "
                "optimizer__weight_decay is the optimiser's own)."
            )
    if est.solver == "lbfgs" and opt_kw:
        raise ValueError(
            "optimizer__ options do not apply to solver='lbfgs' (scikit-learn's "
            "full-batch L-BFGS); use a stochastic solver or an optimizer class."
        )
    crit_kw = est._nested("criterion")
    criterion = getattr(est, "criterion", None)
    if crit_kw and criterion is None:
        raise ValueError(
            f"criterion__{next(iter(crit_kw))} is set but criterion is None: pass the "
            "loss class as criterion."
        )
    if criterion is not None and getattr(est, "loss", None) not in (
        None,
        "squared_error",
    ):
        raise ValueError(
            f"loss={est.loss!r} and criterion={_name(criterion)} both name the loss: "
            "leave loss at its default when passing criterion."
        )


def uses_weight_decay_option(est: Any) -> bool:
    """Whether ``optimizer__weight_decay`` replaces ``alpha``."""
    return "weight_decay" in est._nested("optimizer")


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
    est: Any,
    module: nn.Module,
    *,
    weight_decay: float,
    lr: float,
    device: torch.device,
) -> torch.optim.Optimizer:
    """The optimiser of a stochastic solver: ``solver`` or ``optimizer``, grouped.

    Parameters
    ----------
    est : estimator
        Reads ``solver``, ``optimizer``, the solver's parameters and the nested
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
    """
    options = est._nested("optimizer")
    spec = options.pop("param_groups", None)
    if "weight_decay" in options:
        weight_decay = float(options.pop("weight_decay"))
    groups = _groups(module, spec, weight_decay, lr)
    optimizer = getattr(est, "optimizer", None)
    if optimizer is None:
        return build_optimizer(
            est.solver,
            groups,
            lr=lr,
            device=device,
            momentum=est.momentum,
            nesterov=est.nesterovs_momentum,
            betas=(est.beta_1, est.beta_2),
            eps=est.epsilon,
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
            f"optimizer={_name(optimizer)} could not be built with {kwargs}: {exc}"
        ) from None
    if not isinstance(built, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer class or a factory returning "
            f"one; {_name(optimizer)} returned {type(built).__name__}."
        )
    return built


class UserLoss:
    """The engine's loss ``fn(output, y, w)`` around a user's criterion.

    Parameters
    ----------
    criterion : torch loss class, instance or callable
        A class is instantiated with ``kwargs``; an instance is copied; a callable is
        called as ``criterion(output, target, **kwargs)``.
    kwargs : dict
        The ``criterion__*`` options.
    target : {"indices", "logits", "values"}
        What the network's targets are: class indices (multiclass), 0/1 labels to
        compare with one logit per label (binary, multilabel), or values.
    device : torch.device
        Where a loss module's buffers (e.g. class weights) go.
    dtype : torch.dtype
        The network's floating dtype.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.custom import UserLoss
    >>> loss = UserLoss(torch.nn.L1Loss, {}, target="values",
    ...                 device=torch.device("cpu"), dtype=torch.float32)
    >>> loss(torch.zeros(2, 1), torch.ones(2, 1), None).item()
    1.0
    """

    custom = True

    def __init__(
        self,
        criterion: Any,
        kwargs: dict,
        *,
        target: str,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.target = target
        self.name = _name(criterion)
        self.per_sample: Callable | None = None
        if isinstance(criterion, type):
            try:
                self.mean = criterion(**kwargs)
                if "reduction" not in kwargs and _takes(criterion, "reduction"):
                    self.per_sample = criterion(**kwargs, reduction="none")
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"criterion={self.name} could not be built with {kwargs}: {exc}"
                ) from None
        elif isinstance(criterion, nn.Module):
            if kwargs:
                raise ValueError(
                    "criterion__ options need a loss class, not an instance: pass "
                    f"criterion={self.name} (the class)."
                )
            self.mean = copy.deepcopy(criterion)
            if getattr(criterion, "reduction", None) == "mean":
                self.per_sample = copy.deepcopy(criterion)
                self.per_sample.reduction = "none"
        elif callable(criterion):
            self.mean = (
                (lambda out, y: criterion(out, y, **kwargs)) if kwargs else criterion
            )
        else:
            raise TypeError(
                f"criterion must be a torch loss class, a loss instance or a callable "
                f"(output, target) -> scalar; got {type(criterion).__name__}."
            )
        for fn in (self.mean, self.per_sample):
            if isinstance(fn, nn.Module):
                fn.to(device=device, dtype=dtype)

    @property
    def weighted(self) -> bool:
        """Whether per-sample weights (``sample_weight``, ``class_weight``) apply."""
        return self.per_sample is not None

    def _target(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.target == "logits":
            return y.to(out.dtype).reshape(out.shape)
        return y

    def __call__(
        self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None
    ) -> torch.Tensor:
        """The (weighted) loss of a batch."""
        target = self._target(out, y)
        if w is None:
            loss = self.mean(out, target)
        else:
            per = self.per_sample(out, target)
            if per.ndim > 1:
                per = per.reshape(per.shape[0], -1).mean(dim=1)
            if per.ndim != 1 or per.shape[0] != out.shape[0]:
                raise ValueError(
                    f"criterion={self.name} with reduction='none' returned shape "
                    f"{tuple(per.shape)}; sample weights need one loss per row."
                )
            loss = weighted_mean(per, w)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError(
                f"criterion={self.name} must return a scalar tensor; got "
                f"{getattr(loss, 'shape', type(loss).__name__)}."
            )
        return loss


def _takes(cls: type, name: str) -> bool:
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
