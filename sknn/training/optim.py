"""Optimisers by name, with the fastest kernels torch offers, and learning-rate schedules."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import scipy.optimize
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
    extra: dict | None = None,
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
        Unused: ``"lbfgs"`` runs through :func:`minimize_lbfgs`, which counts
        evaluations itself; the optimiser only holds the parameters.
    extra : dict, default=None
        More options of the optimiser class (``optimizer__amsgrad=True``); they win
        over the speed options (``foreach``, ``fused``).

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
    extra = dict(extra or {})
    speed = {
        k: v
        for k, v in optimizer_speed_kwargs(cls_name, device).items()
        if k not in extra
    }
    try:
        return cls(params, **kwargs, **speed, **extra)
    except (RuntimeError, TypeError, ValueError):
        pass
    try:
        return cls(params, **kwargs, **extra)
    except (RuntimeError, TypeError, ValueError) as exc:
        if not extra:
            raise
        raise ValueError(
            f"solver={solver!r} ({cls_name}) could not be built with the options "
            f"{extra}: {exc}"
        ) from None


class LRSchedule:
    """scikit-learn's learning-rate schedules, applied once per epoch.

    ``"constant"`` keeps ``learning_rate_init``; ``"invscaling"`` sets
    ``lr = learning_rate_init / (t + 1) ** power_t`` with ``t`` the number of training
    samples seen; ``"adaptive"`` divides the rate by 5 each time the monitored quantity
    stops improving for ``n_iter_no_change`` epochs, and stops training once it falls
    below ``1e-6``.

    Parameters
    ----------
    kind : {"constant", "invscaling", "adaptive"}
        The schedule.
    lr_init : float
        The initial rate.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    rate_in_velocity : bool, default=False
        Keep scikit-learn's momentum when the rate changes. scikit-learn's velocity
        holds the rate (``v = momentum * v - lr * grad``): a new rate scales the next
        gradients only. ``torch.optim.SGD``'s buffer holds no rate (``p -= lr * buf``):
        a new rate also rescales the momentum already built. With this flag every
        rate change multiplies SGD's momentum buffers by ``old_lr / new_lr``, which
        makes the two identical. Under a constant rate they are identical anyway.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.optim import LRSchedule
    >>> p = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    >>> p.grad = torch.ones(1); opt.step()
    >>> sched = LRSchedule("invscaling", 0.1, power_t=1.0, rate_in_velocity=True)
    >>> sched.epoch_end(opt, t=1)
    >>> opt.param_groups[0]["lr"], opt.state[p]["momentum_buffer"].item()
    (0.05, 2.0)
    """

    def __init__(
        self,
        kind: str,
        lr_init: float,
        power_t: float = 0.5,
        *,
        rate_in_velocity: bool = False,
    ) -> None:
        self.kind = kind
        self.lr_init = lr_init
        self.power_t = power_t
        self.rate_in_velocity = rate_in_velocity

    @property
    def rescales_momentum(self) -> bool:
        """True when rate changes rescale SGD's momentum buffers (see above)."""
        return self.rate_in_velocity and self.kind != "constant"

    def set_lr(self, optimizer: torch.optim.Optimizer, lr: float) -> None:
        """Set the learning rate of every parameter group.

        A group with an ``lr_scale`` (see ``optimizer__param_groups``) gets ``lr``
        times its scale.
        """
        base = lr
        for group in optimizer.param_groups:
            lr = base * group.get("lr_scale", 1.0)
            old = float(group["lr"])
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
            if self.rate_in_velocity and old != lr and group.get("momentum", 0):
                bufs = [
                    optimizer.state[p]["momentum_buffer"]
                    for p in group["params"]
                    if optimizer.state.get(p, {}).get("momentum_buffer") is not None
                ]
                if bufs:
                    torch._foreach_mul_(bufs, old / lr)

    def epoch_end(self, optimizer: torch.optim.Optimizer, t: int) -> None:
        """Update the rate after an epoch in which ``t`` samples have been seen in all."""
        if self.kind == "invscaling":
            self.set_lr(optimizer, self.lr_init / (t + 1) ** self.power_t)

    def on_plateau(self, optimizer: torch.optim.Optimizer) -> bool:
        """React to a plateau; return True when training should go on."""
        if self.kind != "adaptive":
            return False
        first = optimizer.param_groups[0]
        lr = float(first["lr"]) / first.get("lr_scale", 1.0)
        if lr <= 1e-6:
            return False
        self.set_lr(optimizer, lr / 5.0)
        return True


def minimize_lbfgs(
    params: Iterable[torch.Tensor],
    objective: Callable[[], torch.Tensor],
    *,
    max_iter: int,
    max_fun: int,
    gtol: float,
    callback: Callable[[float], bool] | None = None,
) -> scipy.optimize.OptimizeResult:
    """scikit-learn's L-BFGS: scipy's L-BFGS-B over torch parameters, in place.

    scikit-learn's MLP hands its loss and gradient to ``scipy.optimize.minimize``
    with ``method="L-BFGS-B"``, ``maxiter=max_iter``, ``maxfun=max_fun`` (function
    evaluations, line searches included) and ``gtol=tol``. This does the same with
    the loss and gradient from torch autograd, so iterations, stopping and the
    warnings that follow are scikit-learn's.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The parameters (leaf tensors), updated in place; ends at the solution.
    objective : callable
        ``objective() -> scalar tensor``: evaluates the loss at the current parameter
        values and fills their ``.grad`` (it calls ``backward``).
    max_iter, max_fun : int
        Maximum iterations and function evaluations.
    gtol : float
        Stop when the largest gradient component is at most ``gtol``.
    callback : callable, optional
        ``callback(loss) -> bool`` after each iteration, with the parameters at that
        iteration's point; returning True stops the run.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``nit`` iterations, ``nfev`` evaluations, ``status`` (0: converged; 1: an
        iteration or evaluation limit; 2: the line search failed; 99: ``callback``
        stopped it), ``message``, ``fun``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.optim import minimize_lbfgs
    >>> w = torch.zeros(2, requires_grad=True)
    >>> def objective():
    ...     w.grad = None
    ...     loss = ((w - torch.tensor([1.0, -2.0])) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> res = minimize_lbfgs([w], objective, max_iter=50, max_fun=100, gtol=1e-8)
    >>> res.status, w.detach().round(decimals=4).tolist()
    (0, [1.0, -2.0])
    """
    params = list(params)
    sizes = [p.numel() for p in params]

    def set_flat(x: np.ndarray) -> None:
        flat = torch.from_numpy(np.ascontiguousarray(x)).to(params[0].device)
        with torch.no_grad():
            for p, chunk in zip(params, flat.split(sizes)):
                p.copy_(chunk.view_as(p))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        set_flat(x)
        loss = objective()
        grad = torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in params
            ]
        )
        return float(loss.detach()), grad.to("cpu", torch.float64).numpy()

    def on_iteration(intermediate_result) -> None:
        if callback is None:
            return
        set_flat(intermediate_result.x)
        if callback(float(intermediate_result.fun)):
            raise StopIteration

    with torch.no_grad():
        x0 = torch.cat([p.reshape(-1) for p in params]).to("cpu", torch.float64)
    result = scipy.optimize.minimize(
        fun,
        x0.numpy(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxfun": max_fun, "gtol": gtol},
        callback=on_iteration,
    )
    set_flat(result.x)
    return result
