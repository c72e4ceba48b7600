"""The callback base class: the engine's hooks (all no-ops) with scikit-learn
parameters."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from sknn.training.hooks import Hooks, overrides


class Callback(Hooks, BaseEstimator):
    """Base class of sknn callbacks: every hook is a no-op.

    Callbacks are scikit-learn style objects: the constructor stores its arguments,
    ``get_params`` / ``set_params`` work, and :func:`sklearn.base.clone` copies them, so a
    callback's parameters can be searched with ``GridSearchCV``
    (``callbacks=[EarlyStopping(patience=3)]`` vs ``patience=10``). The estimator trains
    with clones of the callbacks it was given and keeps the fitted ones in ``callbacks_``.

    Hooks receive the :class:`~sknn.training.Trainer`, whose attributes ``module``,
    ``optimizer``, ``history``, ``epoch``, ``stop_training`` and ``owner`` (the
    estimator being fitted) they may read, and ``stop_training`` they may set; at
    ``on_epoch_end`` its ``validation`` holds the held-out rows' targets and
    predictions (a :class:`~sknn.callbacks.ValidationPredictions`) when rows are held
    out, and a callback may add metrics to the epoch's ``record``.
    Per-batch hooks (:meth:`on_batch_end`, :meth:`on_backward_end`) are only called for
    callbacks that override them, so callbacks that do not need them cost nothing. A
    callback with running state (early stopping's patience counter, a scheduler)
    overrides :meth:`state_dict` and :meth:`load_state_dict` so that
    :class:`~sknn.callbacks.Checkpoint` can resume it. The hooks are declared by
    :class:`sknn.training.hooks.Hooks`, which the engine calls.

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


__all__ = ["Callback", "overrides"]
