"""Mixed precision, gradient accumulation and ``torch.compile`` for the training loop.

:class:`StepPlan` says how the loop turns batches into optimiser steps: the forward
pass under ``torch.autocast`` (bfloat16 on CPU or CUDA, float16 on CUDA with a
gradient scaler), ``accumulation_steps`` batches per step, and the optimiser step
itself. The default plan (full precision, one batch per step) adds no work to a step.
Nothing here knows of scikit-learn: the estimators check their parameters with
:func:`check_step_plan` and build the plan with :func:`make_step_plan`.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

#: ``autocast`` values and the dtypes they name.
AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def check_step_plan(
    *,
    autocast: str | None,
    accumulation_steps: int,
    compile: bool | dict,
    device: torch.device,
    dtype: str,
    full_batch: bool,
    parallel: bool,
) -> None:
    """Refuse combinations of the step parameters that cannot work, naming them.

    Parameters
    ----------
    autocast : {None, "bfloat16", "float16"}
        The mixed-precision dtype.
    accumulation_steps : int
        Batches per optimiser step.
    compile : bool or dict
        ``torch.compile`` of the training module.
    device : torch.device
        Where the fit runs.
    dtype : str
        The estimator's ``dtype`` parameter (``"auto"``, ``"float32"``, ...).
    full_batch : bool
        Whether the solver is full-batch L-BFGS.
    parallel : bool
        Whether the fit is data-parallel over processes (``torchrun``).

    Raises
    ------
    ValueError
        For float16 off CUDA, bfloat16 on a GPU without it, autocast with
        ``dtype="float64"``, any of the three with ``solver="lbfgs"``, and
        accumulation in data-parallel fits.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.precision import check_step_plan
    >>> check_step_plan(autocast="float16", accumulation_steps=1, compile=False,
    ...                 device=torch.device("cpu"), dtype="auto", full_batch=False,
    ...                 parallel=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: autocast='float16' needs a CUDA device ...
    """
    if full_batch:
        used = [
            name
            for name, on in (
                ("autocast", autocast is not None),
                ("accumulation_steps", accumulation_steps != 1),
                ("compile", bool(compile)),
            )
            if on
        ]
        if used:
            raise ValueError(
                f"{', '.join(used)} apply to the stochastic solvers; solver='lbfgs' "
                "runs full-batch in full precision. Use solver='adam' or 'sgd', or "
                "leave them at their defaults."
            )
    if autocast is not None:
        if autocast == "float16" and device.type != "cuda":
            raise ValueError(
                f"autocast='float16' needs a CUDA device (the fit runs on "
                f"{device.type!r}); use autocast='bfloat16' on a CPU."
            )
        if (
            autocast == "bfloat16"
            and device.type == "cuda"
            and not torch.cuda.is_bf16_supported()
        ):
            raise ValueError(
                "autocast='bfloat16' needs a GPU with bfloat16 support (compute "
                "capability 8.0 or later); use autocast='float16' on this GPU."
            )
        if dtype == "float64":
            raise ValueError(
                f"autocast={autocast!r} computes in {autocast} with float32 weights; "
                'it cannot be combined with dtype="float64". Use dtype="float32" or '
                '"auto".'
            )
    if accumulation_steps != 1 and parallel:
        raise ValueError(
            f"accumulation_steps={accumulation_steps} is not supported in "
            "data-parallel (torchrun) fits; each process already holds a share of "
            "every batch: raise batch_size instead."
        )


class StepPlan:
    """How batches become optimiser steps: precision, accumulation, the step itself.

    Parameters
    ----------
    device : torch.device
        Where the fit runs (autocast's device type).
    autocast : torch.dtype or None, default=None
        Mixed-precision dtype of the forward pass; ``None`` is full precision.
    accumulation_steps : int, default=1
        Batches per optimiser step.
    scaler : torch.amp.GradScaler or None, default=None
        Loss scaling for float16 (kept by the estimator across ``partial_fit`` calls).
    compile : bool or dict, default=False
        Whether the training module is ``torch.compile``-d (for error messages).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.precision import StepPlan
    >>> plan = StepPlan(torch.device("cpu"), torch.bfloat16)
    >>> with plan.forward():
    ...     out = torch.nn.Linear(2, 1)(torch.ones(3, 2))
    >>> out.dtype, plan.output(out).dtype
    (torch.bfloat16, torch.float32)
    """

    def __init__(
        self,
        device: torch.device,
        autocast: torch.dtype | None = None,
        accumulation_steps: int = 1,
        scaler: torch.amp.GradScaler | None = None,
        compile: bool | dict = False,
    ) -> None:
        self.device = device
        self.autocast = autocast
        self.accumulation_steps = accumulation_steps
        self.scaler = scaler
        self.compile = compile

    @property
    def plain(self) -> bool:
        """Full precision, one batch per step, no scaler."""
        return (
            self.autocast is None and self.accumulation_steps == 1 and not self.scaler
        )

    def forward(self) -> contextlib.AbstractContextManager:
        """The context of the forward pass (``torch.autocast`` or nothing)."""
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)

    def output(self, out: torch.Tensor) -> torch.Tensor:
        """The module output in float32 for the loss (autocast's may be narrower)."""
        if self.autocast is not None and out.dtype == self.autocast:
            return out.float()
        return out

    def backward(self, loss: torch.Tensor) -> None:
        """Back-propagate ``loss`` (scaled for float16)."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer, divide=None) -> None:
        """Make the gradients true gradients before callbacks see them: undo the
        loss scale, and divide by ``divide`` (an accumulated group's total weight)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        if divide is not None:
            grads = [
                p.grad
                for g in optimizer.param_groups
                for p in g["params"]
                if p.grad is not None
            ]
            if grads:
                torch._foreach_div_(grads, divide)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Take the optimiser step (skipped by the scaler on non-finite gradients)."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()


def make_step_plan(
    device: torch.device,
    autocast: str | None,
    accumulation_steps: int,
    scaler: torch.amp.GradScaler | None = None,
    compile: bool | dict = False,
) -> StepPlan:
    """The :class:`StepPlan` of an estimator's parameters.

    float16 gets a gradient scaler (``scaler`` when one is carried over from an
    earlier ``partial_fit`` call); bfloat16 has float32's range and needs none.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.precision import make_step_plan
    >>> make_step_plan(torch.device("cpu"), None, 1).plain
    True
    """
    dtype = None if autocast is None else AUTOCAST_DTYPES[autocast]
    if dtype is torch.float16 and scaler is None:
        scaler = torch.amp.GradScaler(device.type)
    elif dtype is not torch.float16:
        scaler = None
    return StepPlan(device, dtype, accumulation_steps, scaler, compile)


def compile_module(module: nn.Module, compile: bool | dict) -> nn.Module:
    """``torch.compile(module, **options)`` for ``compile=True`` or a dict of options.

    The compiled module shares the parameters of ``module`` (which stays the one that
    predicts and is saved); compilation happens at the first training step.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.precision import compile_module
    >>> net = torch.nn.Linear(2, 1)
    >>> compile_module(net, False) is net
    True
    """
    if not compile:
        return module
    options = dict(compile) if isinstance(compile, dict) else {}
    try:
        return torch.compile(module, **options)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"compile={compile!r} was refused by torch.compile: {exc}"
        ) from exc


def compile_error(exc: BaseException, compile: bool | dict) -> Exception | None:
    """A clear error for a failure inside ``torch.compile`` (``None`` if it is not
    one): the compiler's traceback names no parameter."""
    module = type(exc).__module__ or ""
    if compile and module.startswith(("torch._dynamo", "torch._inductor")):
        return RuntimeError(
            f"torch.compile failed while training (compile={compile!r}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            "Fit with compile=False, or pass torch.compile options as a dict "
            '(e.g. compile={"backend": "eager"}).'
        )
    return None
