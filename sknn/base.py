"""The shared estimator base: parameters, the fit / partial_fit / predict templates, tags.

Concrete estimators (:mod:`sknn.estimators`) add their architecture parameters and say
how to build the module from fit-time facts (``meta``); the classifier and regressor
mixins say how targets are encoded, which loss is optimised and how outputs are decoded.
Everything about the loop itself lives in :mod:`sknn.training`.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from numbers import Integral, Real
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sknn._archive import load_optimizer_into
from sknn._nested import NestedParamsMixin
from sknn._settings import check_no_bool_numbers
from sknn.data.adapters import (
    StreamInput,
    adapt_fit_input,
    adapt_predict_input,
    check_loader_kwargs,
    is_dataset,
    predict_chunks,
)
from sknn.data.split import validation_split
from sknn.finetune import FineTuneMixin
from sknn.scoring import (
    ValidationPredictions,
    check_scoring,
    validation_metrics,
    wants_rows,
)
from sknn.targets import TargetHandler
from sknn.training import (
    SOLVERS,
    History,
    TensorData,
    TrainConfig,
    Trainer,
    build_optimizer,
    distributed,
    predict_batched,
)
from sknn.training.custom import (
    UserLoss,
    check_custom_params,
    make_optimizer,
    uses_weight_decay_option,
)
from sknn.training.data import require_rows
from sknn.training.engine import TrainState, warn_non_finite
from sknn.training.hooks import Hooks
from sknn.training.host import choose_source
from sknn.training.inference import (
    CHUNK_SIZE,
    SOURCES,
    as_inputs,
    n_rows,
    to_device_chunk,
)
from sknn.training.optim import LRSchedule
from sknn.training.precision import check_step_plan, compile_module, make_step_plan
from sknn.utils._compat import (
    Interval,
    Options,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _safe_indexing,
)
from sknn.utils.device import resolve_device
from sknn.utils.random import RNGScope, draw_seed, torch_seed
from sknn.utils.threads import auto_threads, macs_per_row, torch_threads


class BaseNeuralNet(NestedParamsMixin, FineTuneMixin, BaseEstimator):
    """Base class of every sknn estimator. Not for direct use.

    Subclasses implement ``_build_module(meta)`` and may override ``_validate_inputs``
    (other input layouts) and ``_meta(inputs)`` (other fit-time facts).
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [StrOptions({"auto", "float32", "float64"})],
        "callbacks": [list, tuple, None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "optimizer": [callable, None],
        "criterion": [callable, None],
        "data_placement": [StrOptions({"auto", "device", "stream"})],
        "memory_budget": [Interval(Integral, 1, None, closed="left"), None],
        "autocast": [StrOptions({"bfloat16", "float16"}), None],
        "accumulation_steps": [Interval(Integral, 1, None, closed="left")],
        "compile": ["boolean", dict],
        "loader_kwargs": [dict, None],
        "scoring": [str, callable, list, tuple, dict, None],
    }

    #: The estimator's kind of targets (:mod:`sknn.targets`), declared by the
    #: classifier and regressor mixins.
    _targets_type: type[TargetHandler] = TargetHandler
    #: Whether ``uint8`` inputs are divided by 255 (images and sequences).
    _scales_uint8: bool = False

    # ------------------------------------------------------------------ hooks to fill
    def _build_module(self, meta: dict) -> torch.nn.Module:  # pragma: no cover
        raise NotImplementedError

    def _new_targets(self) -> TargetHandler:  # pragma: no cover
        """A target handler configured from the parameters (not fitted)."""
        raise NotImplementedError

    def _input_dtypes(self, reset: bool) -> list:
        """The float dtypes input validation keeps; other inputs (lists, tuples,
        integers, booleans, objects, float16) are converted to the first. That is
        float64 unless the network is (or, at a first fit, will be) float32, so
        that ``dtype="auto"`` resolves as scikit-learn converts: lists and integers
        train in float64."""
        name = self.dtype if reset else getattr(self, "_dtype_", None) or self.dtype
        if name == "float32":
            return [np.float32, np.float64]
        return [np.float64, np.float32]

    def _validate_inputs(self, X, *, reset: bool, y=None):
        """Validate ``X`` (and ``y``) with scikit-learn's tools; 2-D tables by default."""
        kwargs = dict(
            accept_sparse=["csr", "csc", "coo"],
            dtype=self._input_dtypes(reset),
            reset=reset,
        )
        if y is None:
            return validate_data(self, X, **kwargs), None
        return validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=self._targets_type.y_numeric,
            **kwargs,
        )

    def _meta(self, X) -> dict:
        """Fit-time facts handed to ``_build_module``."""
        return {"n_features_in": X.shape[1], "input_shape": tuple(X.shape[1:])}

    # ------------------------------------------------------------------ helpers
    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples and self.solver != "lbfgs":
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going "
                "to be clipped",
                UserWarning,
                stacklevel=2,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _check_params_extra(self) -> None:
        check_no_bool_numbers(
            type(self).__name__,
            self.get_params(deep=False),
            self._parameter_constraints,
        )
        for cb in self.callbacks or ():
            # Hooks the engine can call, with parameters clone can copy: what
            # sknn.callbacks.Callback is (the callbacks package sits above the
            # estimators, so this module does not import it).
            if not (isinstance(cb, Hooks) and isinstance(cb, BaseEstimator)):
                raise ValueError(
                    f"callbacks must be sknn.callbacks.Callback instances; got "
                    f"{type(cb).__name__}."
                )

    def _torch_dtype(self) -> torch.dtype:
        """Floating dtype of the weights and inputs: the one the network was fitted
        in, else the ``dtype`` parameter (``"auto"`` is resolved at fit)."""
        name = getattr(self, "_dtype_", None) or getattr(self, "dtype", "float32")
        return torch.float64 if name == "float64" else torch.float32

    def _fit_dtype(self, X, device: torch.device) -> str:
        """Resolve ``dtype`` for a first fit. ``"auto"`` keeps the input's precision
        as scikit-learn does (float32 stays float32, float64 and integers train in
        float64), except on GPUs, many of which are tens of times slower in float64."""
        if self.dtype != "auto":
            return self.dtype
        if (
            device.type != "cpu"
            or getattr(X, "dtype", None) == np.float32
            or self.autocast is not None  # mixed precision keeps float32 weights
        ):
            return "float32"
        return "float64"

    def _output_dtype(self) -> np.dtype:
        """NumPy dtype of predictions: the precision the network was fitted in."""
        return np.dtype(
            np.float64 if self._torch_dtype() == torch.float64 else np.float32
        )

    def _printer(self):
        return print if self.verbose else None

    def _seed_for_call(self) -> int:
        """A seed per call: ``fit`` restarts from ``random_state``; later
        ``partial_fit`` / warm calls advance it by the number of epochs run."""
        seed = draw_seed(self.random_state)
        state = getattr(self, "_state", None)
        return seed + (state.epoch if state is not None else 0)

    # ------------------------------------------------------------------ fit template
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the network to ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or Dataset
            Training data; also a torch ``Dataset`` (read once into memory, or
            streamed batch by batch when ``data_placement`` says so), a
            ``DataLoader`` or ``IterableDataset`` (streamed), a
            :class:`sknn.data.SliceDataset`, a ``numpy.memmap`` (streamed when larger
            than ``memory_budget``), for the MLP and ``NeuralNet*`` estimators a raw
            DataFrame with categorical columns, and for ``NeuralNet*`` a
            :class:`sknn.data.MultiInput` (see the "Your data, your way" page).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets; ``None`` only for a Dataset whose items are ``(x, y)`` pairs.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights in the loss (and in the validation score).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        """``partial_fit`` exists only for stochastic solvers, as in scikit-learn."""
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers; "
                f"solver={self.solver!r} is not one."
            )
        return True

    def _fit(self, X, y, *, sample_weight=None, incremental=False, classes=None):
        run = self._setup_fit(
            X, y, sample_weight=sample_weight, incremental=incremental, classes=classes
        )
        with run.rng, self._fit_threads(run):
            run.trainer.fit(run.train, run.valid)
        self._finish_fit(run)
        return self

    def _fit_steps(self, X, y, *, sample_weight=None, eval_set=None):
        """Fit epoch by epoch: a generator that yields each epoch's history record.

        Several such generators can be advanced in lockstep (cross-validation folds
        reporting a mean score per epoch) and give the same models as ``fit``. With
        ``eval_set=(X_val, y_val)`` those rows are scored after every epoch instead of
        a split of ``X``. The estimator is fitted once the generator is exhausted or
        closed.
        """
        run = self._setup_fit(X, y, sample_weight=sample_weight, eval_set=eval_set)
        trainer = run.trainer
        trainer.begin(run.train, run.valid)
        try:
            while not trainer.done:
                with run.rng, self._fit_threads(run):
                    record = trainer.run_epoch()
                if record is not None:
                    yield record
        except KeyboardInterrupt:
            trainer.interrupt()
        finally:
            trainer.end()
            self._finish_fit(run)

    def _setup_fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        incremental=False,
        classes=None,
        eval_set=None,
        fine_tune: dict | None = None,
    ) -> SimpleNamespace:
        """Validate, encode, build (or keep) the module and assemble the Trainer."""
        self._check_params_extra()
        check_custom_params(self)
        X, y = adapt_fit_input(X, y, **self._adapter_options())
        X_given = X  # what a callable scorer's validation rows are taken from
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        ft = fine_tune or {}  # fine_tune's overrides (sknn.finetune)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        keep = hasattr(self, "module_") and (
            incremental or self.warm_start or fine_tune is not None
        )
        targets = self._new_targets()
        if isinstance(X, StreamInput):  # batches are validated as they stream
            X, y = X.validate(
                self._validate_inputs,
                y,
                reset=not keep,
                y_transform=lambda t: targets.transform(targets.prepare(t)),
            )
        else:
            X, y = self._validate_inputs(X, y=y, reset=not keep)
        y = targets.prepare(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        first = not keep or ft.get("new_head", False)
        y_enc = targets.encode(
            y,
            previous=None if first else self._targets_,
            incremental=incremental,
            classes=classes,
            warm_start=self.warm_start,
            sample_weight=sample_weight,
        )
        self._targets_ = targets
        for name, value in targets.attributes().items():
            setattr(self, name, value)
        sample_weight = targets.sample_weight(sample_weight, y)

        device = resolve_device(self.device)
        # Launched by torchrun: one network, data-parallel over the processes.
        parallel = self.solver != "lbfgs" and distributed.ensure_process_group(device)
        if parallel:
            device = distributed.local_device(device)
        check_step_plan(
            autocast=self.autocast,
            accumulation_steps=self.accumulation_steps,
            compile=self.compile,
            device=device,
            dtype=self.dtype if not keep else self._dtype_,
            full_batch=self.solver == "lbfgs",
            parallel=parallel,
        )
        seed = self._seed_for_call() if keep else draw_seed(self.random_state)
        seed = distributed.broadcast_seed(seed, device) if parallel else seed
        # n_iter_ counts this call's epochs (scikit-learn's rule for warm starts);
        # partial_fit keeps counting all of its epochs.
        epoch0 = self._state.epoch if keep and not (incremental or fine_tune) else 0
        if not keep:
            self._dtype_ = self._fit_dtype(X, device)
            self._meta_ = self._meta(X)
            self._meta_.update(n_outputs=targets.n_outputs)
            with torch_seed(seed, device):
                self.module_ = self._build_module(dict(self._meta_)).to(
                    device=device, dtype=self._torch_dtype()
                )
            self._state = TrainState()
            self.history_ = History()
            self.optimizer_ = None
            self._shuffle_state = None
            self._dropout_state = None
            self._load_assigned_weights(use=incremental or self.warm_start)
        else:
            self.module_.to(device)
        if fine_tune is not None:
            self._state, self.history_, self.optimizer_ = TrainState(), History(), None
            fine_tune["prepare"](seed, device)
        self.device_ = str(device)

        # Validation split (early stopping or callbacks that monitor valid_*).
        callbacks = [clone(cb) for cb in (self.callbacks or ())]
        lbfgs = self.solver == "lbfgs"
        # scikit-learn ignores early_stopping with L-BFGS (no validation split).
        early_stopping = self.early_stopping and not lbfgs
        needs_valid = not incremental and (
            early_stopping or any(cb.requires_validation for cb in callbacks)
        )
        fdtype = self._torch_dtype()
        ydtype = targets.dtype or fdtype
        data = self._training_source(X, y_enc, sample_weight, device, ydtype, fdtype)
        valid = y_true = w_val = None  # the held-out rows, their targets and weights
        x_val = None  # the rows a callable scorer gets
        if eval_set is not None:
            if wants_rows(getattr(self, "scoring", None)):
                x_val = eval_set[0]
            X_val, y_val = self._validate_inputs(
                eval_set[0], y=eval_set[1], reset=False
            )
            y_true = targets.prepare(y_val)
            valid = TensorData(
                X_val,
                targets.transform(y_true),
                None,
                device,
                y_dtype=ydtype,
                x_dtype=fdtype,
            )
        elif needs_valid:
            stratify = targets.stratify(y_enc)
            if early_stopping:
                _check_early_stopping_split(
                    X.shape[0], self.validation_fraction, stratify
                )
            tr_idx, va_idx = validation_split(
                X.shape[0],
                self.validation_fraction,
                stratify=stratify,
                random_state=check_random_state(
                    seed
                    if parallel and self.random_state is None
                    else self.random_state
                ),
            )
            require_rows(data, _NO_ROWS)
            held = not isinstance(X_given, StreamInput)
            if wants_rows(getattr(self, "scoring", None), held=held):
                x_val = _safe_indexing(X_given, va_idx)
            data, valid = data.subset(tr_idx), data.subset(va_idx)
            y_true = y[va_idx]
            w_val = None if sample_weight is None else sample_weight[va_idx]
        data = self._train_data(data, seed, device)
        if parallel:
            data = distributed.ShardedData(data, *distributed.rank_and_world())

        batch_size = self._batch_size(data.n_samples)
        # scikit-learn's L2 term is 0.5 * alpha * ||W||^2 / (sum of batch weights): with
        # unit weights that is the optimiser's weight decay alpha / batch_size (fused,
        # free); with sample weights it goes into each batch loss. An optimiser step
        # over accumulated batches sees accumulation_steps * batch_size rows.
        penalty_in_loss = sample_weight is not None and not lbfgs and self.alpha > 0
        step_rows = batch_size * self.accumulation_steps
        wd = 0.0 if (lbfgs or penalty_in_loss) else self.alpha / step_rows
        if self.solver == "adamw":
            wd, penalty_in_loss = self.alpha, False
        own_decay = uses_weight_decay_option(self)  # replaces alpha
        if own_decay:
            penalty_in_loss = False
        if incremental and getattr(self, "optimizer_", None) is not None:
            optimizer = self.optimizer_
        else:
            lr = 1.0 if lbfgs else ft.get("learning_rate_init", self.learning_rate_init)
            optimizer = (
                build_optimizer(
                    "lbfgs",
                    # L-BFGS takes no parameter groups; its L2 term is the objective's.
                    [p for p in self.module_.parameters() if p.requires_grad],
                    lr=lr,
                    device=device,
                    max_fun=self.max_fun,
                )
                if lbfgs
                else make_optimizer(
                    self, self.module_, weight_decay=wd, lr=lr, device=device
                )
            )
            if incremental and getattr(self, "_optimizer_state", None) is not None:
                load_optimizer_into(
                    optimizer, self._optimizer_state, "The saved estimator"
                )
        self._optimizer_state = None

        monitor = (
            None if incremental else ("valid_score" if early_stopping else "train_loss")
        )
        config = TrainConfig(
            max_epochs=1 if incremental else ft.get("max_iter", self.max_iter),
            batch_size=batch_size,
            shuffle=self.shuffle,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            monitor=monitor,
            full_batch=lbfgs,
            max_fun=self.max_fun,
            penalty_in_loss=penalty_in_loss,
        )
        loss_fn, score_fn = targets.losses()
        if getattr(self, "criterion", None) is not None:
            loss_fn = self._user_loss(targets, device, sample_weight is not None)
        score_fn, view, metrics = self._validation_scoring(
            loss_fn, score_fn, y_true, w_val, x_val
        )
        generator = torch.Generator().manual_seed(seed + 1)
        rng = RNGScope(seed + 2)  # dropout and any other draw of the forward pass
        if incremental and getattr(self, "_shuffle_state", None) is not None:
            # partial_fit continues the shuffling and dropout streams: n calls draw
            # as one fit of n epochs does.
            generator.set_state(torch.from_numpy(self._shuffle_state.copy()))
            if getattr(self, "_dropout_state", None) is not None:
                rng.set_state(self._dropout_state)
        # scikit-learn applies learning_rate to "sgd" only, and its momentum velocity
        # holds the rate; learning_rate_mode="torch" applies it to every stochastic
        # solver with torch's momentum buffer (the other estimators' default).
        sklearn_mode = getattr(self, "learning_rate_mode", "torch") == "sklearn"
        schedule_kind = (
            "constant" if sklearn_mode and self.solver != "sgd" else self.learning_rate
        )
        plan = make_step_plan(
            device,
            self.autocast,
            self.accumulation_steps,
            # partial_fit keeps float16's loss scale from call to call.
            scaler=getattr(self, "_grad_scaler", None) if incremental else None,
            compile=self.compile,
        )
        self._grad_scaler = plan.scaler
        trainer = Trainer(
            self.module_,
            loss_fn,
            optimizer,
            config,
            schedule=None
            if lbfgs
            else LRSchedule(
                schedule_kind,
                ft.get("learning_rate_init", self.learning_rate_init),
                self.power_t,
                rate_in_velocity=sklearn_mode and self.solver == "sgd",
            ),
            score_fn=score_fn,
            penalty_fn=self._penalty_fn() if self.alpha > 0 and not own_decay else None,
            callbacks=callbacks,
            history=self.history_,
            state=self._state,
            generator=generator,
            printer=self._printer(),
            forward_module=compile_module(
                distributed.wrap_module(self.module_, device)
                if parallel
                else self.module_,
                self.compile,
            ),
            plan=plan,
            validation_view=view if valid is not None else None,
            metrics_fn=metrics if valid is not None else None,
        )
        return SimpleNamespace(
            trainer=trainer,
            train=data,
            valid=valid,
            rng=rng,
            optimizer=optimizer,
            callbacks=callbacks,
            early_stopping=valid is not None and early_stopping,
            incremental=incremental,
            epoch0=epoch0,
            generator=generator,
        )

    def _validation_scoring(self, loss_fn, score_fn, y_true, w_val, x_val=None):
        """What ``scoring`` makes of the validation rows: ``(score_fn, view,
        metrics)``: the device score (``None`` where a scikit-learn scorer replaces
        it; the negated loss for ``"loss"``), the callbacks' view of each epoch's
        predictions, and the host-side metrics (``None`` when none are asked, so
        that the default epoch reads nothing more)."""
        scoring = getattr(self, "scoring", None)
        scorers = check_scoring(scoring)
        if isinstance(scoring, str) and scoring == "loss":
            score_fn = _negated(loss_fn)
        elif "valid_score" in scorers:
            score_fn = None

        def view(out):
            return ValidationPredictions(self, out, y_true, w_val, x_val)

        return score_fn, view, validation_metrics(scorers) if scorers else None

    def _training_source(self, X, y, sample_weight, device, y_dtype, x_dtype):
        """The batch source of the fit's rows (before the validation split)."""
        if isinstance(X, StreamInput):
            return X.source(
                X, y, sample_weight, device, y_dtype=y_dtype, x_dtype=x_dtype
            )
        return choose_source(
            X,
            y,
            sample_weight,
            device,
            y_dtype=y_dtype,
            x_dtype=x_dtype,
            placement=getattr(self, "data_placement", "device"),
            budget=getattr(self, "memory_budget", None),
        )

    def _train_data(self, data: TensorData, seed: int, device: torch.device):
        """The batches the optimiser sees, after the validation split; estimators
        with training-time transforms (augmentation) wrap ``data`` here."""
        return data

    def _finish_fit(self, run: SimpleNamespace) -> None:
        """Set the fitted attributes and warn as scikit-learn does."""
        self.optimizer_ = run.optimizer
        self.callbacks_ = run.callbacks
        if run.incremental:
            self._shuffle_state = run.generator.get_state().numpy()
            self._dropout_state = run.rng.get_state()
        self._set_fitted_attributes(
            run.trainer, early_stopping=run.early_stopping, epoch0=run.epoch0
        )
        self._warn_on_stop(run.trainer, run.incremental)

    def _user_loss(
        self, targets: TargetHandler, device: torch.device, weighted: bool
    ) -> UserLoss:
        loss = UserLoss(
            self.criterion,
            self._nested("criterion"),
            target=targets.criterion_target,
            device=device,
            dtype=self._torch_dtype(),
        )
        if weighted and not loss.weighted:
            raise ValueError(
                f"sample_weight (or class_weight) needs a criterion that gives one loss "
                f"per row: a torch loss class or instance with reduction='mean'; "
                f"criterion={loss.name} cannot be weighted."
            )
        return loss

    def _penalty_fn(self):
        weights = [p for p in self.module_.parameters() if p.ndim > 1]
        alpha = self.alpha

        def penalty(n):
            return 0.5 * alpha * sum((p * p).sum() for p in weights) / n

        return penalty

    def _set_fitted_attributes(
        self, trainer: Trainer, *, early_stopping: bool, epoch0: int = 0
    ) -> None:
        st = trainer.state
        self.n_iter_ = st.epoch - epoch0
        self.t_ = st.t
        self.loss_curve_ = st.loss_curve
        self.loss_ = st.loss_curve[-1] if st.loss_curve else None
        if early_stopping:
            if trainer.stop_reason in ("diverged", "non-finite"):
                # scikit-learn scores the diverged epoch: NaN.
                st.validation_scores.append(float("nan"))
            self.validation_scores_ = st.validation_scores
            self.best_validation_score_ = st.best_score
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = st.best_loss if st.loss_curve else None
        self.stop_reason_ = trainer.stop_reason

    def _warn_on_stop(self, trainer: Trainer, incremental: bool) -> None:
        result = getattr(trainer, "lbfgs_result", None)
        if result is not None and result.status != 0 and trainer.converged is False:
            if trainer.stop_reason not in ("interrupted", "diverged", "non-finite"):
                warnings.warn(
                    f"lbfgs failed to converge after {result.nit} iteration(s) "
                    f"(status={result.status}):\n{result.message}.\n\nIncrease the "
                    f"number of iterations to improve the convergence "
                    f"(max_iter={self.max_iter}) or max_fun (max_fun={self.max_fun}).",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                return
        if trainer.stop_reason == "interrupted":
            warnings.warn(
                f"Training interrupted by the user after {self.n_iter_} epochs; the "
                "estimator keeps the weights of the last completed (or best) epoch.",
                UserWarning,
                stacklevel=2,
            )
        elif trainer.stop_reason == "diverged":
            warnings.warn(
                f"Training diverged: the loss or the weights became NaN or infinite "
                f"in epoch {self.n_iter_ + 1}; the last finite weights whose outputs "
                "are finite were kept. Lower learning_rate_init or scale the inputs.",
                ConvergenceWarning,
                stacklevel=2,
            )
        elif trainer.stop_reason == "non-finite":  # no finite epoch to fall back on
            hint = (
                ' Fitting in float64 (dtype="float64") widens the range of the loss '
                "and gradients."
                if self._torch_dtype() == torch.float32
                else ""
            )
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed." + hint
            )
        elif not incremental and not trainer.stop_training:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _load_assigned_weights(self, *, use: bool) -> None:
        """Hook: load weights assigned before the first fit (the MLPs' ``coefs_``)."""

    # ------------------------------------------------------------------ predict helpers
    def _forward(self, X) -> torch.Tensor:
        """Validate ``X`` and return the raw network output (device tensor).

        The lean inference path: the input is converted one chunk at a time into one
        preallocated output, and per-call work is only what a prediction needs.
        """
        module = self.__dict__.get("module_")
        if module is None:
            check_is_fitted(self, "module_")
        device = torch.device(self.device_)
        if is_dataset(X) and getattr(self, "data_placement", "device") != "device":
            out = self._forward_chunks(module, X, device)
        else:
            X = self._validate_predict_inputs(X)
            with self._thread_scope(X, min(n_rows(X), CHUNK_SIZE)):
                out = predict_batched(
                    module, X, device=device, dtype=self._torch_dtype()
                )
        if out.is_floating_point() and not bool(torch.isfinite(out).all()):
            warn_non_finite(out)
        return out

    def _forward_chunks(self, module, X, device: torch.device) -> torch.Tensor:
        """The network's output on a Dataset or loader read one batch at a time:
        each batch is validated as arrays are, and only one is in memory (a Dataset
        larger than memory predicts; ``data_placement="device"`` reads it whole
        first, as before)."""
        options = self._adapter_options(predict=True)
        outs = []
        # Batches of 1,024 items: a few MB even for wide rows, large enough that
        # the per-batch work does not show.
        for part in predict_chunks(X, rows=1024, **options):
            Xc = self._validate_inputs(part, reset=False)[0]
            with self._thread_scope(Xc, min(n_rows(Xc), CHUNK_SIZE)):
                outs.append(
                    predict_batched(
                        module, Xc, device=device, dtype=self._torch_dtype()
                    )
                )
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def _validate_predict_inputs(self, X):
        """``_validate_inputs(X, reset=False)``, with a fast path for plain arrays.

        A C-ordered NumPy float array of the fitted width, fitted without feature
        names and finite, passes scikit-learn's ``validate_data`` unchanged; it is
        checked here in a few microseconds (a one-row prediction would otherwise
        spend most of its time in validation). Anything else, including every input
        that fails a check, goes through ``validate_data`` and gets its errors and
        warnings.
        """
        if (
            type(X) is np.ndarray
            and X.ndim == 2
            and (X.dtype == np.float32 or X.dtype == np.float64)
            and X.shape[0] > 0
            and X.shape[1] == self.__dict__.get("n_features_in_")
            and "feature_names_in_" not in self.__dict__
            and self._plain_array_inputs()
            and np.isfinite(X.sum())
        ):
            return X
        X = adapt_predict_input(X, **self._adapter_options(predict=True))
        return self._validate_inputs(X, reset=False)[0]

    def _plain_array_inputs(self) -> bool:
        """Whether a plain 2-D float array is validated by ``validate_data`` alone
        here (the predict fast path may then stand in for it)."""
        return type(self)._validate_inputs is BaseNeuralNet._validate_inputs

    def _adapter_options(self, *, predict: bool = False) -> dict:
        """How :mod:`sknn.data.adapters` reads Datasets and several inputs here."""
        options = dict(
            loader_kwargs=check_loader_kwargs(getattr(self, "loader_kwargs", None)),
            estimator=type(self).__name__,
            multi_input=getattr(self, "_multi_input", False),
        )
        if predict:
            meta = getattr(self, "_meta_", None) or {}
            options["n_inputs"] = len(meta.get("input_names") or (0,))
        elif hasattr(self, "data_placement"):  # map-style Datasets may stream
            options.update(
                placement=self.data_placement,
                budget=self.memory_budget,
                device=self.device,
                fit_dtype=self._fit_dtype,
            )
        return options

    # ------------------------------------------------------------------ threads
    def _macs_per_row(self, X, device: torch.device) -> float:
        """Multiply-adds of one forward pass per row, estimated once per network."""
        module = self.module_
        cached = module.__dict__.get("_sknn_macs_per_row")
        if not isinstance(cached, float):
            xs = X.inputs if isinstance(X, SOURCES) else as_inputs(X)
            dtype = self._torch_dtype()
            example = tuple(to_device_chunk(x, 0, 1, device, dtype) for x in xs)
            cached = macs_per_row(module, example)
            module.__dict__["_sknn_macs_per_row"] = cached
        return cached

    def _thread_scope(self, X, rows_per_step: int, *, training: bool = False):
        """Torch's intra-op threads for one call on the CPU (``n_threads``); the
        previous count is restored when the call ends. A no-op on other devices."""
        if not self.device_.startswith("cpu"):
            return contextlib.nullcontext()
        n = getattr(self, "n_threads", None)
        if n is None:
            macs = self._macs_per_row(X, torch.device("cpu")) * rows_per_step
            n = auto_threads(3 * macs if training else macs)
        return torch_threads(n)

    def _fit_threads(self, run: SimpleNamespace):
        """:meth:`_thread_scope` for the training steps of ``run``."""
        config = run.trainer.config
        rows = run.train.n_samples if config.full_batch else config.batch_size
        return self._thread_scope(run.train, rows, training=True)

    # ------------------------------------------------------------------ persistence
    def __getstate__(self) -> dict[str, Any]:
        """The estimator's state for pickle and :func:`sknn.save`: the network on the
        CPU, the optimiser's state apart, the target handler's fitted state under its
        own name (:meth:`~sknn.targets.TargetHandler.state`)."""
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        targets = state.pop("_targets_", None)
        if targets is not None:
            state.update(targets.state())
        module = state.get("module_")
        if module is not None and next(module.parameters(), torch.empty(0)).is_cuda:
            state["module_"] = copy.deepcopy(module).to("cpu")
        opt = state.pop("optimizer_", None)
        if opt is not None:
            state["_optimizer_state"] = _to_cpu(opt.state_dict())
        state["optimizer_"] = None
        state.pop("_grad_scaler", None)  # float16's loss scale restarts after loading
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore :meth:`__getstate__`'s state (also a model file's attributes).

        Raises
        ------
        ValueError
            When the target handler's state disagrees with the fitted attributes.
        """
        state = dict(state)
        name = self._targets_type.state_name
        if name and name in state:
            state["_targets_"] = self._targets_type.restore(state)
            del state[name]
        device = state.get("device_")
        if device is not None and device.startswith("cuda"):
            if torch.cuda.is_available():
                if state.get("module_") is not None:
                    state["module_"] = state["module_"].to(device)
            else:
                state["device_"] = "cpu"
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = str(self.device).startswith("cuda") or (
            self.device == "auto" and torch.cuda.is_available()
        )
        return tags


def _negated(loss_fn):
    """The validation score of ``scoring="loss"``: minus the loss (greater is
    better, as in scikit-learn's HistGradientBoosting)."""

    def score(out, y, w):
        return -loss_fn(out, y, w)

    return score


#: A validation split of a source without rows by index (a loader's own batches).
_NO_ROWS = (
    "A validation split (early_stopping=True or callbacks that monitor valid_*) needs "
    "the rows in memory; a streamed DataLoader or IterableDataset has none. Pass a "
    "map-style Dataset (read into memory) or set early_stopping=False."
)


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _check_early_stopping_split(n_samples: int, fraction: float, stratify) -> None:
    """scikit-learn's MLP checks on the early-stopping split, with its messages.

    A class with one member cannot be stratified, and fewer than 2 validation rows
    cannot score (scikit-learn raises for both; a silent unstratified split or a
    one-row score would hide it).
    """
    if stratify is not None:
        counts = np.bincount(np.asarray(stratify, dtype=np.int64))
        counts = counts[counts > 0]
        n_valid = int(np.ceil(fraction * n_samples))
        if counts.min() < 2 or min(n_valid, n_samples - n_valid) < len(counts):
            # scikit-learn splits its binarised targets (True / False columns):
            # its own split raises the error, so the message is the one its users
            # know.
            k = len(counts)
            codes = np.unique(stratify, return_inverse=True)[1]
            indicator = (
                (codes == 1)[:, None] if k <= 2 else codes[:, None] == np.arange(k)
            )
            train_test_split(
                np.arange(n_samples),
                test_size=fraction,
                stratify=indicator,
                random_state=0,
            )
    if int(np.ceil(fraction * n_samples)) < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the "
            "size of your dataset."
        )
