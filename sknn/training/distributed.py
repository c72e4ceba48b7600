"""Data-parallel training over ``torch.distributed`` processes, launched by torchrun.

The same script runs in every process. When it is launched by ``torchrun`` (or any
launcher that sets ``RANK`` / ``WORLD_SIZE`` / ``MASTER_ADDR``), ``fit`` joins the
process group and trains one network with
:class:`~torch.nn.parallel.DistributedDataParallel`:

* every process holds the data and draws the same shuffled order from the
  estimator's seed; each global batch of ``batch_size`` rows is split over the
  processes (rank ``r`` takes rows ``r, r + world, ...``), which is what a
  ``DistributedSampler`` does, without a per-sample loader;
* each process's loss is rescaled so that DDP's gradient average equals the gradient
  of the global batch's mean loss, also for a smaller last batch;
* the epoch's training loss is averaged over processes and a stop asked for by any
  process's callbacks stops all of them, so early stopping and the convergence rule
  agree everywhere; validation runs on the whole validation set in every process;
* only rank 0 writes files (checkpoints, logs, trackers: see :func:`is_main_process`);
* every process ends with the same fitted estimator, which predicts and saves as any.

Nothing here knows about scikit-learn.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn

from sknn.training.sources import Batch, BatchSource, SourceWrapper
from sknn.utils.ranks import active, is_main_process, launched, rank_and_world

#: How long a collective waits for a missing process before failing (seconds);
#: ``SKNN_DIST_TIMEOUT`` overrides it. A killed rank then ends the job with an error.
DEFAULT_TIMEOUT = 300.0


def ensure_process_group(device: torch.device) -> bool:
    """Join the process group described by torchrun's environment, once.

    Uses NCCL for CUDA devices and gloo otherwise, with a timeout of
    :data:`DEFAULT_TIMEOUT` seconds (``SKNN_DIST_TIMEOUT``). Returns whether
    training is data-parallel.
    """
    if active():
        return True
    if not launched() or not dist.is_available():
        return False
    timeout = float(os.environ.get("SKNN_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    return active()


def local_device(device: torch.device) -> torch.device:
    """The GPU of this process (``LOCAL_RANK``) when training on CUDA.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.distributed import local_device
    >>> local_device(torch.device("cpu"))
    device(type='cpu')
    """
    if device.type != "cuda" or device.index is not None:
        return device
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


class ShardedData(SourceWrapper):
    """This process's share of each global batch of a batch source.

    Every process shuffles with the same generator state, so the global batches agree;
    rank ``r`` keeps rows ``r::world`` of each. Each :class:`~sknn.training.sources.Batch`
    carries the factor (``scale``) that makes DDP's gradient average equal the
    gradient of the global batch's mean loss, and the global batch's weight
    (``weight``) for the L2 term. The rows, targets and row access are those of the
    wrapped source.

    Parameters
    ----------
    source : BatchSource
        The training rows (every process holds them all).
    rank, world : int
        This process's rank and the number of processes.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData
    >>> from sknn.training.distributed import ShardedData
    >>> data = TensorData(np.arange(10.0)[:, None], None, None, torch.device("cpu"))
    >>> shard = ShardedData(data, rank=1, world=2)
    >>> [b.inputs[0].ravel().tolist() for b in shard.batches(4)]
    [[1.0, 3.0], [5.0, 7.0], [9.0]]
    >>> [b.weight for b in shard.batches(4)]  # the global batches' rows
    [4, 4, 2]
    """

    def __init__(self, source: BatchSource, rank: int, world: int) -> None:
        super().__init__(source)
        self.rank = rank
        self.world = world
        self.capabilities = dataclasses.replace(source.capabilities, sharded=True)

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield this rank's rows of each global batch (``batch_size`` rows in all)."""
        r, k = self.rank, self.world
        for xb, yb, wb, _, _ in self.source.batches(
            batch_size, generator, merge_last=merge_last
        ):
            n = xb[0].shape[0]
            if wb is None:
                weight: float | torch.Tensor = n
                scale: float | torch.Tensor = len(range(r, n, k)) * k / n
            else:
                # Weights stay on the device: no host sync per batch.
                weight = total = wb.sum()
                scale = wb[r::k].sum() * k / total.clamp_min(1e-30)
            yield Batch(
                tuple(x[r::k] for x in xb),
                None if yb is None else yb[r::k],
                None if wb is None else wb[r::k],
                scale,
                weight,
            )


def broadcast_seed(seed: int, device: torch.device) -> int:
    """Rank 0's ``seed`` in every process (a no-op alone), so that initialisation,
    shuffling and the validation split agree even with ``random_state=None``."""
    if not active():
        return seed
    t = torch.tensor([seed], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return int(t.item())


def wrap_module(module: nn.Module, device: torch.device) -> nn.Module:
    """Wrap ``module`` in :class:`~torch.nn.parallel.DistributedDataParallel`.

    Parameters start equal in every process: DDP broadcasts rank 0's at wrap time.
    """
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.distributed import unwrap
    >>> net = torch.nn.Linear(2, 1)
    >>> unwrap(net) is net
    True
    """
    return (
        module.module
        if isinstance(module, nn.parallel.DistributedDataParallel)
        else module
    )


def mean_over_processes(
    value: torch.Tensor, weight: float | torch.Tensor
) -> torch.Tensor:
    """The ``weight``-weighted mean of ``value`` over all processes (a no-op alone)."""
    if not active():
        return value
    w = torch.as_tensor(weight, dtype=value.dtype, device=value.device)
    pair = torch.stack([value.detach() * w, w])
    dist.all_reduce(pair)
    return pair[0] / pair[1]


def any_process(flag: bool, device: torch.device) -> bool:
    """True when ``flag`` is true in at least one process (all processes agree)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


__all__ = [
    "ShardedData",
    "active",
    "any_process",
    "broadcast_seed",
    "ensure_process_group",
    "is_main_process",
    "launched",
    "local_device",
    "mean_over_processes",
    "rank_and_world",
    "unwrap",
    "wrap_module",
]
