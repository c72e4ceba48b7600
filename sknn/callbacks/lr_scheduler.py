"""Any torch learning-rate scheduler as a callback, stepped per epoch or per batch."""

from __future__ import annotations

import math

import torch

from sknn.callbacks.base import Callback

_KINDS = (
    torch.optim.lr_scheduler.LRScheduler,
    torch.optim.lr_scheduler.ReduceLROnPlateau,
)
#: The schedulers ``policy`` may name: torch's own, not their abstract bases.
POLICIES = tuple(
    sorted(
        name
        for name, value in vars(torch.optim.lr_scheduler).items()
        if isinstance(value, type)
        and issubclass(value, _KINDS)
        and value is not torch.optim.lr_scheduler.LRScheduler
        and not name.startswith("_")
    )
)


class LRScheduler(Callback):
    """Drive the learning rate with a :mod:`torch.optim.lr_scheduler` scheduler.

    The scheduler is built on the estimator's optimiser when training begins and
    stepped after every epoch (``step_every="epoch"``) or every optimiser step
    (``"batch"``). :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau` is stepped with
    the ``monitor`` metric. Leave the estimator's ``learning_rate="constant"`` (its
    default) so the two schedules do not compete.

    Parameters
    ----------
    policy : str or scheduler class, default="CosineAnnealingLR"
        A scheduler of :mod:`torch.optim.lr_scheduler` or its name (one of
        ``sknn.callbacks.lr_scheduler.POLICIES``: ``"StepLR"``, ``"OneCycleLR"``,
        ``"ReduceLROnPlateau"`` ...), or a scheduler class of your own (a subclass of torch's
        ``LRScheduler`` or ``ReduceLROnPlateau``). Anything else is refused when
        training begins, and when :func:`sknn.load` reads it from a file.
    step_every : {"epoch", "batch"}, default="epoch"
        When to call the scheduler's ``step``.
    monitor : str, default="train_loss"
        Metric passed to ``ReduceLROnPlateau`` (a ``valid_*`` metric makes the
        estimator hold out a validation set).
    scheduler_kwargs : dict, default=None
        Arguments of the scheduler. Left out, ``T_max`` (cosine annealing) and
        ``total_steps`` (one-cycle) are the length of training in epochs or batches,
        and one-cycle's ``max_lr`` is the optimiser's learning rate.

    Attributes
    ----------
    scheduler_ : torch.optim.lr_scheduler.LRScheduler
        The scheduler of the last fit.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import LRScheduler
    >>> X, y = load_iris(return_X_y=True)
    >>> sched = LRScheduler("StepLR", scheduler_kwargs={"step_size": 2, "gamma": 0.5})
    >>> clf = MLPClassifier((8,), max_iter=5, learning_rate_init=0.01, random_state=0,
    ...                     callbacks=[sched]).fit(X, y)
    >>> [round(lr, 4) for lr in clf.history_["lr"]]
    [0.01, 0.01, 0.005, 0.005, 0.0025]
    """

    def __init__(
        self,
        policy: str | type = "CosineAnnealingLR",
        *,
        step_every: str = "epoch",
        monitor: str = "train_loss",
        scheduler_kwargs: dict | None = None,
    ) -> None:
        self.policy = policy
        self.step_every = step_every
        self.monitor = monitor
        self.scheduler_kwargs = scheduler_kwargs

    @property
    def requires_validation(self) -> bool:  # type: ignore[override]
        """True when ReduceLROnPlateau watches a validation metric."""
        return self._is_plateau() and self.monitor.startswith("valid_")

    def _policy_class(self) -> type:
        cls = self.policy
        if isinstance(cls, str):
            cls = (
                getattr(torch.optim.lr_scheduler, cls, None)
                if cls in POLICIES
                else None
            )
        if (
            not isinstance(cls, type)
            or not issubclass(cls, _KINDS)
            or cls is torch.optim.lr_scheduler.LRScheduler
        ):
            raise ValueError(
                "policy must be a learning-rate scheduler class (a subclass of "
                "torch's LRScheduler or ReduceLROnPlateau) or one of the names "
                f"{list(POLICIES)}; got {str(self.policy)[:80]!r}."
            )
        return cls

    def check_params(self) -> None:
        """Refuse a ``policy`` that is not a scheduler, and a bad ``step_every``.

        :func:`sknn.load` calls it on the schedulers a file holds, before anything
        is trained; training calls it when it begins.

        Raises
        ------
        ValueError
            Naming the parameter.

        Examples
        --------
        >>> from sknn.callbacks import LRScheduler
        >>> LRScheduler("StepLR").check_params()
        >>> LRScheduler("Counter").check_params()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: policy must be a learning-rate scheduler class ...
        """
        self._policy_class()
        if self.step_every not in ("epoch", "batch"):
            raise ValueError(
                f"step_every must be 'epoch' or 'batch'; got {self.step_every!r}."
            )
        if not isinstance(self.scheduler_kwargs, (dict, type(None))):
            raise ValueError(
                "scheduler_kwargs must be a dict or None; got "
                f"{type(self.scheduler_kwargs).__name__}."
            )

    def _is_plateau(self) -> bool:
        try:
            return issubclass(
                self._policy_class(), torch.optim.lr_scheduler.ReduceLROnPlateau
            )
        except ValueError:
            return False

    def on_train_begin(self, trainer) -> None:
        self.check_params()
        cls = self._policy_class()
        kwargs = dict(self.scheduler_kwargs or {})
        cfg = trainer.config
        per_epoch = (
            1 if cfg.full_batch else math.ceil(trainer.rows_per_epoch / cfg.batch_size)
        )
        steps = cfg.max_epochs * (per_epoch if self.step_every == "batch" else 1)
        name = cls.__name__
        if name == "CosineAnnealingLR":
            kwargs.setdefault("T_max", steps)
        elif name == "OneCycleLR":
            kwargs.setdefault("total_steps", steps)
            kwargs.setdefault("max_lr", float(trainer.optimizer.param_groups[0]["lr"]))
        self.scheduler_ = cls(trainer.optimizer, **kwargs)

    def on_batch_end(self, trainer, loss) -> None:
        if self.step_every == "batch" and not self._is_plateau():
            self.scheduler_.step()

    def on_epoch_end(self, trainer, record: dict) -> None:
        if self._is_plateau():
            if self.monitor not in record:
                raise ValueError(
                    f"LRScheduler monitors {self.monitor!r}, which is not recorded; "
                    f"recorded metrics are {sorted(record)}."
                )
            self.scheduler_.step(record[self.monitor])
        elif self.step_every == "epoch":
            self.scheduler_.step()

    def state_dict(self) -> dict:
        """The scheduler's state, saved by :class:`~sknn.callbacks.Checkpoint`."""
        return self.scheduler_.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore the scheduler's state (when resuming a fit)."""
        self.scheduler_.load_state_dict(state)
