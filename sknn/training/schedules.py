"""Schedules over the steps of a fit: learning rate, weight decay and dropout.

A schedule is a factor ``f(t)`` of the training progress ``t`` in ``[0, 1]`` (the
share of the fit's optimiser steps taken). :class:`StepSchedule` applies them before
every step: each parameter group's rate is ``lr * lr_scale * f_lr(t)``, its decoupled
weight decay ``weight_decay * wd_scale * f_wd(t)``, and the module's ``dropout``
attribute ``dropout * f_drop(t)``. The schedules are RealMLP's (Holzmüller et al.,
2024): ``"coslog4"`` is four cosine cycles whose lengths double (``0.5 * (1 -
cos(2 pi log2(1 + 15 t)))``), ``"flat_cos"`` is flat for the first half and a cosine
decay to zero in the second.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sknn.training.hooks import Hooks

#: Schedule names.
SCHEDULES = ("coslog4", "flat_cos", "cosine", "constant")


def schedule_factor(kind: str, t: float) -> float:
    """The factor of schedule ``kind`` at progress ``t`` in ``[0, 1]``.

    Examples
    --------
    >>> from sknn.training.schedules import schedule_factor
    >>> peak, trough = (2**0.5 - 1) / 15, (2**2 - 1) / 15  # log2(1 + 15 t) = 0.5, 2
    >>> [round(schedule_factor("coslog4", t), 3) for t in (0.0, peak, trough, 1.0)]
    [0.0, 1.0, 0.0, 0.0]
    >>> [schedule_factor("flat_cos", t) for t in (0.25, 0.75, 1.0)]
    [1.0, 0.5, 0.0]
    """
    t = min(max(t, 0.0), 1.0)
    if kind == "constant":
        return 1.0
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if kind == "flat_cos":
        return 1.0 if t < 0.5 else 0.5 * (1.0 + math.cos(math.pi * (2.0 * t - 1.0)))
    if kind == "coslog4":
        return 0.5 * (1.0 - math.cos(2.0 * math.pi * math.log2(1.0 + 15.0 * t)))
    raise ValueError(f"Unknown schedule {kind!r}; choose from {SCHEDULES}.")


class StepSchedule(Hooks):
    """Set the rate, weight decay and dropout before every optimiser step.

    Parameters
    ----------
    total_steps : int
        Steps of the whole fit (``t = step / total_steps``).
    steps_per_epoch : int
        Steps of one epoch (for the time budget).
    lr, weight_decay, dropout : float
        Peak values.
    lr_schedule, weight_decay_schedule, dropout_schedule : str
        Names from :data:`SCHEDULES`.
    time_budget : float or None, default=None
        Seconds the fit may take: after each epoch, the planned number of epochs
        is cut to what fits in the budget at the pace so far (the schedules are
        compressed to end with it, and training stops there).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.schedules import StepSchedule
    >>> p = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.AdamW([{"params": [p], "lr_scale": 0.5, "wd_scale": 0.0}])
    >>> class T:  # what the schedule reads of a Trainer
    ...     optimizer, module, stop_training = opt, torch.nn.Module(), False
    >>> sched = StepSchedule(10, 5, lr=0.1, weight_decay=0.01, dropout=0.0,
    ...                      lr_schedule="cosine")
    >>> sched.on_train_begin(T())
    >>> opt.param_groups[0]["lr"], opt.param_groups[0]["weight_decay"]
    (0.05, 0.0)
    """

    def __init__(
        self,
        total_steps: int,
        steps_per_epoch: int,
        *,
        lr: float,
        weight_decay: float,
        dropout: float,
        lr_schedule: str = "constant",
        weight_decay_schedule: str = "constant",
        dropout_schedule: str = "constant",
        time_budget: float | None = None,
    ) -> None:
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.lr_schedule = lr_schedule
        self.weight_decay_schedule = weight_decay_schedule
        self.dropout_schedule = dropout_schedule
        self.time_budget = time_budget

    def _apply(self, trainer: Any) -> None:
        t = self._step / max(self._total, 1)
        f_lr = schedule_factor(self.lr_schedule, t)
        f_wd = schedule_factor(self.weight_decay_schedule, t)
        for group in trainer.optimizer.param_groups:
            group["lr"] = self.lr * group.get("lr_scale", 1.0) * f_lr
            group["weight_decay"] = (
                self.weight_decay * group.get("wd_scale", 1.0) * f_wd
            )
        if hasattr(trainer.module, "dropout"):
            trainer.module.dropout = self.dropout * schedule_factor(
                self.dropout_schedule, t
            )

    def on_train_begin(self, trainer: Any) -> None:
        """Start the schedules at step 0."""
        self._step, self._total, self._epochs = 0, self.total_steps, 0
        self._start = time.perf_counter()
        self._apply(trainer)

    def on_batch_end(self, trainer: Any, loss: Any) -> None:
        """Advance one step."""
        self._step += 1
        self._apply(trainer)

    def on_epoch_end(self, trainer: Any, record: dict) -> None:
        """Apply the time budget: plan no more epochs than fit in it."""
        self._epochs += 1
        if self.time_budget is None:
            return
        per_epoch = (time.perf_counter() - self._start) / self._epochs
        planned = self._total // max(self.steps_per_epoch, 1)
        fits = max(self._epochs, int(self.time_budget / max(per_epoch, 1e-9)))
        if fits < planned:
            self._total = fits * self.steps_per_epoch
        if self._epochs >= fits:
            trainer.stop_training = True
            trainer.stop_reason = f"time_budget of {self.time_budget:g} s reached."
