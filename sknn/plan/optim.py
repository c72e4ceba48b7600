"""The fit plan's optimisation steps: batch size, scikit-learn's L2 arithmetic, the
optimiser (built, or continued by ``partial_fit``), the learning-rate schedule, the
random streams and the loop's settings."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sknn._archive import load_optimizer_into
from sknn.finetune import FineTuneOptions
from sknn.training import TrainConfig, build_optimizer
from sknn.training.custom import OptimizerSpec, make_optimizer
from sknn.training.optim import LRSchedule
from sknn.utils.random import RNGScope

__all__ = [
    "Continued",
    "Decay",
    "batch_size",
    "decay",
    "optimizer",
    "schedule",
    "streams",
    "train_config",
]


@dataclass(frozen=True)
class Continued:
    """What ``partial_fit`` continues from the previous call (all ``None`` after a
    fresh network).

    Attributes
    ----------
    optimizer : torch.optim.Optimizer or None
        The optimiser of the previous call.
    optimizer_state : dict or None
        A loaded (or unpickled) estimator's optimiser state.
    shuffle_state : ndarray or None
        The shuffling stream's state.
    dropout_state : tuple or None
        The dropout stream's state (:meth:`~sknn.utils.random.RNGScope.get_state`).
    grad_scaler : torch.amp.GradScaler or None
        float16's loss scale.
    """

    optimizer: torch.optim.Optimizer | None = None
    optimizer_state: dict | None = None
    shuffle_state: np.ndarray | None = None
    dropout_state: Any = None
    grad_scaler: Any = None


def batch_size(param, n_samples: int, solver: str) -> int:
    """Rows per batch: ``"auto"`` is ``min(200, n_samples)``; larger sizes are
    clipped with scikit-learn's warning.

    Examples
    --------
    >>> from sknn.plan.optim import batch_size
    >>> batch_size("auto", 50, "adam"), batch_size(32, 1000, "adam")
    (50, 32)
    """
    if param == "auto":
        return min(200, n_samples)
    if param > n_samples and solver != "lbfgs":
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going "
            "to be clipped",
            UserWarning,
            stacklevel=5,
        )
    return int(np.clip(param, 1, n_samples))


@dataclass(frozen=True)
class Decay:
    """scikit-learn's L2 term, as the optimiser's weight decay or a loss term.

    Attributes
    ----------
    weight_decay : float
        The optimiser's decay of the weight tensors.
    penalty_in_loss : bool
        Add the L2 term to every batch loss (sample weights) instead.
    report_penalty : bool
        Report (and, for L-BFGS, optimise) the L2 term with the loss.
    """

    weight_decay: float
    penalty_in_loss: bool
    report_penalty: bool


def decay(
    *,
    solver: str,
    alpha: float,
    batch_size: int,
    accumulation_steps: int,
    weighted: bool,
    weight_decay_option: bool,
) -> Decay:
    """scikit-learn's L2 arithmetic.

    Its term is ``0.5 * alpha * ||W||^2 / (sum of batch weights)``: with unit
    weights that is the optimiser's weight decay ``alpha / batch_size`` (fused,
    free); with sample weights it goes into each batch loss. An optimiser step over
    accumulated batches sees ``accumulation_steps * batch_size`` rows. ``"adamw"``
    takes ``alpha`` as its decoupled decay; ``optimizer__weight_decay`` replaces
    ``alpha``.

    Examples
    --------
    >>> from sknn.plan.optim import decay
    >>> decay(solver="adam", alpha=0.1, batch_size=10, accumulation_steps=1,
    ...       weighted=False, weight_decay_option=False)
    Decay(weight_decay=0.01, penalty_in_loss=False, report_penalty=True)
    """
    lbfgs = solver == "lbfgs"
    penalty_in_loss = weighted and not lbfgs and alpha > 0
    step_rows = batch_size * accumulation_steps
    wd = 0.0 if (lbfgs or penalty_in_loss) else alpha / step_rows
    if solver == "adamw":
        wd, penalty_in_loss = alpha, False
    if weight_decay_option:
        penalty_in_loss = False
    return Decay(wd, penalty_in_loss, alpha > 0 and not weight_decay_option)


def optimizer(
    spec: OptimizerSpec,
    module: torch.nn.Module,
    *,
    weight_decay: float,
    lr: float,
    device: torch.device,
    max_fun: int,
    previous: torch.optim.Optimizer | None = None,
    saved_state: dict | None = None,
) -> torch.optim.Optimizer:
    """The optimiser: ``previous`` when ``partial_fit`` continues, else built (and
    given ``saved_state``, a loaded file's)."""
    if previous is not None:
        return previous
    if spec.solver == "lbfgs":
        opt = build_optimizer(
            "lbfgs",
            # L-BFGS takes no parameter groups; its L2 term is the objective's.
            [p for p in module.parameters() if p.requires_grad],
            lr=1.0,
            device=device,
            max_fun=max_fun,
        )
    else:
        opt = make_optimizer(
            spec, module, weight_decay=weight_decay, lr=lr, device=device
        )
    if saved_state is not None:
        load_optimizer_into(opt, saved_state, "The saved estimator")
    return opt


def schedule(
    *,
    solver: str,
    learning_rate: str,
    learning_rate_init: float,
    power_t: float,
    mode: str,
) -> LRSchedule | None:
    """The learning-rate schedule (none for L-BFGS).

    scikit-learn applies ``learning_rate`` to ``"sgd"`` only, and its momentum
    velocity holds the rate (``mode="sklearn"``); ``mode="torch"`` applies it to every
    stochastic solver with torch's momentum buffer.

    Examples
    --------
    >>> from sknn.plan.optim import schedule
    >>> schedule(solver="adam", learning_rate="invscaling", learning_rate_init=0.1,
    ...          power_t=0.5, mode="sklearn").kind
    'constant'
    """
    if solver == "lbfgs":
        return None
    sklearn_mode = mode == "sklearn"
    kind = "constant" if sklearn_mode and solver != "sgd" else learning_rate
    return LRSchedule(
        kind,
        learning_rate_init,
        power_t,
        rate_in_velocity=sklearn_mode and solver == "sgd",
    )


def streams(
    seed: int, continued: Continued | None = None
) -> tuple[torch.Generator, RNGScope]:
    """The fit's shuffling generator (``seed + 1``) and dropout stream (``seed + 2``);
    ``partial_fit`` continues both from the previous call.

    Examples
    --------
    >>> import torch
    >>> from sknn.plan.optim import streams
    >>> a, _ = streams(0)
    >>> b, _ = streams(0)
    >>> bool(torch.equal(torch.randperm(5, generator=a), torch.randperm(5, generator=b)))
    True
    """
    generator = torch.Generator().manual_seed(seed + 1)
    rng = RNGScope(seed + 2)  # dropout and any other draw of the forward pass
    if continued is not None and continued.shuffle_state is not None:
        # partial_fit continues the shuffling and dropout streams: n calls draw
        # as one fit of n epochs does.
        generator.set_state(torch.from_numpy(continued.shuffle_state.copy()))
        if continued.dropout_state is not None:
            rng.set_state(continued.dropout_state)
    return generator, rng


def train_config(
    est,
    *,
    batch_size: int,
    decay: Decay,
    incremental: bool,
    early_stopping: bool,
    fine_tune: FineTuneOptions | None = None,
) -> TrainConfig:
    """The loop's settings: epochs (one for ``partial_fit``), batches, scikit-learn's
    convergence rule on the training loss or the validation score, L-BFGS's limits."""
    if incremental:
        max_epochs, monitor = 1, None
    else:
        max_epochs = est.max_iter if fine_tune is None else fine_tune.max_iter
        monitor = "valid_score" if early_stopping else "train_loss"
    return TrainConfig(
        max_epochs=max_epochs,
        batch_size=batch_size,
        shuffle=est.shuffle,
        tol=est.tol,
        n_iter_no_change=est.n_iter_no_change,
        monitor=monitor,
        full_batch=est.solver == "lbfgs",
        max_fun=est.max_fun,
        penalty_in_loss=decay.penalty_in_loss,
    )
