"""The steps of the fit plan (:func:`sknn.plan.plan_fit`) up to the network, each a
function of explicit values: the parameters, the input, the targets, the runtime
(device, seed, precision) and the network. The steps after it are in
:mod:`sknn.plan.optim` and :mod:`sknn.plan.loss`, the data step in
:mod:`sknn.plan.sources`.

A step that needs the estimator's own knowledge calls one of its declared hooks
(``_validate_inputs``, ``_meta``, ``_build_module``, ``_check_module``,
``_fit_dtype``, ``_adapter_options``); none writes the estimator's attributes.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator

from sknn._settings import check_no_bool_numbers
from sknn.data.adapters import StreamInput, adapt_fit_input
from sknn.finetune import FineTuneOptions
from sknn.targets import TargetHandler
from sknn.training import History, distributed
from sknn.training.custom import OptimizerSpec, check_custom_params
from sknn.training.engine import TrainState
from sknn.training.hooks import Hooks
from sknn.training.precision import check_step_plan
from sknn.utils._compat import _check_sample_weight
from sknn.utils.device import resolve_device
from sknn.utils.random import draw_seed, torch_seed

__all__ = [
    "Network",
    "Runtime",
    "adapt_input",
    "check_params",
    "encode_targets",
    "network",
    "optimizer_spec",
    "runtime",
    "validate_input",
]

#: The scikit-learn-named parameters of a solver, as :class:`OptimizerSpec` reads them.
_SOLVER_PARAMS = ("momentum", "nesterovs_momentum", "beta_1", "beta_2", "epsilon")


# ----------------------------------------------------------------------- parameters
def optimizer_spec(est) -> OptimizerSpec:
    """The estimator's solver (or optimiser) and its options, in engine terms."""
    return OptimizerSpec(
        solver=est.solver,
        optimizer=est.optimizer,
        options=est._nested("optimizer"),
        solver_params={name: getattr(est, name) for name in _SOLVER_PARAMS},
    )


def check_params(est, targets: TargetHandler) -> OptimizerSpec:
    """Refuse settings that contradict each other; return the optimiser's spec.

    Raises
    ------
    ValueError, TypeError
        For callbacks that are not :class:`~sknn.callbacks.Callback` instances,
        keyword arguments that are not nested parameters, and settings that name one
        thing twice (:func:`~sknn.training.custom.check_custom_params`).
    """
    check_no_bool_numbers(
        type(est).__name__, est.get_params(deep=False), est._parameter_constraints
    )
    for cb in est.callbacks or ():
        # Hooks the engine can call, with parameters clone can copy: what
        # sknn.callbacks.Callback is (the callbacks package sits above the
        # estimators, so the plan does not import it).
        if not (isinstance(cb, Hooks) and isinstance(cb, BaseEstimator)):
            raise ValueError(
                f"callbacks must be sknn.callbacks.Callback instances; got "
                f"{type(cb).__name__}."
            )
    est._check_nested_names()
    spec = optimizer_spec(est)
    alpha = inspect.signature(type(est)).parameters.get("alpha")
    check_custom_params(
        spec,
        criterion=est.criterion,
        criterion_options=est._nested("criterion"),
        loss=targets.named_loss,
        alpha_is_default=alpha is None or est.alpha == alpha.default,
        alpha=est.alpha,
    )
    return spec


# ----------------------------------------------------------------------- input
def adapt_input(est, X, y):
    """``(X, y)`` as the in-memory path (or a stream) reads them
    (:func:`sknn.data.adapters.adapt_fit_input`)."""
    X, y = adapt_fit_input(X, y, **est._adapter_options())
    if y is None:
        raise ValueError(
            f"{type(est).__name__} requires y to be passed, but the target y is None."
        )
    return X, y


def validate_input(est, X, y, sample_weight, targets: TargetHandler, *, reset: bool):
    """Validate ``X``, ``y`` (prepared by ``targets``) and ``sample_weight``; a
    stream validates its first batch now and the others as they stream."""
    if isinstance(X, StreamInput):  # batches are validated as they stream
        X, y = X.validate(
            est._validate_inputs,
            y,
            reset=reset,
            y_transform=lambda t: targets.transform(targets.prepare(t)),
        )
    else:
        X, y = est._validate_inputs(X, y=y, reset=reset)
    y = targets.prepare(y)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    return X, y, sample_weight


def encode_targets(
    targets: TargetHandler,
    y,
    sample_weight,
    *,
    previous: TargetHandler | None,
    incremental: bool,
    classes,
    warm_start: bool,
):
    """Fit ``targets`` (``previous is None``) or check ``y`` against ``previous``;
    return the encoded targets and the loss's per-row weights."""
    y_enc = targets.encode(
        y,
        previous=previous,
        incremental=incremental,
        classes=classes,
        warm_start=warm_start,
        sample_weight=sample_weight,
    )
    return y_enc, targets.sample_weight(sample_weight, y)


# ----------------------------------------------------------------------- runtime
@dataclass(frozen=True)
class Runtime:
    """Where and with which seed a fit runs.

    Attributes
    ----------
    device : torch.device
        This process's device.
    parallel : bool
        Data-parallel over ``torch.distributed`` processes (launched by torchrun).
    seed : int
        The fit's seed: initialisation (``seed``), shuffling (``seed + 1``), dropout
        (``seed + 2``), augmentation (``seed + 3``).
    dtype : str
        The precision of the network and of the data on the device.
    """

    device: torch.device
    parallel: bool
    seed: int
    dtype: str


def runtime(est, X, *, previous: Network | None) -> Runtime:
    """Resolve the device, join a process group where launched, check the step
    parameters, draw the seed and decide the precision.

    Parameters
    ----------
    est : estimator
        Its parameters, and its ``_fit_dtype`` hook.
    X : array-like
        The validated inputs (``dtype="auto"`` keeps their precision).
    previous : Network or None
        The network a warm start or ``partial_fit`` keeps (its precision stays; the
        seed moves on by the epochs it has run).
    """
    device = resolve_device(est.device)
    # Launched by torchrun: one network, data-parallel over the processes.
    parallel = est.solver != "lbfgs" and distributed.ensure_process_group(device)
    if parallel:
        device = distributed.local_device(device)
    check_step_plan(
        autocast=est.autocast,
        accumulation_steps=est.accumulation_steps,
        compile=est.compile,
        device=device,
        dtype=est.dtype if previous is None else previous.dtype,
        full_batch=est.solver == "lbfgs",
        parallel=parallel,
    )
    # fit restarts from random_state; later partial_fit / warm calls move on by the
    # number of epochs run.
    seed = draw_seed(est.random_state)
    if previous is not None:
        seed += previous.state.epoch
    seed = distributed.broadcast_seed(seed, device) if parallel else seed
    dtype = est._fit_dtype(X, device) if previous is None else previous.dtype
    return Runtime(device=device, parallel=parallel, seed=seed, dtype=dtype)


# ----------------------------------------------------------------------- network
@dataclass(frozen=True)
class Network:
    """The network a fit trains and the counters it continues.

    Attributes
    ----------
    module : torch.nn.Module
        On the fit's device, in its precision.
    meta : dict
        The fit-time facts it was built from.
    dtype : str
        ``"float32"`` or ``"float64"``.
    state : TrainState
        Counters (continued by warm starts and ``partial_fit``).
    history : History
        Per-epoch records (continued likewise).
    device : torch.device
        Where it lives.
    fresh : bool
        Built by this fit (not kept from an earlier one).
    reset_optimizer : bool
        The optimiser (and the shuffling stream) of an earlier call no longer apply.
    load_assigned : bool
        Load weights assigned before the first fit (the MLPs' ``coefs_``).
    frozen : list of torch.nn.Module
        Blocks frozen by fine-tuning.
    """

    module: torch.nn.Module
    meta: dict
    dtype: str
    state: TrainState
    history: History
    device: torch.device
    fresh: bool
    reset_optimizer: bool = False
    load_assigned: bool = False
    frozen: tuple = ()

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def network(
    est,
    X,
    *,
    previous: Network | None,
    n_outputs: int,
    run: Runtime,
    use_assigned: bool,
    fine_tune: FineTuneOptions | None = None,
) -> Network:
    """Build the network (seeded by ``run.seed``) or keep ``previous``; fine-tuning
    replaces the head and freezes the body.

    Parameters
    ----------
    est : estimator
        Its ``_meta``, ``_build_module`` and ``_check_module``.
    X : array-like
        The validated inputs (fit-time facts).
    previous : Network or None
        The network kept from an earlier fit.
    n_outputs : int
        The width of the output (the target handler's).
    run : Runtime
        Device and seed.
    use_assigned : bool
        Load weights assigned before the first fit.
    fine_tune : FineTuneOptions, optional
        Fine-tuning's head and freezing.
    """
    device = run.device
    if previous is None:
        dtype = run.dtype
        meta = est._meta(X)
        meta.update(n_outputs=n_outputs)
        torch_dtype = torch.float64 if dtype == "float64" else torch.float32
        with torch_seed(run.seed, device):
            module = est._build_module(dict(meta)).to(device=device, dtype=torch_dtype)
        est._check_module(module, meta)
        net = Network(
            module,
            meta,
            dtype,
            TrainState(),
            History(),
            device,
            fresh=True,
            reset_optimizer=True,
            load_assigned=use_assigned,
        )
    else:
        previous.module.to(device)
        net = Network(
            previous.module,
            previous.meta,
            previous.dtype,
            previous.state,
            previous.history,
            device,
            fresh=False,
        )
    if fine_tune is None:
        return net
    meta = dict(net.meta)
    if fine_tune.new_head:
        meta["n_outputs"] = n_outputs
    frozen = fine_tune.prepare(net.module, n_outputs, run.seed, device)
    return Network(
        net.module,
        meta,
        net.dtype,
        TrainState(),
        History(),
        device,
        fresh=net.fresh,
        reset_optimizer=True,
        load_assigned=net.load_assigned,
        frozen=tuple(frozen),
    )
