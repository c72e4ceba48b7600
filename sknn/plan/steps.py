"""The steps of the fit plan (:func:`sknn.plan.plan_fit`), each a function of explicit
values.

A step that needs the estimator's own knowledge calls one of its declared hooks
(``_validate_inputs``, ``_meta``, ``_build_module``, ``_check_module``,
``_fit_dtype``, ``_adapter_options``); none writes the estimator's attributes.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from sknn._archive import load_optimizer_into
from sknn._settings import check_no_bool_numbers
from sknn.data.adapters import StreamInput, adapt_fit_input
from sknn.finetune import FineTuneOptions
from sknn.scoring import (
    ValidationPredictions,
    check_scoring,
    validation_metrics,
)
from sknn.targets import TargetHandler
from sknn.training import History, build_optimizer, distributed
from sknn.training.custom import (
    OptimizerSpec,
    UserLoss,
    check_custom_params,
    make_optimizer,
)
from sknn.training.engine import TrainState
from sknn.training.hooks import Hooks
from sknn.training.optim import LRSchedule
from sknn.training.precision import check_step_plan
from sknn.utils._compat import _check_sample_weight
from sknn.utils.device import resolve_device
from sknn.utils.random import draw_seed, torch_seed

__all__ = [
    "Continued",
    "Decay",
    "Network",
    "Runtime",
    "adapt_input",
    "batch_size",
    "check_params",
    "decay",
    "encode_targets",
    "l2_penalty",
    "network",
    "optimizer",
    "optimizer_spec",
    "runtime",
    "schedule",
    "user_loss",
    "validate_input",
    "validation_scoring",
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
    dtype: str = "float32"


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


@dataclass(frozen=True)
class Continued:
    """What ``partial_fit`` continues from the previous call (all ``None`` after a
    fresh network).

    Attributes
    ----------
    optimizer : torch.optim.Optimizer or None
        The optimiser of the previous call.
    optimizer_state : dict or None
        A loaded (or unpickled) estimator's optimiser state.
    shuffle_state : ndarray or None
        The shuffling stream's state.
    dropout_state : tuple or None
        The dropout stream's state (:meth:`~sknn.utils.random.RNGScope.get_state`).
    grad_scaler : torch.amp.GradScaler or None
        float16's loss scale.
    """

    optimizer: torch.optim.Optimizer | None = None
    optimizer_state: dict | None = None
    shuffle_state: np.ndarray | None = None
    dropout_state: Any = None
    grad_scaler: Any = None


# ----------------------------------------------------------------------- optimiser
def batch_size(param, n_samples: int, solver: str) -> int:
    """Rows per batch: ``"auto"`` is ``min(200, n_samples)``; larger sizes are
    clipped with scikit-learn's warning.

    Examples
    --------
    >>> from sknn.plan.steps import batch_size
    >>> batch_size("auto", 50, "adam"), batch_size(32, 1000, "adam")
    (50, 32)
    """
    if param == "auto":
        return min(200, n_samples)
    if param > n_samples and solver != "lbfgs":
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going "
            "to be clipped",
            UserWarning,
            stacklevel=5,
        )
    return int(np.clip(param, 1, n_samples))


@dataclass(frozen=True)
class Decay:
    """scikit-learn's L2 term, as the optimiser's weight decay or a loss term.

    Attributes
    ----------
    weight_decay : float
        The optimiser's decay of the weight tensors.
    penalty_in_loss : bool
        Add the L2 term to every batch loss (sample weights) instead.
    report_penalty : bool
        Report (and, for L-BFGS, optimise) the L2 term with the loss.
    """

    weight_decay: float
    penalty_in_loss: bool
    report_penalty: bool


def decay(
    *,
    solver: str,
    alpha: float,
    batch_size: int,
    accumulation_steps: int,
    weighted: bool,
    weight_decay_option: bool,
) -> Decay:
    """scikit-learn's L2 arithmetic.

    Its term is ``0.5 * alpha * ||W||^2 / (sum of batch weights)``: with unit
    weights that is the optimiser's weight decay ``alpha / batch_size`` (fused,
    free); with sample weights it goes into each batch loss. An optimiser step over
    accumulated batches sees ``accumulation_steps * batch_size`` rows. ``"adamw"``
    takes ``alpha`` as its decoupled decay; ``optimizer__weight_decay`` replaces
    ``alpha``.

    Examples
    --------
    >>> from sknn.plan.steps import decay
    >>> decay(solver="adam", alpha=0.1, batch_size=10, accumulation_steps=1,
    ...       weighted=False, weight_decay_option=False)
    Decay(weight_decay=0.01, penalty_in_loss=False, report_penalty=True)
    """
    lbfgs = solver == "lbfgs"
    penalty_in_loss = weighted and not lbfgs and alpha > 0
    step_rows = batch_size * accumulation_steps
    wd = 0.0 if (lbfgs or penalty_in_loss) else alpha / step_rows
    if solver == "adamw":
        wd, penalty_in_loss = alpha, False
    if weight_decay_option:
        penalty_in_loss = False
    return Decay(wd, penalty_in_loss, alpha > 0 and not weight_decay_option)


def optimizer(
    spec: OptimizerSpec,
    module: torch.nn.Module,
    *,
    weight_decay: float,
    lr: float,
    device: torch.device,
    max_fun: int,
    previous: torch.optim.Optimizer | None = None,
    saved_state: dict | None = None,
) -> torch.optim.Optimizer:
    """The optimiser: ``previous`` when ``partial_fit`` continues, else built (and
    given ``saved_state``, a loaded file's)."""
    if previous is not None:
        return previous
    if spec.solver == "lbfgs":
        opt = build_optimizer(
            "lbfgs",
            # L-BFGS takes no parameter groups; its L2 term is the objective's.
            [p for p in module.parameters() if p.requires_grad],
            lr=1.0,
            device=device,
            max_fun=max_fun,
        )
    else:
        opt = make_optimizer(
            spec, module, weight_decay=weight_decay, lr=lr, device=device
        )
    if saved_state is not None:
        load_optimizer_into(opt, saved_state, "The saved estimator")
    return opt


def schedule(
    *,
    solver: str,
    learning_rate: str,
    learning_rate_init: float,
    power_t: float,
    mode: str,
) -> LRSchedule | None:
    """The learning-rate schedule (none for L-BFGS).

    scikit-learn applies ``learning_rate`` to ``"sgd"`` only, and its momentum
    velocity holds the rate (``mode="sklearn"``); ``mode="torch"`` applies it to every
    stochastic solver with torch's momentum buffer.

    Examples
    --------
    >>> from sknn.plan.steps import schedule
    >>> schedule(solver="adam", learning_rate="invscaling", learning_rate_init=0.1,
    ...          power_t=0.5, mode="sklearn").kind
    'constant'
    """
    if solver == "lbfgs":
        return None
    sklearn_mode = mode == "sklearn"
    kind = "constant" if sklearn_mode and solver != "sgd" else learning_rate
    return LRSchedule(
        kind,
        learning_rate_init,
        power_t,
        rate_in_velocity=sklearn_mode and solver == "sgd",
    )


# ----------------------------------------------------------------------- loss
def user_loss(
    criterion: Any,
    options: dict,
    targets: TargetHandler,
    *,
    device: torch.device,
    dtype: torch.dtype,
    weighted: bool,
) -> UserLoss:
    """The engine's loss around a user's ``criterion``.

    Raises
    ------
    ValueError
        When per-row weights are asked of a criterion that gives one loss per batch.
    """
    loss = UserLoss(
        criterion,
        options,
        target=targets.criterion_target,
        device=device,
        dtype=dtype,
    )
    if weighted and not loss.weighted:
        raise ValueError(
            f"sample_weight (or class_weight) needs a criterion that gives one loss "
            f"per row: a torch loss class or instance with reduction='mean'; "
            f"criterion={loss.name} cannot be weighted."
        )
    return loss


def validation_scoring(est, scoring, loss_fn, score_fn, y_true, w_valid):
    """What ``scoring`` makes of the validation rows: ``(score_fn, view, metrics)``.

    The device score (``None`` where a scikit-learn scorer replaces it; minus the
    loss for ``"loss"``), the callbacks' view of each epoch's predictions
    (:class:`~sknn.scoring.ValidationPredictions`), and the host-side
    metrics (``None`` when none are asked, so that the default epoch reads nothing
    more).
    """
    scorers = check_scoring(scoring)
    if isinstance(scoring, str) and scoring == "loss":
        score_fn = _negated(loss_fn)
    elif "valid_score" in scorers:
        score_fn = None

    def view(out):
        return ValidationPredictions(est, out, y_true, w_valid)

    return score_fn, view, validation_metrics(scorers) if scorers else None


def _negated(loss_fn):
    """The validation score of ``scoring="loss"``: minus the loss (greater is
    better, as in scikit-learn's HistGradientBoosting)."""

    def score(out, y, w):
        return -loss_fn(out, y, w)

    return score


def l2_penalty(module: torch.nn.Module, alpha: float):
    """``penalty(n) = 0.5 * alpha * ||W||^2 / n`` over the weight tensors (more than
    one dimension) of ``module``.

    Examples
    --------
    >>> import torch
    >>> from sknn.plan.steps import l2_penalty
    >>> net = torch.nn.Linear(2, 1, bias=True)
    >>> _ = torch.nn.init.ones_(net.weight)
    >>> l2_penalty(net, 1.0)(1).item()
    1.0
    """
    weights = [p for p in module.parameters() if p.ndim > 1]

    def penalty(n):
        return 0.5 * alpha * sum((p * p).sum() for p in weights) / n

    return penalty
