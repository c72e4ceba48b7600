"""Optimisers by name, with the fastest kernels torch offers, and learning-rate schedules."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from sknn.utils._compat import optimizer_speed_kwargs

#: Solver names accepted by every sknn estimator, mapped to ``torch.optim`` classes.
SOLVERS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "radam": "RAdam",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "lbfgs": "LBFGS",
}


def split_decay_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Split parameters into weights (decayed) and biases / norms (not decayed).

    This is scikit-learn's convention: ``alpha`` penalises ``coefs_``, never
    ``intercepts_``. Frozen parameters (``requires_grad=False``) are left out.
    """
    decay, no_decay = [], []
    for p in module.parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(
    solver: str,
    params: Iterable,
    *,
    lr: float,
    device: torch.device,
    momentum: float = 0.9,
    nesterov: bool = True,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    max_fun: int = 15000,
) -> torch.optim.Optimizer:
    """Create the optimiser for ``solver``.

    Parameters
    ----------
    solver : str
        A key of :data:`SOLVERS`.
    params : iterable
        Parameters or parameter groups (see :func:`split_decay_groups`).
    lr : float
        Initial learning rate.
    device : torch.device
        Device of the parameters; picks fused or foreach kernels.
    momentum, nesterov : float, bool
        For ``"sgd"`` (momentum also for ``"rmsprop"``).
    betas, eps : tuple, float
        For the Adam family (``eps`` also for RMSprop and Adagrad).
    max_fun : int
        Maximum function evaluations per ``"lbfgs"`` step.

    Returns
    -------
    torch.optim.Optimizer

    Examples
    --------
    >>> import torch
    >>> from sknn.training import build_optimizer
    >>> p = [torch.nn.Parameter(torch.zeros(2))]
    >>> type(build_optimizer("adam", p, lr=1e-3, device=torch.device("cpu"))).__name__
    'Adam'
    """
    try:
        cls_name = SOLVERS[solver]
    except KeyError:
        raise ValueError(
            f"Unknown solver {solver!r}; choose from {sorted(SOLVERS)}."
        ) from None
    cls = getattr(torch.optim, cls_name)
    if solver == "lbfgs":
        return cls(
            params,
            lr=lr,
            max_iter=1,
            max_eval=max_fun,
            history_size=10,
            line_search_fn="strong_wolfe",
        )
    kwargs: dict = {"lr": lr}
    if solver == "sgd":
        kwargs.update(momentum=momentum, nesterov=nesterov and momentum > 0)
    elif solver in ("adam", "adamw", "nadam", "radam"):
        kwargs.update(betas=betas, eps=eps)
    elif solver == "rmsprop":
        kwargs.update(momentum=momentum, eps=eps)
    elif solver == "adagrad":
        kwargs.update(eps=eps)
    kwargs.update(optimizer_speed_kwargs(cls_name, device))
    try:
        return cls(params, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        kwargs.pop("fused", None)
        kwargs.pop("foreach", None)
        return cls(params, **kwargs)


class LRSchedule:
    """scikit-learn's learning-rate schedules, applied once per epoch.

    ``"constant"`` keeps ``learning_rate_init``; ``"invscaling"`` sets
    ``lr = learning_rate_init / (t + 1) ** power_t`` with ``t`` the number of training
    samples seen; ``"adaptive"`` divides the rate by 5 each time the monitored quantity
    stops improving for ``n_iter_no_change`` epochs, and stops training once it falls
    below ``1e-6``.
    """

    def __init__(self, kind: str, lr_init: float, power_t: float = 0.5) -> None:
        self.kind = kind
        self.lr_init = lr_init
        self.power_t = power_t

    @staticmethod
    def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
        """Set the learning rate of every parameter group."""
        for group in optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr

    def epoch_end(self, optimizer: torch.optim.Optimizer, t: int) -> None:
        """Update the rate after an epoch in which ``t`` samples have been seen in all."""
        if self.kind == "invscaling":
            self.set_lr(optimizer, self.lr_init / (t + 1) ** self.power_t)

    def on_plateau(self, optimizer: torch.optim.Optimizer) -> bool:
        """React to a plateau; return True when training should go on."""
        if self.kind != "adaptive":
            return False
        lr = float(optimizer.param_groups[0]["lr"])
        if lr <= 1e-6:
            return False
        self.set_lr(optimizer, lr / 5.0)
        return True
