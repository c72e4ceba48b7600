"""Training rows that stay on the host: a memmap larger than memory, streamed by batch.

:class:`HostData` is the batch source of ``data_placement="stream"`` (and of
``"auto"`` when the inputs exceed the memory budget): the inputs stay where they are
(a ``numpy.memmap`` stays on disk, in the OS page cache), and each batch gathers its
rows, converts them to the fit dtype and copies them to the device, the next batch
prepared in a background thread while the current one trains. Its batches are those of
:class:`~sknn.training.data.TensorData` for the same generator, so both give the same
weights. :func:`choose_source` makes the choice between them (with the estimate and
the decision of :mod:`sknn.training.placement`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch

from sknn.training.data import TensorData, cast_checked
from sknn.training.placement import (
    choose_placement,
    input_bytes,
    memory_budget,
)
from sknn.training.sources import Batch, Capabilities


class HostRows:
    """Some rows of a host array, gathered only when asked for: a lazy subset.

    ``HostRows(array, index)[key]`` is ``array[index[key]]``, a new in-memory array;
    the rows that are never asked for are never read (from a memmap: from disk).

    Parameters
    ----------
    array : numpy.ndarray
        The rows (samples first); a ``numpy.memmap`` is read only where indexed.
    index : numpy.ndarray of int, optional
        The rows of ``array`` this view holds, in order; all of them when ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.training.host import HostRows
    >>> rows = HostRows(np.arange(10.0).reshape(5, 2), np.array([4, 0, 2]))
    >>> rows.shape, rows[1:].tolist()
    ((3, 2), [[0.0, 1.0], [4.0, 5.0]])
    >>> rows.subset(np.array([1])).index.tolist()
    [0]
    """

    def __init__(self, array: np.ndarray, index: np.ndarray | None = None) -> None:
        self.array = array
        self.index = index

    @property
    def shape(self) -> tuple:
        n = self.array.shape[0] if self.index is None else len(self.index)
        return (n, *self.array.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """The rows ``key`` (an int, a slice or an index array) as a new array."""
        if self.index is not None:
            return self.array[self.index[key]]  # fancy indexing: a copy
        rows = self.array[key]
        # Basic indexing gives a view (of a memmap: on disk, maybe read-only).
        return np.array(rows) if isinstance(key, (slice, int, np.integer)) else rows

    def subset(self, positions: np.ndarray) -> HostRows:
        """The rows at ``positions`` of this view, still not read."""
        positions = np.asarray(positions, dtype=np.intp)
        return HostRows(
            self.array, positions if self.index is None else self.index[positions]
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)


class HostData(TensorData):
    """A batch source whose inputs stay on the host; one batch at a time goes to the
    device, the next one prepared in a background thread.

    It has the interface of :class:`~sknn.training.data.TensorData` and, for the same
    generator, the same batches (the same permutation, boundaries and values), so a
    fit gives the same weights as from device tensors. The targets and sample weights
    (small) live on the device. :meth:`subset` is lazy (an index array, never a copy of
    the inputs); :meth:`resident` materialises rows on the device when they fit
    ``budget`` (the validation rows). Each batch's rows are gathered from the host
    array (NumPy fancy indexing, which reads only those rows of a memmap), converted to
    ``x_dtype`` (checked for values beyond its range) and, on CUDA, pinned and copied
    with ``non_blocking=True``.

    Parameters
    ----------
    X : numpy.ndarray
        The inputs (samples first), e.g. a ``numpy.memmap``; one input, dense.
    y : array-like or None
        Targets (any shape with samples first).
    sample_weight : array-like or None
        Per-sample weights.
    device : torch.device
        Where batches go.
    y_dtype : torch.dtype, optional
        Target dtype (``torch.long`` for class indices, float otherwise).
    x_dtype : torch.dtype, default=torch.float32
        The dtype batches are converted to.
    budget : int or None, default=None
        Bytes of rows that :meth:`resident` may put on the device.
    prefetch : bool, default=True
        Prepare the next batch in a background thread while this one trains.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData
    >>> from sknn.training.host import HostData
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    >>> host = HostData(X, y, None, torch.device("cpu"))
    >>> mem = TensorData(X, y, None, torch.device("cpu"))
    >>> a = list(host.batches(4, torch.Generator().manual_seed(0)))
    >>> b = list(mem.batches(4, torch.Generator().manual_seed(0)))
    >>> all(torch.equal(p.inputs[0], q.inputs[0]) for p, q in zip(a, b)), len(a)
    (True, 3)
    >>> host.subset(np.array([3, 1])).inputs[0][:].tolist()
    [[6.0, 7.0], [2.0, 3.0]]
    """

    capabilities = Capabilities(streamed=True)

    def __init__(
        self,
        X: np.ndarray,
        y,
        sample_weight,
        device: torch.device,
        *,
        y_dtype: torch.dtype | None = None,
        x_dtype: torch.dtype = torch.float32,
        budget: int | None = None,
        prefetch: bool = True,
    ) -> None:
        self.budget = budget
        self.prefetch = prefetch
        super().__init__(X, y, sample_weight, device, y_dtype=y_dtype, x_dtype=x_dtype)

    def _hold(self, x) -> HostRows:
        """The input stays on the host, read only where indexed."""
        return x if isinstance(x, HostRows) else HostRows(x)

    def _take(self, x, is_sparse, index, index_t) -> HostRows:
        """The rows ``index``: still on the host, read only batch by batch."""
        return x.subset(index)

    def row_bytes(self) -> int:
        """Bytes of one row of inputs in ``x_dtype``."""
        return int(np.prod(self.inputs[0].shape[1:])) * self.x_dtype.itemsize

    def resident(self) -> TensorData:
        """These rows as a :class:`TensorData` on the device when they fit ``budget``
        (the validation rows, scored every epoch), else ``self``."""
        if self.budget is None or self.n_samples * self.row_bytes() > self.budget:
            return self
        rows = TensorData(
            self.inputs[0][:], None, None, self.device, x_dtype=self.x_dtype
        )
        return TensorData.from_tensors(rows.inputs, self.y, self.w)

    def _load(self, positions: slice | np.ndarray) -> torch.Tensor:
        """Rows ``positions`` as an ``x_dtype`` tensor on the host (pinned for CUDA)."""
        t = torch.from_numpy(np.ascontiguousarray(self.inputs[0][positions]))
        t = cast_checked(t, self.x_dtype)
        if self.device.type == "cuda":
            t = t.pin_memory()
        return t

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield ``(inputs, y, w)`` batches, shuffled when a generator is given.

        The permutation, the batch boundaries and the ``merge_last`` rule are those
        of :meth:`TensorData.batches`; the inputs of each batch are gathered from the
        host, the next batch while this one is used.
        """
        order, y, w, bounds = self._epoch_plan(batch_size, generator, merge_last)

        def load(i: int) -> torch.Tensor:
            start, stop = bounds[i]
            return self._load(
                slice(start, stop) if order is None else order[start:stop]
            )

        pool = ThreadPoolExecutor(1, "sknn-prefetch") if self.prefetch else None
        try:
            pending = pool.submit(load, 0) if pool is not None and bounds else None
            for i, (start, stop) in enumerate(bounds):
                if pool is None:
                    xb = load(i)
                else:
                    xb = pending.result()
                    if i + 1 < len(bounds):
                        pending = pool.submit(load, i + 1)
                yield Batch(
                    (xb.to(self.device, non_blocking=True),),
                    None if y is None else y[start:stop],
                    None if w is None else w[start:stop],
                )
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


def streamable(X) -> bool:
    """Whether :class:`HostData` can stream ``X``: one dense NumPy array (a memmap).

    Sparse matrices already stay on the host (densified one batch at a time), and
    several inputs, tensors and loaders keep their own batch sources.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.training.host import streamable
    >>> streamable(np.zeros((4, 2))), streamable((np.zeros((4, 2)), np.zeros(4)))
    (True, False)
    """
    return isinstance(X, np.ndarray) and X.ndim >= 1


def choose_source(
    X,
    y,
    sample_weight,
    device: torch.device,
    *,
    y_dtype: torch.dtype | None = None,
    x_dtype: torch.dtype = torch.float32,
    placement: str = "device",
    budget: int | None = None,
) -> TensorData:
    """The batch source of a fit's rows: device tensors or rows streamed from the host.

    Parameters
    ----------
    X, y, sample_weight, device, y_dtype, x_dtype
        As for :class:`~sknn.training.data.TensorData`.
    placement : {"auto", "device", "stream"}, default="device"
        ``data_placement``; see
        :func:`~sknn.training.placement.choose_placement`. Only one dense array
        streams (:func:`streamable`); other inputs always take ``TensorData``.
    budget : int or None, default=None
        ``memory_budget`` in bytes; ``None`` is
        :func:`~sknn.training.placement.memory_budget` (half of the device's free
        memory, of the available RAM on a CPU).

    Returns
    -------
    TensorData or HostData

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training.host import choose_source
    >>> X, cpu = np.zeros((100, 10)), torch.device("cpu")
    >>> type(choose_source(X, None, None, cpu, placement="auto")).__name__
    'TensorData'
    >>> type(choose_source(X, None, None, cpu, placement="auto", budget=1000)).__name__
    'HostData'
    """
    kwargs = dict(y_dtype=y_dtype, x_dtype=x_dtype)
    if placement == "device" or not streamable(X):
        if placement == "stream" and not sp.issparse(X):
            warnings.warn(
                f"data_placement='stream' streams one dense array; these inputs "
                f"({type(X).__name__}) are trained from device memory instead.",
                UserWarning,
                stacklevel=3,
            )
        return TensorData(X, y, sample_weight, device, **kwargs)
    if budget is None:
        budget = memory_budget(device)
    if choose_placement(placement, input_bytes(X, x_dtype), budget) == "device":
        return TensorData(X, y, sample_weight, device, **kwargs)
    return HostData(X, y, sample_weight, device, budget=budget, **kwargs)


#: The name of :func:`choose_source` in earlier versions.
training_source = choose_source
