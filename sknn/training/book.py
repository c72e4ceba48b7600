"""One epoch book, shared by the single engine
(:class:`~sknn.training.Trainer`) and the stacked engine
(:class:`~sknn.training.stacked.StackedTrainer`).

An :class:`EpochBook` keeps one network's records (:class:`TrainState` counters and the
:class:`~sknn.training.History`) and applies the rules read from them:
scikit-learn's convergence rule (with the ``"adaptive"`` schedule's plateau steps),
the learning-rate schedule's step, which epoch's weights are the best, and the
forgetting of epochs whose weights a recovery passed over. A
:class:`~sknn.training.divergence.DivergenceGuard` keeps the two newest finite
snapshots of the weights that a diverged run falls back to. The stacked engine keeps
one book per network and one guard over its stacked weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from sknn.training.history import History
from sknn.training.optim import LRSchedule


@dataclass
class TrainConfig:
    """What the loop needs to know, in engine terms.

    Parameters
    ----------
    max_epochs : int
        Epochs to run in this call (the estimator's ``max_iter``, or 1 for
        ``partial_fit``).
    batch_size : int
        Rows per optimiser step (ignored by full-batch solvers).
    shuffle : bool
        Reshuffle the rows every epoch.
    tol, n_iter_no_change : float, int
        scikit-learn's convergence rule: stop when the monitored quantity has not
        improved by ``tol`` for more than ``n_iter_no_change`` epochs.
    monitor : {"train_loss", "valid_score", None}
        What the convergence rule watches; ``None`` disables it (``partial_fit``).
    full_batch : bool
        L-BFGS over all rows, run as scikit-learn runs it (see
        :func:`~sknn.training.optim.minimize_lbfgs`): ``max_epochs`` iterations at
        most, ``max_fun`` loss evaluations at most, stopping when the largest gradient
        component is at most ``tol``; ``n_iter_no_change`` and ``monitor`` do not
        apply. One history record per iteration.
    max_fun : int
        Maximum loss evaluations of a full-batch run.
    restore_best : bool
        With ``monitor="valid_score"``, load the best epoch's weights at the end.
    penalty_in_loss : bool
        Add ``penalty_fn(sum of batch weights)`` to every batch loss (scikit-learn's
        exact L2 semantics with sample weights) instead of leaving the L2 term to the
        optimiser's weight decay and only reporting it.
    """

    max_epochs: int
    batch_size: int
    shuffle: bool = True
    tol: float = 1e-4
    n_iter_no_change: float = 10
    monitor: str | None = "train_loss"
    full_batch: bool = False
    max_fun: int = 15000
    restore_best: bool = True
    penalty_in_loss: bool = False


@dataclass
class TrainState:
    """Counters that survive between calls (``warm_start`` and ``partial_fit``)."""

    epoch: int = 0
    t: int = 0
    best_loss: float = math.inf
    best_score: float = -math.inf
    no_improve: int = 0
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)


def ended_converged(stop_reason: str | None) -> bool:
    """Whether a run that stopped for ``stop_reason`` counts as converged (a rule or
    a callback stopped it, not an interruption or a divergence).

    Examples
    --------
    >>> from sknn.training.book import ended_converged
    >>> ended_converged("Training loss did not improve"), ended_converged("diverged")
    (True, False)
    """
    return stop_reason not in ("interrupted", "diverged")


class Verdict(NamedTuple):
    """What an epoch's record decided."""

    #: The epoch's weights are the best so far (``restore_best`` with
    #: ``monitor="valid_score"``): the engine keeps a copy.
    new_best: bool
    #: Why training stops after this epoch (the convergence rule), or None.
    stop: str | None


class EpochBook:
    """One network's training records and the rules read from them.

    Parameters
    ----------
    config : TrainConfig
        The rules' settings (``tol``, ``n_iter_no_change``, ``monitor``,
        ``restore_best``, ``max_epochs``).
    state : TrainState
        The counters (continued by warm starts and ``partial_fit``).
    history : History
        The records (continued likewise).
    schedule : LRSchedule, optional
        Stepped after every epoch; asked first when the rule would stop training
        (the ``"adaptive"`` schedule lowers the rate instead).
    optimizer : torch.optim.Optimizer, optional
        Whose learning rate the records show and the schedule sets.
    printer : callable, optional
        Told when a plateau lowers the learning rate (verbose mode).

    Attributes
    ----------
    epochs_run : int
        Epochs run in the current call (diverged ones included).

    Examples
    --------
    >>> from sknn.training.book import EpochBook, TrainConfig, TrainState
    >>> from sknn.training.history import History
    >>> book = EpochBook(TrainConfig(max_epochs=5, batch_size=1, n_iter_no_change=1),
    ...                  TrainState(), History())
    >>> book.start(rows_per_epoch=10)
    >>> for loss in (1.0, 0.5, 0.5, 0.5):
    ...     book.count_epoch()
    ...     verdict = book.conclude(book.record(loss), dur=0.0)
    >>> verdict.stop[:51], book.state.t
    ('Training loss did not improve more than tol=0.00010', 40)
    """

    def __init__(
        self,
        config: TrainConfig,
        state: TrainState,
        history: History,
        *,
        schedule: LRSchedule | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        printer=None,
    ) -> None:
        self.config = config
        self.state = state
        self.history = history
        self.schedule = schedule
        self.optimizer = optimizer
        self.printer = printer
        self.epochs_run = 0
        self.rows_per_epoch = 0

    def start(self, rows_per_epoch: int) -> None:
        """Begin a call (``fit``, a warm start, ``partial_fit``): no epoch run yet."""
        self.epochs_run = 0
        self.rows_per_epoch = rows_per_epoch

    def count_epoch(self) -> None:
        """An epoch ran (finite or not): it counts towards ``max_epochs``."""
        self.epochs_run += 1

    @property
    def exhausted(self) -> bool:
        """Whether this call ran its ``max_epochs``."""
        return self.epochs_run >= self.config.max_epochs

    def lr(self) -> float:
        """The optimiser's learning rate (its first parameter group's)."""
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer else 0.0

    def record(
        self,
        loss: float,
        valid_loss: float | None = None,
        valid_score: float | None = None,
    ) -> dict:
        """Count a finite epoch of mean training ``loss`` and start its record
        (``epoch``, ``train_loss``, ``lr``, and ``valid_loss`` / ``valid_score`` when
        given); the caller may add metrics before :meth:`conclude`."""
        st = self.state
        st.epoch += 1
        st.t += self.rows_per_epoch
        st.loss_curve.append(loss)
        record = {"epoch": st.epoch, "train_loss": loss, "lr": self.lr()}
        if valid_loss is not None:
            record["valid_loss"] = valid_loss
            if valid_score is not None:
                record["valid_score"] = valid_score
        return record

    def conclude(self, record: dict, dur: float, *, rules: bool = True) -> Verdict:
        """File ``record`` (its duration ``dur`` added) and apply the rules: the
        convergence rule on its ``valid_score`` (else its loss), then the schedule's
        step. A full-batch solver has its own stopping rule (``rules=False``)."""
        record["dur"] = dur
        self.history.append(record)
        loss = record["train_loss"]
        if not rules:
            self.state.best_loss = min(self.state.best_loss, loss)
            return Verdict(False, None)
        verdict = self._converge(loss, record.get("valid_score"))
        if self.schedule is not None:
            self.schedule.epoch_end(self.optimizer, self.state.t)
        return verdict

    def _converge(self, loss: float, score: float | None) -> Verdict:
        """scikit-learn's rule: stop when the monitored quantity has not improved by
        ``tol`` for more than ``n_iter_no_change`` epochs."""
        st, cfg = self.state, self.config
        new_best = False
        if cfg.monitor == "valid_score" and score is not None:
            st.validation_scores.append(score)
            improved = score >= st.best_score + cfg.tol
            if score > st.best_score:
                st.best_score = score
                new_best = cfg.restore_best
        elif cfg.monitor == "train_loss":
            improved = loss <= st.best_loss - cfg.tol
        else:
            improved = True
        st.best_loss = min(st.best_loss, loss)
        st.no_improve = 0 if improved else st.no_improve + 1
        if cfg.monitor is None or st.no_improve <= cfg.n_iter_no_change:
            return Verdict(new_best, None)
        what = "Validation score" if cfg.monitor == "valid_score" else "Training loss"
        msg = (
            f"{what} did not improve more than tol={cfg.tol:f} for "
            f"{cfg.n_iter_no_change} consecutive epochs."
        )
        if self.schedule is not None and self.schedule.on_plateau(self.optimizer):
            st.no_improve = 0
            if self.printer is not None:
                self.printer(f"{msg} Setting learning rate to {self.lr():f}")
            return Verdict(new_best, None)
        return Verdict(new_best, msg)

    def forget(self, n_epochs: int) -> None:
        """Drop the records of the last ``n_epochs`` epochs (their weights were not
        kept)."""
        st = self.state
        for _ in range(min(n_epochs, len(st.loss_curve))):
            st.loss_curve.pop()
            st.epoch -= 1
            st.t -= self.rows_per_epoch
            if self.history:
                self.history.pop()
            if len(st.validation_scores) > len(st.loss_curve):
                st.validation_scores.pop()
        st.best_loss = min(st.loss_curve, default=math.inf)


def format_record(record: dict, max_epochs: int | None = None) -> str:
    """The verbose lines of an epoch, as scikit-learn's MLP prints them.

    ``Iteration 3, loss = 0.41234567`` first (the line scikit-learn users parse), then
    sknn's extras in parentheses; a ``Validation score: ...`` line follows when the
    epoch was scored on held-out rows.

    Examples
    --------
    >>> from sknn.training.book import format_record
    >>> print(format_record({"epoch": 3, "train_loss": 0.5, "lr": 0.001, "dur": 0.25,
    ...                      "valid_loss": 0.6, "valid_score": 0.75}, 200))
    Iteration 3, loss = 0.50000000 (of 200, valid_loss = 0.60000000, lr = 0.001, 0.25s)
    Validation score: 0.750000
    """
    extras = [] if max_epochs is None else [f"of {max_epochs}"]
    if "valid_loss" in record:
        extras.append(f"valid_loss = {record['valid_loss']:.8f}")
    extras += [f"lr = {record['lr']:.3g}", f"{record['dur']:.2f}s"]
    line = (
        f"Iteration {record['epoch']}, loss = {record['train_loss']:.8f} "
        f"({', '.join(extras)})"
    )
    if record.get("valid_score") is not None:
        line += f"\nValidation score: {record['valid_score']:f}"
    return line
