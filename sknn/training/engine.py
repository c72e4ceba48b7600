"""The training loop.

One :class:`Trainer` runs epochs of mini-batch (or full-batch L-BFGS) optimisation over
a :mod:`batch source <sknn.training.sources>`, keeps its records in an
:class:`~sknn.training.book.EpochBook` (scikit-learn's convergence rule, the schedule's
steps), and calls the hooks (:class:`~sknn.training.hooks.Hooks`). It knows nothing of
scikit-learn: estimators build it from their parameters.

Rules it follows: data is already on the device; the loss is accumulated on the device
and read once per epoch (with one flag saying whether the weights are still finite);
callbacks stop training through ``stop_training``; a ``KeyboardInterrupt`` ends training
cleanly with the last completed epoch's weights; a non-finite loss or non-finite weights
end it with the newest finite weights whose outputs on the training rows are finite
(``stop_reason="diverged"``, :mod:`sknn.training.divergence`), or with
``stop_reason="non-finite"`` where a fresh fit has no such weights. Modules with batch
normalisation never see a one-row training batch: a last batch of one row is merged
into the one before it.

The module is one class, past the ~600 lines of the house rule: the loop, the run's
life cycle (begin, epochs, end, interruption, recovery) and its resumable state share
the run's state (its rows, snapshots and best weights); what is shared with the stacked
engine (records and rules, divergence checks and snapshots, batching) lives in
:mod:`~sknn.training.book`, :mod:`~sknn.training.divergence` and
:mod:`~sknn.training.sources`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from sknn.training.book import (
    EpochBook,
    TrainConfig,
    TrainState,
    ended_converged,
    format_record,
)
from sknn.training.data import TensorData
from sknn.training.distributed import (
    any_process,
    is_main_process,
    mean_over_processes,
)
from sknn.training.divergence import (
    DivergenceGuard,
    finite_flag,
    read_values,
    warn_non_finite,
    widest_dtype,
)
from sknn.training.history import History
from sknn.training.hooks import Hooks, overrides
from sknn.training.inference import predict_batched
from sknn.training.optim import LRSchedule, minimize_lbfgs
from sknn.training.precision import StepPlan, compile_error
from sknn.training.sources import BatchSource, first_inputs, has_batch_norm

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def _clone_params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


#: Rows whose outputs are checked finite at the end of a fit (one small forward pass).
_CHECKED_ROWS = 256


def one_row_batch_error(
    n_samples: int, batch_size: int, streamed: bool = False
) -> ValueError:
    """The error for a batch-norm module trained on a batch of one row."""
    if streamed:  # the loader cuts the batches; a lone last row is merged already
        return ValueError(
            "Batch normalisation needs at least 2 rows in every training batch, but "
            f"a batch of the loader had 1 row (n_samples={n_samples}). Give the "
            "DataLoader a batch_size of at least 2 (a one-row last batch joins the "
            "batch before it), or drop_last=True, or set batch_norm=False."
        )
    return ValueError(
        "Batch normalisation needs at least 2 rows in every training batch, but a "
        f"batch had 1 row (n_samples={n_samples}, batch_size={batch_size}). Fit on at "
        "least 2 samples with a batch_size of at least 2, or set batch_norm=False."
    )


def _is_one_row_error(exc: ValueError) -> bool:
    return "Expected more than 1 value per channel when training" in str(exc)


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
        #: The records and the rules read from them (shared with the stacked engine).
        self.book = EpochBook(
            config,
            self.state,
            self.history,
            schedule=schedule,
            optimizer=optimizer,
            printer=printer,
        )
        # The current run (begin): its rows, snapshots and best weights so far.
        self._train: BatchSource | None = None
        self._valid: BatchSource | None = None
        self._guard: DivergenceGuard | None = None
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
        self.book.epochs_run = self.state.epoch
        self._guard.reset(self.module.state_dict())
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
        cfg, train = self.config, self._train
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
            last = self.book.record(loss)
            self.book.conclude(last, time.perf_counter() - tic, rules=False)
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
        self.book.epochs_run = cfg.max_epochs  # the solver ran its iterations
        if not bool(finite_flag(self._watched, train.device)):
            self.recover()
            return None
        if not self.stop_training:
            self.stop_training = True
            self.converged = self.lbfgs_result.status == 0
            self.stop_reason = str(self.lbfgs_result.message)
        else:
            self.converged = ended_converged(self.stop_reason)
        return last

    @torch.inference_mode()
    def _validate(
        self, valid: BatchSource
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        out = predict_batched(self.module, valid)
        loss = self.loss_fn(out, valid.y, valid.w)
        score = None if self.score_fn is None else self.score_fn(out, valid.y, valid.w)
        return loss, score, out

    # -- the loop ------------------------------------------------------------------
    def begin(self, train: BatchSource, valid: BatchSource | None = None) -> None:
        """Prepare a run over ``train`` (and ``valid``) and call ``on_train_begin``."""
        if valid is not None and valid.capabilities.streamed:
            valid = valid.resident()  # rows scored every epoch: on the device
        self._train, self._valid = train, valid
        self._best_state = None
        self._guard = DivergenceGuard(
            self.module.state_dict(), kept=[1 if self.state.epoch > 0 else 0]
        )
        self._watched = [
            v for v in self.module.state_dict().values() if v.is_floating_point()
        ]
        self._merge_last = has_batch_norm(self.module)
        self.book.start(train.n_samples)
        self.module.train()
        self._call("on_train_begin")

    def join(self, train: BatchSource, valid: BatchSource | None = None) -> None:
        """Prepare this run's records for epochs that another engine runs (the
        stacked engine, which keeps the snapshots and the best weights itself and
        runs no hooks): it books each epoch in :attr:`book`, and :attr:`done`,
        :meth:`recover` and :meth:`outputs_finite` work as in :meth:`fit`."""
        self._train, self._valid = train, valid
        self._best_state = None
        self.book.start(train.n_samples)
        self.module.train()

    @property
    def done(self) -> bool:
        """True once training should not run another epoch."""
        return self.stop_training or self.book.exhausted

    def run_epoch(self) -> dict | None:
        """Run one epoch; return its history record, or ``None`` if the loss diverged."""
        cfg, train, valid = self.config, self._train, self._valid
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
                raise one_row_batch_error(
                    train.n_samples, cfg.batch_size, train.capabilities.streamed
                ) from exc
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
        self.book.count_epoch()
        loss = read.pop(0)
        if not (math.isfinite(loss) and read.pop(0) == 1.0):
            self.recover()
            return None
        if valid is None:
            record = self.book.record(loss)
        else:
            record = self.book.record(loss, read[0], read[1] if len(read) > 1 else None)
            view = self.validation_view
            self.validation = v_out if view is None else view(v_out)
            if self.metrics_fn is not None:  # host-side metrics: only when asked
                record.update(self.metrics_fn(self.validation))
        self._settle(self.book.conclude(record, time.perf_counter() - tic))
        self._call("on_epoch_end", record)
        if train.capabilities.sharded:  # a stop in any process stops all
            self.stop_training = any_process(self.stop_training, train.device)
        if self.printer is not None and is_main_process():
            self.printer(format_record(record, cfg.max_epochs))
        self._guard.commit(self.module.state_dict())
        if self.stop_training:
            self.converged = ended_converged(self.stop_reason)
        return record

    def _settle(self, verdict) -> None:
        """Act on an epoch's :class:`~sknn.training.book.Verdict`: keep the best
        weights, stop where the convergence rule says so."""
        if verdict.new_best:
            self._best_state = _clone_params(self.module)
        if verdict.stop is not None:
            self.stop_training, self.stop_reason = True, verdict.stop

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
            snapshots = self._guard.snapshots()
            fallback = self._guard.latest()
        self.stop_training = True
        self.stop_reason = "non-finite"
        for passed_over, snap in enumerate(snapshots):
            self.module.load_state_dict(snap, strict=False)
            if self.outputs_finite():
                self.stop_reason = "diverged"
                self.book.forget(newer + passed_over)
                return
        if not snapshots and fallback is not None:  # back to finite initial weights
            self.module.load_state_dict(fallback, strict=False)

    def interrupt(self) -> None:
        """End training as a Ctrl-C does: keep the last completed epoch's weights."""
        self.stop_training = True
        self.stop_reason = "interrupted"
        with torch.no_grad():
            self.module.load_state_dict(self._guard.latest())

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
        if (
            self.book.epochs_run
            and not ended
            and not self.outputs_finite(_CHECKED_ROWS)
        ):
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


# The records, checks and rules the engine uses, importable from here as before.
__all__ = [
    "TrainConfig",
    "TrainState",
    "Trainer",
    "finite_flag",
    "format_record",
    "has_batch_norm",
    "one_row_batch_error",
    "read_values",
    "warn_non_finite",
    "widest_dtype",
]
