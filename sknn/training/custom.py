"""A user's own loss, optimiser and parameter groups, and their conflicts.

An estimator's ``criterion`` (a torch loss class, instance or any callable
``criterion(output, target) -> scalar``) becomes a loss function of the engine's
signature ``fn(output, y, w)`` through :class:`UserLoss`; its ``optimizer`` (any
``torch.optim.Optimizer`` class, or a factory ``optimizer(params, lr=..., **kw)``) and
``optimizer__param_groups`` are built by :func:`make_optimizer` from an
:class:`OptimizerSpec`, and :func:`check_custom_params` refuses settings that say two
things at once. Nothing here reads an estimator: the fit plan (:mod:`sknn.plan`)
passes the values.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

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


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", type(obj).__name__)


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
                f"solver={spec.solver!r} and optimizer={_name(optimizer)} both name the "
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
                    f"optimizer={_name(optimizer)}: pass its own option as "
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
            f"loss={loss!r} and criterion={_name(criterion)} both name the loss: "
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
            f"optimizer={_name(optimizer)} could not be built with {kwargs}: {exc}"
        ) from None
    if not isinstance(built, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer class or a factory returning "
            f"one; {_name(optimizer)} returned {type(built).__name__}."
        )
    return built


# ----------------------------------------------------------------------- the loss
# How each torch classification or regression loss is fed. Families:
#   "class": one class per row among the outputs (logits, class indices); binary
#            targets see the two logits [0, z] of the one logit z, exactly the
#            softmax of two outputs (cross-entropy on them is the logistic loss);
#   "label": each output is its own yes/no label (logits, 0/1 targets);
#   "value": regression (outputs against values).
# and the input a loss expects: raw logits, log-probabilities or probabilities;
# a target in {-1, 1} instead of {0, 1}.
_FAMILIES: dict[Any, tuple[str, str]] = {
    nn.CrossEntropyLoss: ("class", "logits"),
    F.cross_entropy: ("class", "logits"),
    nn.NLLLoss: ("class", "log_proba"),
    F.nll_loss: ("class", "log_proba"),
    nn.MultiMarginLoss: ("class", "logits"),
    F.multi_margin_loss: ("class", "logits"),
    nn.BCEWithLogitsLoss: ("label", "logits"),
    F.binary_cross_entropy_with_logits: ("label", "logits"),
    nn.BCELoss: ("label", "proba"),
    F.binary_cross_entropy: ("label", "proba"),
    nn.MultiLabelSoftMarginLoss: ("label", "logits"),
    F.multilabel_soft_margin_loss: ("label", "logits"),
    nn.SoftMarginLoss: ("label", "signs"),
    F.soft_margin_loss: ("label", "signs"),
    nn.MSELoss: ("value", "values"),
    F.mse_loss: ("value", "values"),
    nn.L1Loss: ("value", "values"),
    F.l1_loss: ("value", "values"),
    nn.SmoothL1Loss: ("value", "values"),
    F.smooth_l1_loss: ("value", "values"),
    nn.HuberLoss: ("value", "values"),
    F.huber_loss: ("value", "values"),
    nn.PoissonNLLLoss: ("value", "values"),
    F.poisson_nll_loss: ("value", "values"),
}
#: Which families serve which targets, and what to use instead.
_SERVES = {
    "class": ("binary", "multiclass"),
    "label": ("binary", "multilabel"),
    "value": ("values",),
}
_INSTEAD = {
    "binary": "torch.nn.CrossEntropyLoss or BCEWithLogitsLoss",
    "multiclass": "torch.nn.CrossEntropyLoss (or NLLLoss, MultiMarginLoss)",
    "multilabel": "torch.nn.BCEWithLogitsLoss (or MultiLabelSoftMarginLoss)",
    "values": "torch.nn.MSELoss, L1Loss or HuberLoss",
}
_WHY = {
    "class": "picks one class per row among the outputs",
    "label": "treats each output as its own yes/no label",
    "value": "is a regression loss (the outputs are compared with values)",
}


#: What a loss of the user's own receives (the custom-training page says the same).
_RECEIVES = {
    "binary": "one logit per row, (n, 1), and 0/1 float targets of that shape",
    "multiclass": "one logit per class, (n, n_classes), and class indices (long)",
    "multilabel": "one logit per label and 0/1 float targets of that shape",
    "values": "the outputs and the targets, (n, n_outputs)",
}


def loss_family(criterion: Any) -> tuple[str, str] | None:
    """How sknn feeds a torch loss: ``(family, input)``, or ``None`` for a loss of
    the user's own (called as it is).

    ``family`` is ``"class"`` (logits and class indices), ``"label"`` (one logit
    per label and 0/1 targets), ``"value"`` (regression) or ``"unsupported"`` (a
    torch loss of another kind: embeddings, rankings, sequences); ``input`` says
    what the loss reads: ``"logits"``, ``"log_proba"``, ``"proba"``, ``"signs"``
    (logits and -1/1 targets) or ``"values"``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.custom import loss_family
    >>> loss_family(torch.nn.NLLLoss), loss_family(torch.nn.BCELoss())
    (('class', 'log_proba'), ('label', 'proba'))
    >>> loss_family(torch.nn.CosineEmbeddingLoss), loss_family(lambda out, y: 0)
    (('unsupported', ''), None)
    """
    if not isinstance(criterion, type):
        if not isinstance(criterion, nn.Module):
            try:
                return _FAMILIES.get(criterion)
            except TypeError:  # an unhashable callable
                return None
        criterion = type(criterion)
    for cls in criterion.__mro__:
        if cls in _FAMILIES:
            return _FAMILIES[cls]
    if issubclass(criterion, nn.modules.loss._Loss) and (
        criterion.__module__.startswith("torch.")
    ):
        return ("unsupported", "")
    return None


def _check_family(name: str, family: tuple[str, str] | None, target: str) -> None:
    """Refuse a torch loss that cannot learn ``target`` with a message saying what
    to use."""
    if family is None or target in _SERVES.get(family[0], ()):
        return
    kind = "regressor" if target == "values" else f"{target} classifier"
    if family[0] == "unsupported":
        raise ValueError(
            f"criterion={name} does not compare a network's outputs with targets "
            f"in a way sknn can feed a {kind}: use {_INSTEAD[target]}, or pass a "
            "callable criterion(output, target) that calls it as you intend."
        )
    raise ValueError(
        f"criterion={name} {_WHY[family[0]]}, which cannot learn the targets of a "
        f"{kind}: use {_INSTEAD[target]}."
    )


class UserLoss:
    """The engine's loss ``fn(output, y, w)`` around a user's criterion.

    torch's own losses are fed the way each expects (see :func:`loss_family`):
    ``CrossEntropyLoss``, ``NLLLoss`` (given log-probabilities) and
    ``MultiMarginLoss`` learn binary targets through the two logits ``[0, z]`` of
    the network's one logit ``z`` (their softmax is its logistic function);
    ``BCELoss`` is given probabilities, ``SoftMarginLoss`` -1/1 targets. A torch
    loss that cannot learn the targets is refused with a message saying what to
    use; a callable or loss class of the user's own receives the raw output and the
    targets as the network sees them.

    Parameters
    ----------
    criterion : torch loss class, instance or callable
        A class is instantiated with ``kwargs``; an instance is copied; a callable is
        called as ``criterion(output, target, **kwargs)``.
    kwargs : dict
        The ``criterion__*`` options.
    target : {"binary", "multiclass", "multilabel", "values"}
        What the network's targets are: 0/1 labels against one logit (binary),
        class indices against one logit per class (multiclass), 0/1 labels against
        one logit per label (multilabel), or values (regression).
    device : torch.device
        Where a loss module's buffers (e.g. class weights) go.
    dtype : torch.dtype
        The network's floating dtype.

    Raises
    ------
    ValueError
        If ``criterion`` is a torch loss that cannot learn ``target``, or cannot be
        built with ``kwargs``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.custom import UserLoss
    >>> loss = UserLoss(torch.nn.L1Loss, {}, target="values",
    ...                 device=torch.device("cpu"), dtype=torch.float32)
    >>> loss(torch.zeros(2, 1), torch.ones(2, 1), None).item()
    1.0
    >>> ce = UserLoss(torch.nn.CrossEntropyLoss, {}, target="binary",
    ...               device=torch.device("cpu"), dtype=torch.float32)
    >>> round(ce(torch.tensor([[2.0]]), torch.tensor([1.0]), None).item(), 4)
    0.1269
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
        family = loss_family(criterion)
        _check_family(self.name, family, target)
        self.family, self.input = family or ("own", "logits")
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
            if family is not None and "reduction" not in kwargs:  # torch's function
                self.per_sample = lambda out, y: criterion(
                    out, y, **kwargs, reduction="none"
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

    def _feed(
        self, out: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss's input and target from the network's output and targets."""
        if self.family == "class":
            if self.target == "binary":  # the two logits whose softmax is sigmoid(z)
                out = torch.cat([torch.zeros_like(out), out], dim=1)
            y = y.reshape(-1).long()
            if self.input == "log_proba":
                out = torch.log_softmax(out, dim=1)
            return out, y
        if self.target in ("binary", "multilabel"):
            y = y.to(out.dtype).reshape(out.shape)
            if self.input == "proba":
                out = torch.sigmoid(out)
            elif self.input == "signs":
                y = 2 * y - 1
        return out, y

    def __call__(
        self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None
    ) -> torch.Tensor:
        """The (weighted) loss of a batch."""
        out, target = self._feed(out, y)
        try:
            per = self.mean(out, target) if w is None else self.per_sample(out, target)
        except torch.OutOfMemoryError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise ValueError(
                f"criterion={self.name} failed on an output of shape "
                f"{tuple(out.shape)} and targets of shape {tuple(target.shape)}: "
                f"{exc} (for {self.target} targets it receives "
                f"{_RECEIVES[self.target]})."
            ) from exc
        if w is None:
            loss = per
        else:
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
