"""Early stopping on any recorded metric."""

from __future__ import annotations

import math

import torch
from sklearn.metrics import get_scorer_names

from sknn.callbacks.base import Callback


class EarlyStopping(Callback):
    """Stop training when a monitored metric stops improving.

    Parameters
    ----------
    monitor : str, default="valid_loss"
        A key of the history records: ``"valid_loss"``, ``"valid_score"``,
        ``"train_loss"``, one that the estimator's ``scoring`` or a callback adds,
        or ``"valid_<name>"`` for any scikit-learn scorer name (``"valid_f1"``,
        ``"valid_roc_auc"``, ``"valid_neg_log_loss"``, ...; see
        :func:`sklearn.metrics.get_scorer_names`), which is then computed on the
        validation predictions each epoch and recorded. Metrics starting with
        ``valid_`` make the estimator hold out ``validation_fraction`` of the
        training data.
    patience : int, default=5
        Epochs without improvement before stopping.
    min_delta : float, default=1e-4
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}, default="auto"
        Whether lower or higher is better; ``"auto"`` means ``"min"`` for names
        containing ``loss`` (but not ``neg_``: scikit-learn's negated losses, such
        as ``valid_neg_log_loss``, are scores) and ``"max"`` otherwise.
    restore_best_weights : bool, default=True
        Load the weights of the best epoch when training ends.

    Attributes
    ----------
    best_value_ : float
        Best value of the monitored metric.
    best_epoch_ : int
        Epoch (1-based) at which it was reached.
    stopped_epoch_ : int or None
        Epoch at which this callback stopped training, if it did.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import EarlyStopping
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=300, random_state=0,
    ...                     callbacks=[EarlyStopping(patience=3)]).fit(X, y)
    >>> clf.callbacks_[0].best_epoch_ <= clf.n_iter_
    True
    """

    def __init__(
        self,
        monitor: str = "valid_loss",
        *,
        patience: int = 5,
        min_delta: float = 1e-4,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.restore_best_weights = restore_best_weights

    @property
    def requires_validation(self) -> bool:  # type: ignore[override]
        """True when the monitored metric is computed on the validation set."""
        return self.monitor.startswith("valid_")

    def _sign(self) -> float:
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {self.mode!r}.")
        if self.mode == "auto":
            lower = "loss" in self.monitor and "neg_" not in self.monitor
            return -1.0 if lower else 1.0
        return 1.0 if self.mode == "max" else -1.0

    def on_train_begin(self, trainer) -> None:
        self._sign_ = self._sign()
        self.best_value_ = -math.inf * self._sign_
        self.best_epoch_ = 0
        self.stopped_epoch_ = None
        self._wait = 0
        self._best_state = None

    def on_epoch_end(self, trainer, record: dict) -> None:
        if self.monitor not in record:
            record[self.monitor] = self._scorer_value(trainer, record)
        value = record[self.monitor]
        if value is None or not math.isfinite(value):
            return
        if (
            self._sign_ * (value - self.best_value_) > self.min_delta
            or self.best_epoch_ == 0
        ):
            self.best_value_ = value
            self.best_epoch_ = record["epoch"]
            self._wait = 0
            if self.restore_best_weights:
                self._best_state = {
                    k: v.detach().clone()
                    for k, v in trainer.module.state_dict().items()
                }
        else:
            self._wait += 1
            if self._wait >= self.patience:
                self.stopped_epoch_ = record["epoch"]
                trainer.stop_training = True
                trainer.stop_reason = (
                    f"{self.monitor} did not improve by more than {self.min_delta} for "
                    f"{self.patience} epochs"
                )

    def _scorer_value(self, trainer, record: dict) -> float:
        """``valid_<scorer name>`` computed on the epoch's validation predictions."""
        name = self.monitor.removeprefix("valid_")
        validation = getattr(trainer, "validation", None)
        if (
            self.monitor.startswith("valid_")
            and name in get_scorer_names()
            and hasattr(validation, "score")
        ):
            return validation.score(name)
        raise ValueError(
            f"EarlyStopping monitors {self.monitor!r}, which is not recorded; "
            f"recorded metrics are {sorted(record)}, and valid_<name> is computed "
            "for any scikit-learn scorer name (sklearn.metrics.get_scorer_names())."
        )

    def state_dict(self) -> dict:
        """The running state, saved by :class:`~sknn.callbacks.Checkpoint`."""
        return {
            "best_value_": self.best_value_,
            "best_epoch_": self.best_epoch_,
            "stopped_epoch_": self.stopped_epoch_,
            "_wait": self._wait,
            "_best_state": self._best_state,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore the state from :meth:`state_dict` (when resuming a fit)."""
        for key, value in state.items():
            setattr(self, key, value)

    def on_train_end(self, trainer) -> None:
        if self.restore_best_weights and self._best_state is not None:
            with torch.no_grad():
                trainer.module.load_state_dict(self._best_state)
        self._best_state = None
