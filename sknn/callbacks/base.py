"""The callback protocol: a base class whose hooks do nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator

if TYPE_CHECKING:  # pragma: no cover
    from sknn.training.engine import Trainer


class Callback(BaseEstimator):
    """Base class of sknn callbacks: every hook is a no-op.

    Callbacks are scikit-learn style objects: the constructor stores its arguments,
    ``get_params`` / ``set_params`` work, and :func:`sklearn.base.clone` copies them, so a
    callback's parameters can be searched with ``GridSearchCV``
    (``callbacks=[EarlyStopping(patience=3)]`` vs ``patience=10``). The estimator trains
    with clones of the callbacks it was given and keeps the fitted ones in ``callbacks_``.

    Hooks receive the :class:`~sknn.training.Trainer`, whose attributes ``module``,
    ``optimizer``, ``history``, ``epoch`` and ``stop_training`` they may read or set;
    at ``on_epoch_end`` its ``validation`` holds the held-out rows' targets and
    predictions (a :class:`~sknn.callbacks.ValidationPredictions`) when rows are held
    out, and a callback may add metrics to the epoch's ``record``.
    Per-batch hooks (:meth:`on_batch_end`, :meth:`on_backward_end`) are only called for
    callbacks that override them, so callbacks that do not need them cost nothing.

    Examples
    --------
    >>> from sknn.callbacks import Callback
    >>> class StopAtEpoch(Callback):
    ...     def __init__(self, epoch=3):
    ...         self.epoch = epoch
    ...     def on_epoch_end(self, trainer, record):
    ...         if record["epoch"] >= self.epoch:
    ...             trainer.stop_training = True
    >>> StopAtEpoch(epoch=5).get_params()
    {'epoch': 5}
    """

    #: Whether the callback needs a validation set (``valid_loss`` / ``valid_score``).
    requires_validation: bool = False

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, trainer: Trainer) -> None:
        """Called at the start of every epoch."""

    def on_backward_end(self, trainer: Trainer) -> None:
        """Called after gradients are computed and before the optimiser step."""

    def on_batch_end(self, trainer: Trainer, loss: Any) -> None:
        """Called after each optimiser step with the batch loss (a device tensor)."""

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        """Called after every epoch with its history record (already appended)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Called once when training ends, however it ends (also on Ctrl-C)."""


def overrides(callback: Callback, hook: str) -> bool:
    """Return True when ``callback`` implements ``hook`` itself."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)
