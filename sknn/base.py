"""The shared estimator base: parameters, the fit / partial_fit / predict templates, tags.

Concrete estimators (:mod:`sknn.estimators`) add their architecture parameters and say
how to build the module from fit-time facts (``meta``); the classifier and regressor
mixins say how targets are encoded, which loss is optimised and how outputs are decoded.
Everything about the loop itself lives in :mod:`sknn.training`.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from sknn._nested import NestedParamsMixin
from sknn._params import SHARED_CONSTRAINTS, SHARED_PARAMS, shared_params
from sknn.data.adapters import (
    adapt_predict_input,
    check_loader_kwargs,
    is_dataset,
    predict_chunks,
)
from sknn.finetune import FineTuneMixin
from sknn.plan import FitRun, fitted_attributes, plan_fit, warn_on_stop
from sknn.plan.optim import Continued, batch_size
from sknn.plan.steps import Network, Runtime
from sknn.targets import TargetHandler
from sknn.training import TensorData, predict_batched
from sknn.training.engine import warn_non_finite
from sknn.training.inference import (
    CHUNK_SIZE,
    SOURCES,
    as_inputs,
    n_rows,
    to_device_chunk,
)
from sknn.utils._compat import _fit_context
from sknn.utils.threads import auto_threads, macs_per_row, torch_threads

#: Multiply-adds per row of each network measured here, kept while the network lives
#: (a cache beside the module, not an attribute written into it).
_MACS_PER_ROW: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# SHARED_PARAMS and shared_params are declared in sknn._params; kept importable here.
__all__ = ["SHARED_PARAMS", "BaseNeuralNet", "shared_params"]


class BaseNeuralNet(NestedParamsMixin, FineTuneMixin, BaseEstimator):
    """Base class of every sknn estimator. Not for direct use.

    Subclasses implement ``_build_module(meta)`` and may override ``_validate_inputs``
    (other input layouts) and ``_meta(inputs)`` (other fit-time facts).
    """

    _parameter_constraints: dict = dict(SHARED_CONSTRAINTS)

    def __init__(
        self,
        *,
        solver: str,
        alpha: float,
        batch_size: int | str,
        learning_rate: str,
        learning_rate_init: float,
        power_t: float,
        max_iter: int,
        shuffle: bool,
        random_state: Any,
        tol: float,
        verbose: bool | int,
        warm_start: bool,
        momentum: float,
        nesterovs_momentum: bool,
        early_stopping: bool,
        validation_fraction: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        n_iter_no_change: float,
        max_fun: int,
        device: str | torch.device,
        dtype: str,
        callbacks: list | None,
        scoring: Any,
        n_threads: int | None,
        optimizer: Any,
        criterion: Any,
        data_placement: str,
        memory_budget: int | None,
        autocast: str | None,
        accumulation_steps: int,
        compile: bool | dict,
        loader_kwargs: dict | None,
        **kwargs: Any,
    ) -> None:
        """Store the parameters every network estimator shares, in one place.

        Concrete estimators list these in their own signatures (explicitly, with
        their defaults: scikit-learn's ``get_params`` reads the signature), store
        their own parameters and pass these here, as scikit-learn's MLPs do with
        ``BaseMultilayerPerceptron``; ``**kwargs`` are the nested parameters.
        """
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.dtype = dtype
        self.callbacks = callbacks
        self.scoring = scoring
        self.n_threads = n_threads
        self.optimizer = optimizer
        self.criterion = criterion
        self.data_placement = data_placement
        self.memory_budget = memory_budget
        self.autocast = autocast
        self.accumulation_steps = accumulation_steps
        self.compile = compile
        self.loader_kwargs = loader_kwargs
        self._set_nested(kwargs)

    #: The estimator's kind of targets (:mod:`sknn.targets`), declared by the
    #: classifier and regressor mixins.
    _targets_type: type[TargetHandler] = TargetHandler
    #: Whether ``uint8`` inputs are divided by 255 (images and sequences).
    _scales_uint8: bool = False
    #: Whether a dict or :class:`~sknn.data.MultiInput` feeds ``forward(**inputs)``
    #: (:mod:`sknn.data.adapters`); the ``NeuralNet*`` estimators say so.
    _multi_input: bool = False

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
    def _torch_dtype(self) -> torch.dtype:
        """Floating dtype of the weights and inputs: the one the network was fitted
        in, else the ``dtype`` parameter (``"auto"`` is resolved at fit)."""
        name = self.__dict__.get("_dtype_") or self.dtype
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

    def _setup_fit(self, X, y, **options) -> FitRun:
        """Plan a fit (:func:`sknn.plan.plan_fit`): the one entry of ``fit``,
        ``partial_fit``, ``fine_tune``, the stacked search and pruning."""
        return plan_fit(self, X, y, **options)

    # ------------------------------------------------------------------ fit state
    # The fit plan decides; the estimator writes its own attributes, here.
    def _adopt_targets(self, targets: TargetHandler) -> None:
        """Keep the fit's target handler and its fitted attributes."""
        self._targets_ = targets
        for name, value in targets.attributes().items():
            setattr(self, name, value)

    def _adopt_runtime(self, run: Runtime) -> None:
        """Keep the fit's precision and device (the network's hooks read them)."""
        self._dtype_ = run.dtype
        self.device_ = str(run.device)

    def _network(self) -> Network:
        """The fitted network and the counters a warm start or ``partial_fit``
        continues."""
        return Network(
            self.module_,
            self._meta_,
            self._dtype_,
            self._state,
            self.history_,
            torch.device(self.device_),
            fresh=False,
        )

    def _adopt_network(self, net: Network) -> None:
        """Keep the fit's network (built, kept or fine-tuned) and its counters."""
        self._meta_ = net.meta
        self.module_ = net.module
        self._state = net.state
        self.history_ = net.history
        if net.reset_optimizer:
            self.optimizer_ = None
        if net.fresh:
            self._shuffle_state = None
            self._dropout_state = None
            self._load_assigned_weights(use=net.load_assigned)

    def _continued_training(self) -> Continued:
        """What ``partial_fit`` continues: the optimiser (or a loaded one's state),
        the shuffling stream, float16's loss scale."""
        return Continued(
            optimizer=self.__dict__.get("optimizer_"),
            optimizer_state=self.__dict__.get("_optimizer_state"),
            shuffle_state=self.__dict__.get("_shuffle_state"),
            dropout_state=self.__dict__.get("_dropout_state"),
            grad_scaler=self.__dict__.get("_grad_scaler"),
        )

    def _finish_fit(self, run: FitRun) -> None:
        """Set the fitted attributes, tell the callbacks, warn as scikit-learn does."""
        trainer = run.trainer
        self.optimizer_ = trainer.optimizer
        self._optimizer_state = None  # consumed by the optimiser
        self._grad_scaler = trainer.plan.scaler
        self.callbacks_ = run.callbacks
        if run.incremental:
            self._shuffle_state = run.generator.get_state().numpy()
            self._dropout_state = run.rng.get_state()
        attrs = fitted_attributes(
            trainer, early_stopping=run.early_stopping, epoch0=run.epoch0
        )
        for name, value in attrs.items():
            setattr(self, name, value)
        for cb in run.callbacks:
            cb.on_fit_end(self)
        self._warn_on_stop(trainer, run.incremental)

    def _batch_size(self, n_samples: int) -> int:
        """Rows per batch (:func:`sknn.plan.optim.batch_size`); a hook for
        estimators whose ``"auto"`` differs."""
        return batch_size(self.batch_size, n_samples, self.solver)

    def _warn_on_stop(self, trainer, incremental: bool) -> None:
        """scikit-learn's end-of-fit warnings (:func:`sknn.plan.warn_on_stop`); a
        hook for estimators that stop by design."""
        warn_on_stop(
            trainer,
            incremental=incremental,
            n_iter=self.n_iter_,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            float32=self._torch_dtype() == torch.float32,
        )

    def _train_data(self, data: TensorData, seed: int, device: torch.device):
        """The batches the optimiser sees, after the validation split; estimators
        with training-time transforms (augmentation) wrap ``data`` here."""
        return data

    def _check_module(self, module: torch.nn.Module, meta: dict) -> None:
        """Hook: check a freshly built module before training (the user's modules)."""

    def _learning_rate_mode(self) -> str:
        """How ``learning_rate`` applies (:func:`sknn.plan.optim.schedule`):
        ``"torch"`` here, the MLPs' ``learning_rate_mode`` parameter there."""
        return "torch"

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
        if is_dataset(X) and self.data_placement != "device":
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
            loader_kwargs=check_loader_kwargs(self.loader_kwargs),
            estimator=type(self).__name__,
            multi_input=self._multi_input,
        )
        if predict:
            meta = getattr(self, "_meta_", None) or {}
            options["n_inputs"] = len(meta.get("input_names") or (0,))
        else:  # map-style Datasets may stream
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
        cached = _MACS_PER_ROW.get(module)
        if cached is None:
            xs = X.inputs if isinstance(X, SOURCES) else as_inputs(X)
            dtype = self._torch_dtype()
            example = tuple(to_device_chunk(x, 0, 1, device, dtype) for x in xs)
            cached = _MACS_PER_ROW[module] = macs_per_row(module, example)
        return cached

    def _thread_scope(self, X, rows_per_step: int, *, training: bool = False):
        """Torch's intra-op threads for one call on the CPU (``n_threads``); the
        previous count is restored when the call ends. A no-op on other devices."""
        if not self.device_.startswith("cpu"):
            return contextlib.nullcontext()
        n = self.n_threads
        if n is None:
            macs = self._macs_per_row(X, torch.device("cpu")) * rows_per_step
            n = auto_threads(3 * macs if training else macs)
        return torch_threads(n)

    def _fit_threads(self, run: FitRun):
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


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
