"""What may share a stacked pass, with what, and how many models at once.

:func:`stack_reason` says why a prepared run cannot be stacked, :func:`architecture_key`
what must be equal for runs to share a pass, and :func:`plan_chunks` (with
:func:`estimate_model_bytes` and :func:`~sknn.training.placement.memory_budget`)
splits K models into passes that fit the device's memory.
:class:`~sknn.training.stacked.StackedTrainer` trains each pass.
"""

from __future__ import annotations

import math

import torch

from sknn.training.data import TensorData
from sknn.training.engine import Trainer
from sknn.training.user_loss import UserLoss

#: ``torch.optim`` classes the stacked engine reproduces.
STACKABLE_OPTIMIZERS = ("Adam", "AdamW", "SGD")


#: Stack convolutional networks on CPU too. Off: torch runs K models' convolutions as
#: one grouped convolution, which on CPU took longer than K separate ones (a 5-fold,
#: 4-candidate grid of the default CNN on digits: 14.3 s stacked, 11.3 s one by one).
CONV_ON_CPU = False


def _has_conv(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in module.modules())


def stack_reason(trainer: Trainer, train: TensorData) -> str | None:
    """Why ``trainer`` cannot join a stacked pass, or ``None`` when it can.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, TrainConfig, Trainer
    >>> from sknn.training.stack_plan import stack_reason
    >>> net = torch.nn.Linear(3, 1)
    >>> opt = torch.optim.LBFGS(net.parameters())
    >>> data = TensorData(np.ones((4, 3)), np.ones((4, 1)), None, torch.device("cpu"))
    >>> stack_reason(Trainer(net, None, opt, TrainConfig(4, 2)), data)
    'optimizer LBFGS'
    """
    name = type(trainer.optimizer).__name__
    if name not in STACKABLE_OPTIMIZERS:
        return f"optimizer {name}"
    if isinstance(trainer.loss_fn, UserLoss):
        return "a user criterion"
    for group in trainer.optimizer.param_groups:
        if "pattern" in group:
            return "optimizer__param_groups"
        if group.get("amsgrad") or group.get("maximize") or group.get("dampening"):
            return "optimizer options (amsgrad / maximize / dampening)"
    if trainer.config.full_batch:
        return "full-batch solver"
    plan = trainer.plan
    if not plan.plain or plan.compile:
        return "autocast, accumulation_steps or compile (one network at a time)"
    schedule = trainer.schedule
    if schedule is not None and schedule.rescales_momentum:
        if any(g.get("momentum", 0) for g in trainer.optimizer.param_groups):
            return "scikit-learn's momentum under a changing learning rate"
    if train.device.type not in ("cpu", "cuda"):
        return f"no fused optimiser kernels on {train.device.type}"
    if trainer.callbacks:
        return "callbacks"
    if trainer.metrics_fn is not None:
        return "scoring with scikit-learn scorers (computed on the host)"
    if any(isinstance(m, torch.nn.RNNBase) for m in trainer.module.modules()):
        return "recurrent layers (torch has no batching rule for them)"
    if not CONV_ON_CPU and train.device.type == "cpu" and _has_conv(trainer.module):
        return "convolutions on CPU (batched convolutions are slower there)"
    if any(train.sparse) or len(train.inputs) != 1:
        return "sparse or multiple inputs"
    caps = train.capabilities
    if caps.streamed:
        # The stacked pass reads the whole inputs at once; these stay on the host.
        return "data streamed from the host (data_placement)"
    if caps.augmented:
        # The stacked pass reads the rows itself, not through the augmented batches.
        return "augment (training-time transforms, one network at a time)"
    return None


def architecture_key(trainer: Trainer, train: TensorData) -> tuple:
    """What must be equal for two runs to share a pass.

    The module (its repr and parameter shapes and dtypes), the optimiser class, the
    loss and score functions, the target and input layouts, the device; and, for
    modules with buffers (batch norm), the number of rows and the batch size.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, TrainConfig, Trainer
    >>> from sknn.training.stack_plan import architecture_key
    >>> data = TensorData(np.ones((8, 3)), np.ones((8, 1)), None, torch.device("cpu"))
    >>> def run(width):
    ...     net = torch.nn.Linear(3, width)
    ...     opt = torch.optim.Adam(net.parameters())
    ...     return Trainer(net, None, opt, TrainConfig(2, 4))
    >>> architecture_key(run(1), data) == architecture_key(run(1), data)
    True
    >>> architecture_key(run(1), data) == architecture_key(run(2), data)
    False
    """
    shapes = tuple(
        (k, tuple(v.shape), v.dtype) for k, v in trainer.module.named_parameters()
    )
    # Buffers updated by the forward pass (batch norm's running statistics) see every
    # row of a batch, so models with buffers share a pass only when their batches
    # line up exactly: no padded rows, no steps past a model's last batch.
    batches = (
        (train.n_samples, trainer.config.batch_size)
        if any(True for _ in trainer.module.buffers())
        else None
    )
    return (
        batches,
        repr(trainer.module),
        shapes,
        type(trainer.optimizer).__name__,
        trainer.loss_fn,
        trainer.score_fn,
        None if train.y is None else (train.y.dtype, tuple(train.y.shape[1:])),
        tuple(train.inputs[0].shape[1:]),
        str(train.device),
    )


def estimate_model_bytes(trainer: Trainer, train: TensorData, valid=None) -> int:
    """Rough bytes one model takes in a stacked pass (weights, state, data, activations).

    Parameters counted seven times (weights, gradients, two optimiser moments, best and
    last good copies, update temporaries); the rows of ``train`` and ``valid``; and the
    activations of one batch (every parameter's output width times the batch size,
    four times for forward, backward and temporaries).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, TrainConfig, Trainer
    >>> from sknn.training.stack_plan import estimate_model_bytes
    >>> net = torch.nn.Linear(3, 1)
    >>> trainer = Trainer(net, None, torch.optim.Adam(net.parameters()), TrainConfig(2, 4))
    >>> data = TensorData(np.ones((8, 3)), np.ones((8, 1)), None, torch.device("cpu"))
    >>> estimate_model_bytes(trainer, data) > 0
    True
    """
    n_params = sum(p.numel() for p in trainer.module.parameters())
    widths = sum(p.shape[0] for p in trainer.module.parameters() if p.ndim > 1)
    row = train.inputs[0][0].numel() + (
        train.y[0].numel() if train.y is not None else 0
    )
    rows = train.n_samples + (valid.n_samples if valid is not None else 0)
    batch = max(trainer.config.batch_size, min(rows, 4096))
    item = train.inputs[0].element_size()
    return item * (7 * n_params + 2 * rows * (row + 1) + 4 * batch * (widths + row))


def plan_chunks(
    n_models: int, bytes_per_model: int, budget: int, max_models: int | None = None
) -> list[int]:
    """Split ``n_models`` into passes of at most ``budget // bytes_per_model`` models.

    Examples
    --------
    >>> from sknn.training.stack_plan import plan_chunks
    >>> plan_chunks(10, bytes_per_model=100, budget=400)
    [4, 3, 3]
    """
    per = max(1, budget // max(1, bytes_per_model))
    if max_models is not None:
        per = min(per, max_models)
    n_chunks = math.ceil(n_models / per)
    base, extra = divmod(n_models, n_chunks)
    return [base + (i < extra) for i in range(n_chunks)]
