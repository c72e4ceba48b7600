"""The hooks the engine calls: the callback protocol, in the engine's own layer.

:class:`Hooks` declares every hook the training loops call, each a no-op, and the
state a resumable fit keeps (:meth:`Hooks.state_dict`). The engine imports only this
module; :class:`sknn.callbacks.Callback` adds scikit-learn's parameter handling
(``get_params``, ``clone``) on top of it, so the engine never imports the callbacks
package (or the trackers in it) and knows nothing of scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sknn.training.engine import Trainer


class Hooks:
    """Every hook of a training run, each doing nothing.

    Subclass :class:`sknn.callbacks.Callback` (which adds scikit-learn's parameter
    handling) for callbacks passed to an estimator; the engine itself accepts any
    :class:`Hooks`. Hooks receive the :class:`~sknn.training.Trainer`, whose
    ``module``, ``optimizer``, ``history``, ``epoch``, ``stop_training`` and ``owner``
    (the estimator that runs the fit, or ``None``) they may read, and
    ``stop_training`` they may set. Per-batch hooks (:meth:`on_batch_end`,
    :meth:`on_backward_end`) are only called for objects that override them
    (:func:`overrides`), so hooks that do not need them cost nothing.

    Examples
    --------
    >>> from sknn.training.hooks import Hooks, overrides
    >>> class Count(Hooks):
    ...     def on_batch_end(self, trainer, loss):
    ...         pass
    >>> overrides(Count(), "on_batch_end"), overrides(Count(), "on_backward_end")
    (True, False)
    >>> Count().state_dict()
    {}
    """

    #: Whether the hooks need a validation set (``valid_loss`` / ``valid_score``).
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

    def on_fit_end(self, estimator: Any) -> None:
        """Called by the estimator once its fit is over and its fitted attributes
        are set (not by the engine): the finished estimator, e.g. to log it."""

    def state_dict(self) -> dict:
        """What a checkpoint keeps to resume these hooks (nothing by default)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (when resuming a fit)."""


def overrides(hooks: Hooks, hook: str) -> bool:
    """Return True when ``hooks`` implements ``hook`` itself.

    Examples
    --------
    >>> from sknn.training.hooks import Hooks, overrides
    >>> overrides(Hooks(), "on_epoch_end")
    False
    """
    return getattr(type(hooks), hook) is not getattr(Hooks, hook)
