"""The training loop.

One :class:`Trainer` runs epochs of mini-batch (or full-batch L-BFGS) optimisation over
:mod:`batch sources <sknn.training.sources>`, records a :class:`~sknn.training.History`, applies
scikit-learn's convergence rule, and calls the callbacks' hooks. It knows nothing of
scikit-learn: estimators build it from their parameters.

Rules it follows: data is already on the device; the loss is accumulated on the device
and read once per epoch (with one flag saying whether the weights are still finite);
callbacks stop training through ``stop_training``; a ``KeyboardInterrupt`` ends training
cleanly with the last completed epoch's weights; a non-finite loss or non-finite weights
end it with the newest finite weights whose outputs on the training rows are finite
(``stop_reason="diverged"``), or with ``stop_reason="non-finite"`` where a fresh fit
has no such weights. Modules with batch normalisation never see a one-row training
batch: a last batch of one row is merged into the one before it.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from sknn.training.data import TensorData
from sknn.training.distributed import (
    any_process,
    is_main_process,
    mean_over_processes,
)
from sknn.training.history import History
from sknn.training.hooks import Hooks, overrides
from sknn.training.inference import predict_batched
from sknn.training.optim import LRSchedule, minimize_lbfgs
from sknn.training.precision import StepPlan, compile_error
from sknn.training.sources import BatchSource, first_inputs

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


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


def _clone_params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


#: Rows whose outputs are checked finite at the end of a fit (one small forward pass).
_CHECKED_ROWS = 256


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` holds a batch-normalisation layer (of any dimension).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.engine import has_batch_norm
    >>> has_batch_norm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)))
    True
    """
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def finite_flag(
    tensors: Sequence[torch.Tensor], device: torch.device | None = None
) -> torch.Tensor:
    """A 0-d device tensor, true when every floating tensor is finite.

    The minimum and maximum of each tensor (exact: no sum that could overflow; a NaN
    propagates), and no host sync: the caller reads it with the epoch's loss.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.engine import finite_flag
    >>> bool(finite_flag([torch.ones(3), torch.tensor([1.0, float("nan")])]))
    False
    """
    tensors = [t for t in tensors if t.is_floating_point() and t.numel()]
    if not tensors:
        return torch.ones((), dtype=torch.bool, device=device)
    dtype = widest_dtype(tensors)
    ends = [torch.stack(torch.aminmax(t.reshape(-1))).to(dtype) for t in tensors]
    return torch.isfinite(torch.cat(ends)).all()


def widest_dtype(tensors: Sequence[torch.Tensor]) -> torch.dtype:
    """float64 when one of ``tensors`` is float64, else float32.

    Values gathered into one tensor (one host sync) keep their range: a float64 loss
    of 1e58 is finite, and float32 would read it as infinite.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.engine import widest_dtype
    >>> widest_dtype([torch.ones(1), torch.ones(1, dtype=torch.float64)])
    torch.float64
    """
    wide = any(t.dtype == torch.float64 for t in tensors)
    return torch.float64 if wide else torch.float32


def read_values(values: Sequence[torch.Tensor]) -> list:
    """Scalars (0-d device tensors) read on the host in one sync, in
    :func:`widest_dtype`.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.engine import read_values
    >>> read_values([torch.tensor(1e58, dtype=torch.float64), torch.tensor(True)])
    [1e+58, 1.0]
    """
    dtype = widest_dtype(values)
    return torch.stack([v.to(dtype) for v in values]).tolist()


def one_row_batch_error(n_samples: int, batch_size: int) -> ValueError:
    """The error for a batch-norm module trained on a batch of one row."""
    return ValueError(
        "Batch normalisation needs at least 2 rows in every training batch, but a "
        f"batch had 1 row (n_samples={n_samples}, batch_size={batch_size}). Fit on at "
        "least 2 samples with a batch_size of at least 2, or set batch_norm=False."
    )


def _is_one_row_error(exc: ValueError) -> bool:
    return "Expected more than 1 value per channel when training" in str(exc)


def warn_non_finite(out: torch.Tensor) -> torch.Tensor:
    """Warn when a network's outputs are not all finite; return ``out`` unchanged.

    Inputs are validated finite and the weights are finite after every fit, so this
    means values too large for the network (an input far outside the training range).

    Examples
    --------
    >>> import torch, warnings
    >>> from sknn.training.engine import warn_non_finite
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     _ = warn_non_finite(torch.tensor([[1.0], [float("inf")]]))
    >>> str(w[0].message)[:49]
    'The network produced non-finite outputs for 1 of '
    """
    if out.is_floating_point() and out.numel():
        bad = ~torch.isfinite(out.reshape(out.shape[0], -1)).all(1)
        n_bad = int(bad.sum())
        if n_bad:
            warnings.warn(
                f"The network produced non-finite outputs for {n_bad} of "
                f"{out.shape[0]} rows: their input values are too large for the "
                'network. Scale the input (or fit with dtype="float64").',
                RuntimeWarning,
                stacklevel=3,
            )
    return out


class Trainer:
    """Train a module for up to ``config.max_epochs`` epochs.

    Parameters
    ----------
    module : torch.nn.Module
        The network, already on ``train.device``.
    loss_fn : callable
        ``loss_fn(output, y, sample_weight_or_None) -> scalar tensor`` (weighted mean).
    optimizer : torch.optim.Optimizer
        Over the trainable parameters.
    config : TrainConfig
        Loop settings.
    schedule : LRSchedule, optional
        Per-epoch learning-rate schedule.
    score_fn : callable, optional
        ``score_fn(output, y, w) -> scalar tensor``, higher is better; the validation
        score (accuracy, R2, ...).
    penalty_fn : callable, optional
        ``penalty_fn(n) -> scalar tensor``: the L2 term reported with (and, for
        full-batch solvers, optimised with) the loss over ``n`` weighted samples.
    callbacks : sequence of Hooks
        Fitted-for-this-run callbacks (:class:`~sknn.callbacks.Callback` objects or
        any :class:`~sknn.training.hooks.Hooks`).
    history : History, optional
        Appended to (continued by warm starts).
    state : TrainState, optional
        Counters continued from a previous call.
    generator : torch.Generator, optional
        Drives shuffling.
    printer : callable, optional
        Receives a one-line summary per epoch (verbose mode).
    forward_module : torch.nn.Module, optional
        The module that trains, when it is not ``module`` itself: a
        DistributedDataParallel wrapper or a ``torch.compile``-d ``module``.
    plan : StepPlan, optional
        How each optimiser step runs: autocast, gradient accumulation over several
        batches and a float16 gradient scaler (:mod:`sknn.training.precision`).
        Plain float32 steps when omitted.
    validation_view : callable, optional
        ``validation_view(output)``: what callbacks see as ``validation`` from the
        network's raw output on the validation rows (the estimators give a
        :class:`~sknn.callbacks.ValidationPredictions`); by default the
        output itself.
    metrics_fn : callable, optional
        ``metrics_fn(validation) -> dict`` of more ``valid_*`` metrics for each
        epoch's record, computed on the host after the epoch's one sync; a
        ``"valid_score"`` among them replaces ``score_fn``'s.
    owner : object, optional
        Whoever runs the fit (the estimator). The engine never reads it; hooks
        may (``trainer.owner``), e.g. to log the estimator's parameters.

    Attributes
    ----------
    stop_training : bool
        Set by callbacks (or the convergence rule) to end training after this epoch.
    stop_reason : str or None
        Why training ended early: a convergence message, ``"interrupted"`` or
        ``"diverged"``.
    converged : bool
        True when the convergence rule or a callback stopped training.
    validation : object or None
        At each epoch's end (``on_epoch_end``), the validation rows' predictions
        (``validation_view(output)``); ``None`` when no rows are held out.
    owner : object or None
        As passed.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, TrainConfig, Trainer
    >>> X = np.random.RandomState(0).randn(64, 3); y = X @ np.ones(3)
    >>> net = torch.nn.Linear(3, 1)
    >>> data = TensorData(X, y[:, None], None, torch.device("cpu"))
    >>> def mse(out, y, w):
    ...     return ((out - y) ** 2).mean()
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> trainer = Trainer(net, mse, opt, TrainConfig(max_epochs=30, batch_size=16))
    >>> trainer.fit(data).history[-1]["train_loss"] < 1e-3
    True
    """

    def __init__(
        self,
        module: nn.Module,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        config: TrainConfig,
        *,
        schedule: LRSchedule | None = None,
        score_fn: LossFn | None = None,
        penalty_fn: Callable[[float], torch.Tensor] | None = None,
        callbacks: Sequence[Hooks] = (),
        history: History | None = None,
        state: TrainState | None = None,
        generator: torch.Generator | None = None,
        printer: Callable[[str], None] | None = None,
        forward_module: nn.Module | None = None,
        plan: StepPlan | None = None,
        validation_view: Callable[[torch.Tensor], object] | None = None,
        metrics_fn: Callable[[object], dict] | None = None,
        owner: object | None = None,
    ) -> None:
        self.module = module
        self.owner = owner
        # The module that trains: a DistributedDataParallel wrapper of ``module`` in
        # data-parallel fits (sknn.training.distributed), else ``module`` itself.
        self.forward_module = module if forward_module is None else forward_module
        self.plan = StepPlan(torch.device("cpu")) if plan is None else plan
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.config = config
        self.schedule = schedule
        self.score_fn = score_fn
        self.penalty_fn = penalty_fn
        self.callbacks = list(callbacks)
        self.history = History() if history is None else history
        self.state = TrainState() if state is None else state
        self.generator = generator
        self.printer = printer
        self.validation_view = validation_view
        self.metrics_fn = metrics_fn
        self.validation = None
        self.stop_training = False
        self.stop_reason: str | None = None
        self.converged = False
        # The current run (begin): its rows, epochs run and best weights so far.
        self._train: BatchSource | None = None
        self._valid: BatchSource | None = None
        self._epochs_run = 0
        self._best_state: dict | None = None

    # -- hooks -------------------------------------------------------------------------
    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    @property
    def epoch(self) -> int:
        """Number of epochs completed in all calls so far."""
        return self.state.epoch

    @property
    def rows_per_epoch(self) -> int:
        """Training rows one epoch of the current run reads (after :meth:`begin`)."""
        return self._train.n_samples

    @property
    def validating(self) -> bool:
        """Whether the current run scores held-out rows after every epoch."""
        return self._valid is not None

    # -- resuming ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What resumes this run where it is: weights, counters, history, the
        shuffling stream and the best weights kept so far.

        The optimiser's state is its own (``trainer.optimizer.state_dict()``): it is
        restored once the callbacks began, as schedulers set its learning rate then.
        Tensors are the live ones (as :meth:`torch.nn.Module.state_dict`); copy them
        to keep them.

        Returns
        -------
        dict
            ``module`` (a state dict), ``state`` (the :class:`TrainState` fields),
            ``history`` (a list of records), ``generator`` (the shuffling generator's
            state, or None) and ``best_state`` (a state dict, or None).

        Examples
        --------
        >>> import torch
        >>> from sknn.training import TrainConfig, Trainer
        >>> net = torch.nn.Linear(2, 1)
        >>> trainer = Trainer(net, None, torch.optim.SGD(net.parameters(), lr=0.1),
        ...                   TrainConfig(max_epochs=3, batch_size=4))
        >>> sorted(trainer.state_dict())
        ['best_state', 'generator', 'history', 'module', 'state']
        """
        return {
            "module": self.module.state_dict(),
            "state": dataclasses.asdict(self.state),
            "history": [dict(r) for r in self.history],
            "generator": None if self.generator is None else self.generator.get_state(),
            "best_state": self._best_state,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict`, after :meth:`begin` (in
        ``on_train_begin``): the epochs it ran count towards ``max_epochs``.

        The weights' names and shapes, the counters and the best weights are
        checked first.

        Raises
        ------
        ValueError
            If the weights do not fit this network, or the counters or the best
            weights are malformed, or the generator state does not fit.
        """
        module_keys = set(self.module.state_dict())
        weights = state["module"]
        if set(weights) != module_keys:
            raise ValueError(
                "The saved state does not fit this network (other parameters or "
                f"data?): they name {sorted(set(weights) ^ module_keys)[:5]} "
                "differently."
            )
        fields = {f.name for f in dataclasses.fields(TrainState)}
        best = state["best_state"]
        shapes = {k: tuple(v.shape) for k, v in weights.items()}
        if set(state["state"]) - fields or (
            best is not None and {k: tuple(v.shape) for k, v in best.items()} != shapes
        ):
            raise ValueError("The saved training state or best weights are malformed.")
        try:
            self.module.load_state_dict(weights)
        except RuntimeError as exc:
            raise ValueError(
                "The saved state does not fit this network (other parameters or "
                f"data?): {exc}"
            ) from exc
        if self.generator is not None and state["generator"] is not None:
            try:
                self.generator.set_state(state["generator"])
            except (RuntimeError, TypeError, ValueError) as exc:
                raise ValueError(
                    "The saved shuffling generator state does not fit this fit "
                    f"({type(exc).__name__}: {exc})."
                ) from exc
        for key, value in state["state"].items():
            setattr(self.state, key, value)
        self.history.clear()
        self.history.extend(state["history"])
        self._epochs_run = self.state.epoch
        self._last_good = _clone_params(self.module)
        self._best_state = best

    # -- one epoch ---------------------------------------------------------------------
    def _epoch_stochastic(self, data: BatchSource) -> torch.Tensor:
        module, opt, loss_fn, plan = (
            self.forward_module,
            self.optimizer,
            self.loss_fn,
            self.plan,
        )
        # A sharded source yields this process's rows of each global batch (DDP).
        sharded = data.capabilities.sharded
        gen = self.generator if self.config.shuffle else None
        merge = self._merge_last
        batch_cbs = [cb for cb in self.callbacks if overrides(cb, "on_batch_end")]
        backward_cbs = [cb for cb in self.callbacks if overrides(cb, "on_backward_end")]
        losses: list[torch.Tensor] = []
        sizes: list = []
        penalty = self.penalty_fn if self.config.penalty_in_loss else None
        steps = plan.accumulation_steps
        group: list = []  # accumulated (weighted loss sum, weight) of this step

        def step(loss: torch.Tensor, bw, divide=None) -> None:
            plan.unscale(opt, divide)
            for cb in backward_cbs:
                cb.on_backward_end(self)
            plan.step(opt)
            # Kept on the device: no host sync inside the epoch.
            losses.append(loss.detach())
            sizes.append(bw)
            for cb in batch_cbs:
                cb.on_batch_end(self, loss.detach())

        def step_group() -> None:
            # sum_j (loss_j * w_j) / sum_j w_j is the loss of the union of the
            # group's batches; the L2 term of that union is penalty(1) / sum_j w_j.
            total = sum(w for _, w in group)
            if penalty is not None:
                plan.backward(penalty(1.0))
            loss = sum(lw for lw, _ in group) / total
            if penalty is not None:
                loss = loss + penalty(total).detach()
            step(loss, total, divide=total)
            group.clear()

        weighted = False
        for xb, yb, wb, scale, weight in data.batches(
            self.config.batch_size, gen, merge_last=merge
        ):
            with plan.forward():
                out = module(*xb)
            loss = loss_fn(plan.output(out), yb, wb)
            weighted = wb is not None
            bw = wb.sum() if weighted else yb.shape[0]
            if steps == 1:
                if penalty is not None:
                    loss = loss + penalty(bw if weight is None else weight)
                opt.zero_grad(set_to_none=True)
                plan.backward(loss if scale is None else loss * scale)
                step(loss, bw)
                continue
            if not group:
                opt.zero_grad(set_to_none=True)
            plan.backward(loss * bw)
            group.append((loss.detach() * bw, bw))
            if len(group) == steps:
                step_group()
        if group:  # the last, shorter group of the epoch
            step_group()
        stacked = torch.stack(losses)
        if weighted:
            weights = torch.stack(sizes).to(stacked.dtype)
        else:
            weights = torch.tensor(sizes, dtype=stacked.dtype, device=stacked.device)
        epoch_loss = (stacked * weights).sum() / weights.sum()
        if sharded:
            return mean_over_processes(epoch_loss, weights.sum())
        return epoch_loss

    def _full_batch_objective(self, data: BatchSource) -> torch.Tensor:
        n_w = float(data.n_samples) if data.w is None else float(data.w.sum())
        total = None
        batches = data.batches(
            max(self.config.batch_size, 8192), merge_last=self._merge_last
        )
        for xb, yb, wb, _, _ in batches:
            bw = yb.shape[0] if wb is None else wb.sum()
            part = self.loss_fn(self.module(*xb), yb, wb) * bw
            total = part if total is None else total + part
        obj = total / n_w
        if self.penalty_fn is not None:
            obj = obj + self.penalty_fn(n_w)
        return obj

    def _run_full_batch(self) -> dict | None:
        """Run L-BFGS to its end, one history record per iteration; return the last.

        The loss of each iteration comes from the solver (no extra evaluation); its
        stopping rule is scikit-learn's (``TrainConfig.full_batch``), and callbacks
        may still stop it. ``lbfgs_result`` keeps scipy's result.
        """
        cfg, st, train = self.config, self.state, self._train
        backward_cbs = [cb for cb in self.callbacks if overrides(cb, "on_backward_end")]
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        tic = time.perf_counter()
        last: dict | None = None

        def objective() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            obj = self._full_batch_objective(train)
            obj.backward()
            for cb in backward_cbs:
                cb.on_backward_end(self)
            return obj

        def on_iteration(loss: float) -> bool:
            nonlocal tic, last
            self._call("on_epoch_begin")
            st.epoch += 1
            st.t += train.n_samples
            st.loss_curve.append(loss)
            st.best_loss = min(st.best_loss, loss)
            last = {
                "epoch": st.epoch,
                "train_loss": loss,
                "lr": float(self.optimizer.param_groups[0]["lr"]),
                "dur": time.perf_counter() - tic,
            }
            self.history.append(last)
            self._call("on_epoch_end", last)
            if self.printer is not None:
                self.printer(format_record(last, cfg.max_epochs))
            tic = time.perf_counter()
            return self.stop_training

        self.lbfgs_result = minimize_lbfgs(
            params,
            objective,
            max_iter=cfg.max_epochs,
            max_fun=cfg.max_fun,
            gtol=cfg.tol,
            callback=on_iteration,
        )
        self._epochs_run = cfg.max_epochs
        if not bool(finite_flag(self._watched, train.device)):
            self.recover()
            return None
        if not self.stop_training:
            self.stop_training = True
            self.converged = self.lbfgs_result.status == 0
            self.stop_reason = str(self.lbfgs_result.message)
        else:
            self.converged = self.stop_reason not in ("interrupted", "diverged")
        return last

    @torch.inference_mode()
    def _validate(
        self, valid: BatchSource
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        out = predict_batched(self.module, valid)
        loss = self.loss_fn(out, valid.y, valid.w)
        score = None if self.score_fn is None else self.score_fn(out, valid.y, valid.w)
        return loss, score, out

    # -- convergence (scikit-learn's rule) ----------------------------------------------
    def _update_convergence(self, loss: float, score: float | None) -> None:
        st, cfg = self.state, self.config
        if cfg.monitor == "valid_score" and score is not None:
            st.validation_scores.append(score)
            improved = score >= st.best_score + cfg.tol
            if score > st.best_score:
                st.best_score = score
                if cfg.restore_best:
                    self._best_state = _clone_params(self.module)
        elif cfg.monitor == "train_loss":
            improved = loss <= st.best_loss - cfg.tol
        else:
            improved = True
        st.best_loss = min(st.best_loss, loss)
        st.no_improve = 0 if improved else st.no_improve + 1
        if cfg.monitor is not None and st.no_improve > cfg.n_iter_no_change:
            what = (
                "Validation score" if cfg.monitor == "valid_score" else "Training loss"
            )
            msg = (
                f"{what} did not improve more than tol={cfg.tol:f} for "
                f"{cfg.n_iter_no_change} consecutive epochs."
            )
            if self.schedule is not None and self.schedule.on_plateau(self.optimizer):
                st.no_improve = 0
                if self.printer is not None:
                    lr = float(self.optimizer.param_groups[0]["lr"])
                    self.printer(f"{msg} Setting learning rate to {lr:f}")
            else:
                self.stop_training = True
                self.stop_reason = msg

    # -- the loop ------------------------------------------------------------------
    def begin(self, train: BatchSource, valid: BatchSource | None = None) -> None:
        """Prepare a run over ``train`` (and ``valid``) and call ``on_train_begin``."""
        if valid is not None and valid.capabilities.streamed:
            valid = valid.resident()  # rows scored every epoch: on the device
        self._train, self._valid = train, valid
        self._best_state = None
        # Two snapshots of finite weights (swapped, not copied, each epoch): the newest
        # may be finite and still give non-finite outputs; then the one before it is
        # tried. A fresh fit's initial weights are no fallback (nothing was learnt).
        self._last_good = _clone_params(self.module)
        self._prev_good = _clone_params(self.module)
        self._n_good = 1 if self.state.epoch > 0 else 0
        self._watched = [
            v for v in self.module.state_dict().values() if v.is_floating_point()
        ]
        self._merge_last = has_batch_norm(self.module)
        self._epochs_run = 0
        self.module.train()
        self._call("on_train_begin")

    @property
    def done(self) -> bool:
        """True once training should not run another epoch."""
        return self.stop_training or self._epochs_run >= self.config.max_epochs

    def run_epoch(self) -> dict | None:
        """Run one epoch; return its history record, or ``None`` if the loss diverged."""
        cfg, st, train, valid = self.config, self.state, self._train, self._valid
        if cfg.full_batch:
            return self._run_full_batch()
        tic = time.perf_counter()
        self._call("on_epoch_begin")
        try:
            loss_t = self._epoch_stochastic(train)
            if self.penalty_fn is not None and not cfg.penalty_in_loss:
                # The L2 term over one optimiser step's rows.
                steps = self.plan.accumulation_steps
                loss_t = loss_t + self.penalty_fn(cfg.batch_size * steps)
        except ValueError as exc:
            if _is_one_row_error(exc):  # torch's message names no parameter
                raise one_row_batch_error(train.n_samples, cfg.batch_size) from exc
            raise
        except Exception as exc:
            error = compile_error(exc, self.plan.compile)
            if error is not None:
                raise error from exc
            raise
        values = [loss_t.detach(), finite_flag(self._watched, train.device)]
        if valid is not None:
            v_loss, v_score, v_out = self._validate(valid)
            values.append(v_loss)
            if v_score is not None:
                values.append(v_score)
        # The one host sync of the epoch.
        read = read_values(values)
        self._epochs_run += 1
        loss = read.pop(0)
        if not (math.isfinite(loss) and read.pop(0) == 1.0):
            self.recover()
            return None
        st.epoch += 1
        st.t += train.n_samples
        st.loss_curve.append(loss)
        record = {
            "epoch": st.epoch,
            "train_loss": loss,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
        }
        score = None
        if valid is not None:
            record["valid_loss"] = read[0]
            if len(read) > 1:
                score = read[1]
                record["valid_score"] = score
            view = self.validation_view
            self.validation = v_out if view is None else view(v_out)
            if self.metrics_fn is not None:  # host-side metrics: only when asked
                record.update(self.metrics_fn(self.validation))
                score = record.get("valid_score", score)
        record["dur"] = time.perf_counter() - tic
        self.history.append(record)
        self._update_convergence(loss, score)
        if self.schedule is not None:
            self.schedule.epoch_end(self.optimizer, st.t)
        self._call("on_epoch_end", record)
        if train.capabilities.sharded:  # a stop in any process stops all
            self.stop_training = any_process(self.stop_training, train.device)
        if self.printer is not None and is_main_process():
            self.printer(format_record(record, cfg.max_epochs))
        self._prev_good, self._last_good = self._last_good, self._prev_good
        for k, v in self.module.state_dict().items():
            self._last_good[k].copy_(v)
        self._n_good += 1
        if self.stop_training:
            self.converged = self.stop_reason not in ("interrupted", "diverged")
        return record

    @torch.no_grad()
    def outputs_finite(self, rows: int | None = None) -> bool:
        """Whether the module's eval-mode outputs on the training rows (the first
        ``rows`` of them, as the source yields them unshuffled) are finite."""
        data = self._train
        if rows is not None and data.n_samples > rows:
            data = TensorData.from_tensors(first_inputs(data, rows))
        return bool(torch.isfinite(predict_batched(self.module, data)).all())

    def recover(
        self,
        snapshots: Sequence[dict] | None = None,
        fallback: dict | None = None,
        newer: int = 0,
    ) -> None:
        """End a diverged run with the newest finite snapshot whose outputs are finite.

        Sets ``stop_reason`` to ``"diverged"``, or to ``"non-finite"`` (weights of the
        last snapshot tried, or ``fallback``) when no snapshot qualifies. The records
        of the epochs whose weights are passed over leave the history, so that the
        weights are always those of the last recorded epoch.

        Parameters
        ----------
        snapshots : sequence of dict, optional
            State dicts to try, newest first; by default this run's own.
        fallback : dict, optional
            Loaded when ``snapshots`` is empty (a fresh fit's initial weights); by
            default this run's own.
        newer : int, default=0
            Recorded epochs newer than the first snapshot.
        """
        if snapshots is None:
            snapshots = [self._last_good, self._prev_good][: self._n_good]
            fallback = self._last_good
        self.stop_training = True
        self.stop_reason = "non-finite"
        for passed_over, snap in enumerate(snapshots):
            self.module.load_state_dict(snap, strict=False)
            if self.outputs_finite():
                self.stop_reason = "diverged"
                self._forget(newer + passed_over)
                return
        if not snapshots and fallback is not None:  # back to finite initial weights
            self.module.load_state_dict(fallback, strict=False)

    def _forget(self, n_epochs: int) -> None:
        """Drop the records of the last ``n_epochs`` epochs (their weights were not
        kept)."""
        st = self.state
        for _ in range(min(n_epochs, len(st.loss_curve))):
            st.loss_curve.pop()
            st.epoch -= 1
            st.t -= self._train.n_samples
            if self.history:
                self.history.pop()
            if len(st.validation_scores) > len(st.loss_curve):
                st.validation_scores.pop()
        st.best_loss = min(st.loss_curve, default=math.inf)

    def interrupt(self) -> None:
        """End training as a Ctrl-C does: keep the last completed epoch's weights."""
        self.stop_training = True
        self.stop_reason = "interrupted"
        with torch.no_grad():
            self.module.load_state_dict(self._last_good)

    def end(self) -> None:
        """Restore the best weights where asked, call ``on_train_end``, go to eval mode.

        Finite weights can still overflow: when the final weights' outputs on the first
        training rows are not finite, the run ends as a diverged one (:meth:`recover`).
        """
        if self._best_state is not None:
            with torch.no_grad():
                self.module.load_state_dict(self._best_state)
            self._best_state = None
        ended = self.stop_reason in ("interrupted", "diverged", "non-finite")
        if self._epochs_run and not ended and not self.outputs_finite(_CHECKED_ROWS):
            self.recover()
        self._call("on_train_end")
        self.module.eval()

    def fit(self, train: BatchSource, valid: BatchSource | None = None) -> Trainer:
        """Run the epochs; returns ``self``.

        Parameters
        ----------
        train : BatchSource
            Training rows (:mod:`sknn.training.sources`).
        valid : BatchSource, optional
            Held-out rows scored after each epoch.

        Returns
        -------
        Trainer
        """
        self.begin(train, valid)
        try:
            while not self.done:
                self.run_epoch()
        except KeyboardInterrupt:
            self.interrupt()
        finally:
            self.end()
        return self


def format_record(record: dict, max_epochs: int | None = None) -> str:
    """The verbose lines of an epoch, as scikit-learn's MLP prints them.

    ``Iteration 3, loss = 0.41234567`` first (the line scikit-learn users parse), then
    sknn's extras in parentheses; a ``Validation score: ...`` line follows when the
    epoch was scored on held-out rows.

    Examples
    --------
    >>> from sknn.training.engine import format_record
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
