"""The batch-source protocol: what the training loops and predictions read.

Every reader of training rows is a :class:`BatchSource`: it yields :class:`Batch`
records, each carrying what the engine needs to weigh it (a data-parallel shard's
gradient scale and the weight of the whole global batch), and declares what it can do
in a :class:`Capabilities` record, which the engine and the stacked engine read instead
of probing for attributes. The sources:

==============================================  ==========================================
:class:`~sknn.training.data.TensorData`         rows as device tensors (the fast default)
:class:`~sknn.training.host.HostData`           rows kept on the host (a memmap), by batch
:class:`~sknn.training.dataset_stream.DatasetData`  rows of a map-style Dataset, by batch
:class:`~sknn.training.data.StreamData`         a loader's own batches (no rows by index)
:class:`~sknn.training.distributed.ShardedData`  wraps a source: this process's share
:class:`~sknn.training.augment.AugmentedData`   wraps a source: transformed training batches
==============================================  ==========================================

The row sources (the first three) cut every epoch alike (:func:`batch_bounds`, one
``torch.randperm`` draw per epoch), so they train the same weights; the wrappers hold
the source they wrap (composition) and pass its rows through.
:func:`~sknn.training.placement.choose_source` picks between device and host rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import NamedTuple, Protocol

import torch
from torch import nn


class Batch(NamedTuple):
    """One batch: the module's inputs, targets and weights, and how to weigh it.

    Indexable as the ``(inputs, y, w)`` triple of earlier versions (``batch[0]`` is the
    inputs tuple).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.sources import Batch
    >>> b = Batch((torch.zeros(2, 3),), torch.zeros(2), None)
    >>> b.inputs[0].shape, b.scale, b.weight
    (torch.Size([2, 3]), None, None)
    """

    #: The module's positional inputs, samples first.
    inputs: tuple[torch.Tensor, ...]
    #: Targets, or None.
    y: torch.Tensor | None
    #: Per-sample weights, or None (all 1).
    w: torch.Tensor | None
    #: Factor of the batch loss before the backward pass (None: 1); a data-parallel
    #: shard's, so that DDP's gradient average is the global batch's gradient.
    scale: float | torch.Tensor | None = None
    #: Weight of the whole (global) batch, for the L2 term (None: this batch's own).
    weight: float | torch.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a batch source can do, declared by the source.

    Examples
    --------
    >>> from sknn.training.sources import Capabilities
    >>> Capabilities(), Capabilities().streamed
    (Capabilities(rows=True, streamed=False, augmented=False, sharded=False), False)
    """

    #: Rows by index: :meth:`~BatchSource.subset` (validation splits) and
    #: ``resident()``; a loader's own batches have none.
    rows: bool = True
    #: Inputs read from the host or a Dataset batch by batch, not held on the device
    #: (the stacked engine, which reads all rows at once, fits such sources alone).
    streamed: bool = False
    #: Training batches go through a transform (augmentation).
    augmented: bool = False
    #: This process's share of each global batch of a data-parallel fit.
    sharded: bool = False


class BatchSource(Protocol):
    """What the training loops read: batches, rows per epoch, the device, and the
    declared :class:`Capabilities`.

    ``inputs`` and ``sparse`` describe the inputs (shapes and dtypes of at least one
    row: thread planning, the stacked engine's checks); sources with
    ``capabilities.rows`` also have ``subset(index)`` and ``resident()``, and ``y`` /
    ``w`` (device tensors or None).
    """

    capabilities: Capabilities
    device: torch.device
    n_samples: int
    inputs: list
    sparse: list[bool]

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield an epoch's batches (shuffled when a generator is given)."""
        ...  # pragma: no cover


def batch_bounds(
    n: int, batch_size: int, merge_last: bool = False
) -> Iterator[tuple[int, int]]:
    """The ``(start, stop)`` rows of each batch of an epoch of ``n`` rows.

    With ``merge_last``, a last batch of one row joins the batch before it (which
    then has ``batch_size + 1`` rows): batch normalisation cannot normalise one row.
    Every batch source uses this rule, so that they all cut an epoch alike.

    Examples
    --------
    >>> from sknn.training.sources import batch_bounds
    >>> list(batch_bounds(5, 2))
    [(0, 2), (2, 4), (4, 5)]
    >>> list(batch_bounds(5, 2, merge_last=True))
    [(0, 2), (2, 5)]
    """
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if merge_last and n - stop == 1:
            stop = n  # the one-row remainder joins this batch
        yield start, stop
        if stop == n:
            return


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` holds a batch-normalisation layer (of any dimension).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.sources import has_batch_norm
    >>> has_batch_norm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)))
    True
    """
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def last_batch_merged(n: int, batch_size: int, merge_last: bool) -> bool:
    """Whether :func:`batch_bounds` merges a last batch of one row into the one
    before it (so an epoch has one batch fewer than ``ceil(n / batch_size)``).

    Examples
    --------
    >>> from sknn.training.sources import last_batch_merged
    >>> last_batch_merged(5, 2, True), last_batch_merged(5, 2, False)
    (True, False)
    >>> last_batch_merged(1, 2, True), last_batch_merged(3, 1, True)
    (False, True)
    """
    # The last batch holds one row exactly when n - 1 is a multiple of batch_size.
    return merge_last and n > batch_size and (n - 1) % batch_size == 0


def first_inputs(source: BatchSource, rows: int) -> tuple[torch.Tensor, ...]:
    """The inputs of the first ``rows`` rows ``source`` yields unshuffled, on its
    device.

    Read through :meth:`BatchSource.batches`, which every source has: a streamed
    ``DataLoader`` or ``IterableDataset`` (no rows by index) reads only its first
    batches; the inputs keep the dtype they were given.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData
    >>> from sknn.training.sources import first_inputs
    >>> data = TensorData(np.arange(10.0)[:, None], None, None, torch.device("cpu"))
    >>> first_inputs(data, 3)[0].ravel().tolist()
    [0.0, 1.0, 2.0]
    """
    parts, n = [], 0
    batches = source.batches(rows)
    try:
        for batch in batches:
            parts.append(batch.inputs)
            n += batch.inputs[0].shape[0]
            if n >= rows:
                break
    finally:
        batches.close()
    return tuple(torch.cat(p)[:rows] for p in zip(*parts))


class SourceWrapper:
    """Base of the sources that wrap another (composition): the rows, the device and
    the row access are the wrapped source's; subclasses change :meth:`batches` and
    :attr:`capabilities`.

    Parameters
    ----------
    source : BatchSource
        The wrapped source.
    """

    def __init__(self, source: BatchSource) -> None:
        self.source = source
        self.capabilities = source.capabilities

    @property
    def device(self) -> torch.device:
        """The wrapped source's device."""
        return self.source.device

    @property
    def n_samples(self) -> int:
        """Rows per epoch (all processes' rows for a sharded source)."""
        return self.source.n_samples

    @property
    def inputs(self) -> list:
        """The wrapped source's inputs (shapes and dtypes)."""
        return self.source.inputs

    @property
    def sparse(self) -> list[bool]:
        """Which of the wrapped source's inputs are sparse matrices."""
        return self.source.sparse

    @property
    def y(self) -> torch.Tensor | None:
        """The wrapped source's targets."""
        return self.source.y

    @property
    def w(self) -> torch.Tensor | None:
        """The wrapped source's sample weights."""
        return self.source.w

    def __len__(self) -> int:
        return self.n_samples

    def subset(self, index):
        """The wrapped source's rows in ``index`` (not wrapped)."""
        return self.source.subset(index)

    def resident(self):
        """The wrapped source's rows on the device (not wrapped)."""
        return self.source.resident()

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """The wrapped source's batches (subclasses transform them)."""
        return self.source.batches(batch_size, generator, merge_last=merge_last)


__all__ = [
    "Batch",
    "BatchSource",
    "Capabilities",
    "SourceWrapper",
    "batch_bounds",
    "first_inputs",
    "has_batch_norm",
    "last_batch_merged",
]
