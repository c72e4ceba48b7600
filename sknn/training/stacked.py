"""Train K networks of the same shape in one pass: stacked weights, batched updates.

Cross-validation folds, seeds and hyper-parameter candidates of one architecture differ
only in their rows, their random streams and a few scalars (learning rate, L2 penalty,
momentum, ...). :class:`StackedTrainer` stacks the K modules' parameters along a new
leading "model" axis, runs their forward and backward passes as one batched call
(:func:`torch.func.functional_call` under :func:`torch.vmap`), and updates them with
torch's own fused Adam / AdamW / SGD kernels applied to per-model views of the stacked
tensors, each model with its own hyper-parameters.

Each model keeps what a single fit would have: its own rows, its own shuffling
generator (the same ``torch.randperm`` draws as :class:`~sknn.training.Trainer`), its
own batch boundaries (shorter models are padded and masked), its own loss curve,
convergence rule, learning-rate schedule, early stopping and best weights. A model that
stops is written back to its module and dropped from the stack; the pass ends when all
have stopped. On CPU, a model trained here and the same model trained alone give the
same weights up to float rounding (dropout draws from other random streams).

:mod:`sknn.training.stack_plan` says which runs may share a pass and splits K into
passes that fit the device's memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
from torch.func import functional_call, vmap

from sknn.training.book import ended_converged, format_record
from sknn.training.data import TensorData
from sknn.training.divergence import DivergenceGuard, read_values, widest_dtype
from sknn.training.engine import _CHECKED_ROWS, Trainer
from sknn.training.sources import has_batch_norm, last_batch_merged


def _concat(parts: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    return None if any(p is None for p in parts) else torch.cat(parts)


class _Stack:
    """The rows of K in-memory row sources (:class:`~sknn.training.TensorData`, the
    only kind :func:`~sknn.training.stack_plan.stack_reason` lets in) in one tensor,
    read through padded per-model indices."""

    def __init__(self, datas: Sequence[TensorData], device: torch.device) -> None:
        self.n = torch.tensor([d.n_samples for d in datas], device=device)
        self.offset = torch.cumsum(self.n, 0) - self.n
        self.x = _concat([d.inputs[0] for d in datas])
        self.y = _concat([d.y for d in datas])
        w = [
            d.w
            if d.w is not None
            else torch.ones(d.n_samples, device=device, dtype=d.inputs[0].dtype)
            for d in datas
        ]
        self.w = torch.cat(w)
        self.weighted = [d.w is not None for d in datas]

    def take(self, models: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor):
        """Rows at per-model positions ``pos`` (K, B); masked rows get weight 0."""
        rows = torch.where(valid, pos + self.offset[models, None], 0).reshape(-1)
        shape = pos.shape
        x = self.x.index_select(0, rows).reshape(*shape, *self.x.shape[1:])
        y = self.y.index_select(0, rows).reshape(*shape, *self.y.shape[1:])
        w = self.w.index_select(0, rows).reshape(shape) * valid
        return x, y, w


class StackedTrainer:
    """Train several :class:`~sknn.training.Trainer` runs of one architecture at once.

    Each trainer is prepared as for a single fit (module built with its seed, optimiser
    with its hyper-parameters, its shuffling generator, config, history and state); this
    class runs them together and leaves every trainer, module, state and history as
    :meth:`Trainer.fit` would have.

    Parameters
    ----------
    trainers : sequence of Trainer
        Runs whose modules share an :func:`architecture_key`; none may have a
        :func:`stack_reason`.
    trains : sequence of TensorData
        Each run's training rows.
    valids : sequence of TensorData or None
        Each run's validation rows (early stopping), or ``None``.
    alphas : sequence of float
        Each run's L2 coefficient: the reported penalty is
        ``0.5 * alpha * ||W||^2 / batch_size`` as in :class:`Trainer`.
    rng : context manager, optional
        Entered around the pass: the random stream of dropout.
    printer : callable, optional
        Receives one line per model and epoch (verbose mode).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, TrainConfig, Trainer
    >>> from sknn.training.stacked import StackedTrainer
    >>> X = np.random.RandomState(0).randn(64, 3); y = X @ np.ones(3)
    >>> def mse(out, y, w):
    ...     return (w * ((out - y) ** 2).mean(1)).sum() / w.sum()
    >>> data = TensorData(X, y[:, None], None, torch.device("cpu"))
    >>> trainers = []
    >>> _ = torch.manual_seed(0)
    >>> for lr in (0.001, 0.1):
    ...     net = torch.nn.Linear(3, 1)
    ...     opt = torch.optim.SGD(net.parameters(), lr=lr)
    ...     trainers.append(Trainer(net, mse, opt, TrainConfig(max_epochs=30, batch_size=16)))
    >>> StackedTrainer(trainers, [data, data], [None, None], alphas=[0, 0]).fit()
    >>> slow, fast = (t.history[-1]["train_loss"] for t in trainers)
    >>> bool(fast < 1e-2 < slow)
    True
    """

    def __init__(
        self,
        trainers: Sequence[Trainer],
        trains: Sequence[TensorData],
        valids: Sequence[TensorData | None],
        *,
        alphas: Sequence[float],
        rng=None,
        printer: Callable[[str], None] | None = None,
    ) -> None:
        self.trainers = list(trainers)
        self.trains = list(trains)
        self.valids = list(valids)
        self.alphas = list(alphas)
        self.rng = rng
        self.printer = printer

    # -- set-up -------------------------------------------------------------------------
    def _setup(self) -> None:
        trainers = self.trainers
        first = trainers[0].module
        dev = self.trains[0].device
        self.device = dev
        self.names = [n for n, _ in first.named_parameters()]
        mods = [t.module for t in trainers]
        self.params = [
            torch.stack([dict(m.named_parameters())[n].detach() for m in mods]).clone()
            for n in self.names
        ]
        self.bnames = [n for n, _ in first.named_buffers()]
        self.buffers = [
            torch.stack([dict(m.named_buffers())[n].detach() for m in mods]).clone()
            for n in self.bnames
        ]
        dtype = self.params[0].dtype
        self.base = first
        self.data = _Stack(self.trains, dev)
        has_valid = [v is not None for v in self.valids]
        self.vdata = (
            _Stack([v for v in self.valids if v is not None], dev)
            if any(has_valid)
            else None
        )
        self.vslot = torch.tensor(
            [sum(has_valid[:k]) if h else -1 for k, h in enumerate(has_valid)],
            device=dev,
        )
        # Per-model, per-parameter hyper-parameters read off each built optimiser.
        K = len(trainers)
        self.kind = type(trainers[0].optimizer).__name__
        group_of = []
        for t in trainers:
            where = {}
            for g in t.optimizer.param_groups:
                for p in g["params"]:
                    where[id(p)] = g
            group_of.append([where[id(p)] for p in t.module.parameters()])

        self.steps = torch.zeros(K, dtype=torch.float32, device=dev)
        self.decayed = [p.ndim > 2 for p in self.params]
        # Hyper-parameters on the host, for torch's fused kernels (as the single fit).
        self.lr_host = [float(g[0]["lr"]) for g in group_of]
        self.hyper = []
        for groups in group_of:
            first = groups[0]
            wd = next(
                (float(g["weight_decay"]) for g, d in zip(groups, self.decayed) if d),
                0.0,
            )
            if self.kind == "SGD":
                self.hyper.append(
                    (wd, float(first["momentum"]), bool(first["nesterov"]))
                )
            else:
                b1, b2 = first["betas"]
                self.hyper.append((wd, float(b1), float(b2), float(first["eps"])))
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self._view_cache = None
        self.alpha = torch.tensor(self.alphas, dtype=dtype, device=dev)
        self.penalty_in_loss = torch.tensor(
            [t.config.penalty_in_loss for t in trainers], device=dev
        )
        self.active = list(range(K))  # original indices of the models still stacked
        self.best = [None] * K  # each model's best weights, stacked rows (books say)
        # The divergence guard of Trainer.begin, over the stacked weights.
        self.guard = DivergenceGuard(
            self._named_state(), kept=[1 if t.state.epoch > 0 else 0 for t in trainers]
        )
        self.diverged: set[int] = set()
        self.merge_last = has_batch_norm(self.base)
        for t, train, valid in zip(trainers, self.trains, self.valids):
            t.join(train, valid)  # its records; the epochs run here

        def forward(p, x):
            return functional_call(self.base, p, (x,))

        self._fwd = vmap(forward, randomness="different")
        self._loss = vmap(trainers[0].loss_fn)
        score_fn = trainers[0].score_fn
        self._score = None if score_fn is None else vmap(score_fn)

    # -- the batched pieces -------------------------------------------------------------
    def _state(self) -> list[torch.Tensor]:
        """The stacked weights, then the stacked buffers (what a state dict holds)."""
        return self.params + self.buffers

    def _named_state(self) -> dict[str, torch.Tensor]:
        """The stacked weights and buffers by their names in a module's state dict."""
        return dict(zip(self.names + self.bnames, self._state()))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # Buffers go in stacked too: batch norm updates each model's own statistics.
        tensors = dict(zip(self.names, self.params))
        tensors.update(zip(self.bnames, self.buffers))
        return self._fwd(tensors, x)

    def _penalty(self, denom: torch.Tensor) -> torch.Tensor:
        sq = sum(
            (p * p).flatten(1).sum(1) for p, d in zip(self.params, self.decayed) if d
        )
        # No penalty where alpha is 0 (as a single fit): 0 * inf would be NaN.
        return torch.where(self.alpha > 0, 0.5 * self.alpha * sq / denom, 0.0)

    def _views(self) -> tuple:
        """Per-model views of the stacked weights and optimiser state, made once per
        stack (the update kernels write through them in place)."""
        if self._view_cache is None:
            self._view_cache = (
                [p.detach().unbind(0) for p in self.params],
                [m.unbind(0) for m in self.m],
                [v.unbind(0) for v in self.v],
                self.steps.unbind(0),
            )
        return self._view_cache

    @torch.no_grad()
    def _update(self, grads, step_on) -> None:
        """One optimiser step of the models where ``step_on`` is true (all if None).

        Runs torch's own fused kernels over per-model views of the stack.

        Models that share their hyper-parameters share a kernel call; the arithmetic is
        that of the single fit's (fused) optimiser.
        """
        # Per-model views: unbind is one call per tensor, not one per model.
        grads = [g.contiguous().unbind(0) for g in grads]  # kernels read dense memory
        params, m, v, steps = self._views()
        on = [True] * len(self.active) if step_on is None else step_on.tolist()
        groups: dict = {}
        for i, k in enumerate(self.active):
            if on[i]:
                groups.setdefault(self.hyper[k] + (self.lr_host[k],), []).append(i)
        if self.kind != "SGD":
            idx = [i for i, flag in enumerate(on) if flag]
            self.steps[idx] += 1
        for key, idxs in groups.items():
            lr = key[-1]
            for decay in (True, False):
                js = [j for j, d in enumerate(self.decayed) if d == decay]
                if not js:
                    continue
                ps = [params[j][i] for j in js for i in idxs]
                gs = [grads[j][i] for j in js for i in idxs]
                ms = [m[j][i] for j in js for i in idxs]
                wd = key[0] if decay else 0.0
                if self.kind == "SGD":
                    torch._fused_sgd_(
                        ps, gs, ms if key[1] else [], weight_decay=wd, momentum=key[1], lr=lr,
                        dampening=0.0, nesterov=key[2], maximize=False,
                        is_first_step=False,
                    )  # fmt: skip
                    continue
                vs = [v[j][i] for j in js for i in idxs]
                st = [steps[i] for _ in js for i in idxs]
                fn = torch._fused_adamw_ if self.kind == "AdamW" else torch._fused_adam_
                fn(
                    ps, gs, ms, vs, [], st, lr=lr, beta1=key[1], beta2=key[2],
                    weight_decay=wd, eps=key[3], amsgrad=False, maximize=False,
                )  # fmt: skip

    def _epoch(self) -> torch.Tensor:
        """One epoch of every stacked model; returns each model's mean training loss."""
        K = len(self.active)
        dev = self.device
        models = torch.tensor(self.active, device=dev)
        n_host = [self.trains[k].n_samples for k in self.active]
        b_host = [self.trainers[k].config.batch_size for k in self.active]
        # Batch norm: a last batch of one row joins the one before (as TensorData).
        merged = [
            last_batch_merged(nk, bk, self.merge_last) for nk, bk in zip(n_host, b_host)
        ]
        steps_host = [-(-nk // bk) - m for nk, bk, m in zip(n_host, b_host, merged)]
        perm = torch.zeros(K, max(n_host), dtype=torch.long)
        for i, k in enumerate(self.active):
            t = self.trainers[k]
            if t.config.shuffle:
                perm[i, : n_host[i]] = torch.randperm(n_host[i], generator=t.generator)
            else:
                perm[i, : n_host[i]] = torch.arange(n_host[i])
        perm = perm.to(dev, non_blocking=True)
        n = torch.tensor(n_host, device=dev)
        batch = torch.tensor(b_host, device=dev)
        n_steps = torch.tensor(steps_host, device=dev)
        cols = torch.arange(max(b_host) + any(merged), device=dev)
        in_batch = cols < batch[:, None]
        if any(merged):
            last_step = torch.tensor(
                [st - 1 if m else -1 for st, m in zip(steps_host, merged)], device=dev
            )
        total = torch.zeros(K, dtype=self.params[0].dtype, device=dev)
        pen_in = self.penalty_in_loss[models]
        any_pen_in = any(self.trainers[k].config.penalty_in_loss for k in self.active)
        all_steps = min(steps_host)
        for s in range(max(steps_host)):
            # As wide as the widest batch of this step: models whose batches line up
            # (same rows and batch size) get no padded rows, even in the last batch.
            width = max(
                nk - s * b if m and s == st - 1 else min(b, nk - s * b)
                for nk, b, m, st in zip(n_host, b_host, merged, steps_host)
            )
            pos = s * batch[:, None] + cols[:width]
            if any(merged):
                rows = batch + (last_step == s)
                valid = (cols[:width] < rows[:, None]) & (pos < n[:, None])
            else:
                valid = in_batch[:, :width] & (pos < n[:, None])
            pos = torch.gather(perm, 1, torch.where(valid, pos, 0))
            xb, yb, wb = self.data.take(models, pos, valid)
            step_on = None if s < all_steps else s < n_steps
            for p in self.params:
                p.requires_grad_(True)
            out = self._forward(xb)
            bw = wb.sum(1)
            if step_on is not None:  # models past their last batch: harmless weights
                wb = wb + (~step_on)[:, None]
            loss = self._loss(out, yb, wb)
            if any_pen_in:
                loss = loss + torch.where(pen_in, self._penalty(bw.clamp_min(1e-30)), 0)
            if step_on is not None:
                loss = torch.where(step_on, loss, 0)
            grads = torch.autograd.grad(loss.sum(), self.params)
            for p in self.params:
                p.requires_grad_(False)
            self._update(grads, step_on)
            total += loss.detach() * bw
        weighted = torch.tensor(
            [self.data.weighted[k] for k in self.active], device=dev
        )
        denom = torch.where(weighted, self._sum_w(models), n.to(total.dtype))
        loss = total / denom
        pen = self._penalty(batch.to(total.dtype))
        return torch.where(pen_in, loss, loss + pen)

    def _finite(self) -> torch.Tensor:
        """Per stacked model: whether all its weights and buffers are finite."""
        state = [p for p in self._state() if p.is_floating_point() and p[0].numel()]
        dtype = widest_dtype(state)
        ends = [
            torch.stack(torch.aminmax(p.reshape(p.shape[0], -1), dim=1)).to(dtype)
            for p in state
        ]
        if not ends:
            return torch.ones(len(self.active), device=self.device)
        return torch.isfinite(torch.cat(ends)).all(0)

    def _sum_w(self, models: torch.Tensor) -> torch.Tensor:
        return torch.stack(
            [
                self.trains[k].w.sum()
                if self.trains[k].w is not None
                else torch.zeros((), device=self.device)
                for k in models.tolist()
            ]
        ).to(self.params[0].dtype)

    @torch.no_grad()
    def _validate(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Validation loss and score of every stacked model (NaN where none)."""
        self.base.eval()
        try:
            models = torch.tensor(self.active, device=self.device)
            slots = self.vslot[models]
            has = slots >= 0
            vd = self.vdata
            n = torch.where(has, vd.n[slots.clamp_min(0)], 1)
            cols = torch.arange(int(n.max()), device=self.device)
            valid = (cols < n[:, None]) & has[:, None]
            xb, yb, wb = vd.take(
                slots.clamp_min(0), cols.expand(len(models), -1), valid
            )
            out = self._forward(xb)
            wb = wb + (~has)[:, None] * 1.0
            loss = self._loss(out, yb, wb)
            score = None if self._score is None else self._score(out, yb, wb)
        finally:
            self.base.train()
        return loss, score

    # -- the loop ----------------------------------------------------------------------
    def _finish(self, k: int, idx: int) -> None:
        """Write model ``k`` (row ``idx`` of the stack) back to its module."""
        t = self.trainers[k]
        source = (
            self.best[k]
            if self.best[k] is not None
            else [p[idx] for p in self._state()]
        )
        targets = dict(t.module.named_parameters())
        targets.update(t.module.named_buffers())
        with torch.no_grad():
            for name, value in zip(self.names + self.bnames, source):
                targets[name].copy_(value)
        t.module.eval()

    def _recover(self, k: int, idx: int, newer: int = 0) -> None:
        """Give diverged model ``k`` (row ``idx``) its newest snapshot with finite
        outputs, as :meth:`Trainer.recover` does (best weights, if any, win)."""
        t = self.trainers[k]
        if self.best[k] is not None:
            return
        with torch.no_grad():
            t.recover(
                self.guard.snapshots(idx), fallback=self.guard.latest(idx), newer=newer
            )
        t.module.eval()

    def _drop(self, keep: list[int]) -> None:
        idx = torch.tensor(keep, device=self.device)

        def sel(ts):
            return [x.index_select(0, idx) for x in ts]

        self.params, self.m, self.v = sel(self.params), sel(self.m), sel(self.v)
        self.buffers = sel(self.buffers)
        self._view_cache = None
        self.guard.select(keep)
        self.steps = self.steps.index_select(0, idx)
        self.alpha = self.alpha.index_select(0, idx)
        self.active = [self.active[i] for i in keep]

    def _record(self, i: int, k: int, loss: float, vloss, vscore, dur: float) -> bool:
        """Book one model's epoch in its trainer's :class:`~sknn.training.book.
        EpochBook`, as :meth:`Trainer.run_epoch` does; True if the model stops."""
        t = self.trainers[k]
        t.book.count_epoch()
        if not math.isfinite(loss):  # the loss or the weights (see _run_epoch)
            t.stop_training, t.stop_reason = True, "diverged"
            self.diverged.add(k)
            return True
        record = t.book.record(loss, vloss, vscore)
        verdict = t.book.conclude(record, dur)
        if verdict.new_best:
            self.best[k] = [p[i].clone() for p in self._state()]
        if verdict.stop is not None:
            t.stop_training, t.stop_reason = True, verdict.stop
        self.lr_host[k] = t.book.lr()  # the schedule's step
        if self.printer is not None:
            self.printer(f"[model {k}] " + format_record(record))
        if t.stop_training:
            t.converged = ended_converged(t.stop_reason)
        return t.done

    def begin(self) -> None:
        """Stack the runs; then call :meth:`run_epoch` until :attr:`done`, and
        :meth:`end` (as :meth:`fit` does), to train epoch by epoch."""
        self._setup()

    @property
    def done(self) -> bool:
        """True once every model has stopped."""
        return not self.active

    def run_epoch(self) -> None:
        """One epoch of every model still stacked (models that stop leave the stack).

        Each model's record goes to its trainer's ``history``, as in a single fit.
        """
        if self.rng is None:
            self._run_epoch()
        else:
            with self.rng:
                self._run_epoch()

    def interrupt(self) -> None:
        """End training as a Ctrl-C does: keep each model's last completed epoch."""
        for i, k in enumerate(self.active):
            latest = self.guard.latest(i)
            with torch.no_grad():
                for p, name in zip(self._state(), self.names + self.bnames):
                    p[i].copy_(latest[name])
            t = self.trainers[k]
            t.stop_training, t.stop_reason = True, "interrupted"

    def end(self) -> None:
        """Write every model still stacked back to its module."""
        for i, k in enumerate(self.active):
            self._finish(k, i)
        self.active = []

    def fit(self) -> None:
        """Run until every model has stopped; leave each trainer as after ``fit``."""
        self.begin()
        try:
            while not self.done:
                self.run_epoch()
        except KeyboardInterrupt:
            self.interrupt()
        finally:
            self.end()

    def _run_epoch(self) -> None:
        tic = time.perf_counter()
        loss_t = self._epoch()
        values = [loss_t, self._finite()]
        if self.vdata is not None:
            vloss, vscore = self._validate()
            values.append(vloss)
            if vscore is not None:
                values.append(vscore)
        read = read_values(values)
        dur = time.perf_counter() - tic
        keep = []
        for i, k in enumerate(self.active):
            has_v = self.valids[k] is not None
            stop = self._record(
                i,
                k,
                read[0][i] if read[1][i] == 1.0 else math.nan,
                read[2][i] if has_v else None,
                read[3][i] if has_v and len(read) > 3 else None,
                dur,
            )
            if stop:
                self._finish(k, i)
                # Finite weights can still overflow (as Trainer.end checks).
                if k in self.diverged:
                    self._recover(k, i)
                elif not self.trainers[k].outputs_finite(_CHECKED_ROWS):
                    self._recover(k, i, newer=1)  # this epoch is recorded
            else:
                keep.append(i)
        if len(keep) < len(self.active):
            if keep:
                self._drop(keep)
            else:
                self.active = []
        self.guard.commit(self._named_state())
