"""In-memory training rows as device tensors, batched by index slices (the row
source the others build on), and a loader's own batches (:class:`StreamData`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from sknn.training.sources import Batch, Capabilities, batch_bounds


def _to_tensor(
    a, device: torch.device, dtype: torch.dtype | None = None, name: str = "X"
) -> torch.Tensor:
    if isinstance(a, np.ndarray):
        a = np.ascontiguousarray(a)
        if not a.flags.writeable:  # read-only memmaps: torch needs writable memory
            a = a.copy()
    t = torch.as_tensor(a)
    if dtype is not None:
        t = cast_checked(t, dtype, name)
    return t.to(device)


def cast_checked(t: torch.Tensor, dtype: torch.dtype, name: str = "X") -> torch.Tensor:
    """``t`` as ``dtype``; a float narrowed to a smaller float is checked for values
    beyond the new range (:func:`check_in_range`).

    Examples
    --------
    >>> import torch
    >>> from sknn.training.data import cast_checked
    >>> cast_checked(torch.ones(2, dtype=torch.float64), torch.float32).dtype
    torch.float32
    """
    if t.dtype == dtype:
        return t
    narrowing = t.is_floating_point() and t.element_size() > dtype.itemsize
    t = t.to(dtype)
    if narrowing:
        check_in_range(t, name)
    return t


def check_in_range(t, name: str = "X") -> None:
    """Raise when a float tensor (or array) narrowed to a smaller float dtype overflowed.

    The input was finite before the conversion (scikit-learn's validation), so an
    infinite value after it is a value beyond the dtype's range. One pass, no copy.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.data import check_in_range
    >>> check_in_range(torch.tensor([1e39]).float())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X has values beyond the range of float32 ...; pass dtype="float64" ...
    """
    if isinstance(t, np.ndarray):
        if t.size and not (np.isfinite(t.min()) and np.isfinite(t.max())):
            dtype_name, big = t.dtype.name, float(np.finfo(t.dtype).max)
        else:
            return
    elif t.numel():
        lo, hi = torch.aminmax(t.reshape(-1))
        if bool(torch.isfinite(lo) & torch.isfinite(hi)):
            return
        dtype_name = str(t.dtype).replace("torch.", "")
        big = float(torch.finfo(t.dtype).max)
    else:
        return
    raise ValueError(
        f"{name} has values beyond the range of {dtype_name} (largest magnitude about "
        f'{big:.1e}); pass dtype="float64" to the estimator, or scale the input.'
    )


#: What a ``DataLoader``'s default collate raises for items it cannot batch: a type
#: it does not know (``TypeError``) or tensors of different shapes (``RuntimeError``).
COLLATE_ERRORS = (TypeError, RuntimeError)


def unreadable(data, exc: Exception) -> ValueError:
    """The error for a Dataset or loader whose items could not be batched.

    Examples
    --------
    >>> from sknn.training.data import unreadable
    >>> print(unreadable([], RuntimeError("stack expects equal sizes")))
    Could not read the list in batches: stack expects equal sizes. Items must be ...
    """
    return ValueError(
        f"Could not read the {type(data).__name__} in batches: {exc}. Items must be "
        "tensors, arrays or numbers (of one shape), or tuples or dicts of them; "
        "items of different shapes need a collate_fn (loader_kwargs) that pads them."
    )


class TensorData:
    """Training rows: inputs, targets and sample weights, moved to the device once
    per fit.

    Batches are index slices: each epoch gathers the rows in shuffled order once and
    yields views, so there is no per-sample ``Dataset`` and no host round trip per batch.
    A SciPy sparse matrix stays on the host and is densified one batch at a time.

    This is the row source the others build on (:mod:`sknn.training.sources`): the
    targets and weights live on the device, rows are taken by index
    (:meth:`subset`), and every epoch is cut by one ``torch.randperm`` draw and
    :func:`~sknn.training.sources.batch_bounds`. :class:`~sknn.training.host.HostData`
    and :class:`~sknn.training.dataset_stream.DatasetData` keep their inputs elsewhere
    (:meth:`_hold`, :meth:`_take`) and read them batch by batch.

    Parameters
    ----------
    inputs : array-like, sparse matrix, or sequence of them
        The module's positional inputs; each has the samples on its first axis.
    y : array-like or None
        Targets (any shape with samples first).
    sample_weight : array-like or None
        Per-sample weights.
    device : torch.device
        Where the tensors live.
    y_dtype : torch.dtype, optional
        Target dtype (``torch.long`` for class indices, float otherwise).
    x_dtype : torch.dtype, default=torch.float32
        The dtype floating inputs are converted to.
    n_samples : int, optional
        Rows of the source, when ``inputs`` do not hold them all (a Dataset's first
        rows); by default the rows of ``inputs``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData
    >>> data = TensorData(np.arange(10.0).reshape(5, 2), np.arange(5), None, torch.device("cpu"))
    >>> [len(b.y) for b in data.batches(2)]
    [2, 2, 1]
    >>> data.subset(np.array([4, 0])).inputs[0].tolist()
    [[8.0, 9.0], [0.0, 1.0]]
    """

    capabilities = Capabilities()

    def __init__(
        self,
        inputs,
        y,
        sample_weight,
        device: torch.device,
        *,
        y_dtype: torch.dtype | None = None,
        x_dtype: torch.dtype = torch.float32,
        n_samples: int | None = None,
    ) -> None:
        if not isinstance(inputs, (tuple, list)):
            inputs = (inputs,)
        self.device = device
        self.x_dtype = x_dtype
        self.sparse = [sp.issparse(x) for x in inputs]
        self.inputs: list = [self._hold(x) for x in inputs]
        self.n_samples = self.inputs[0].shape[0] if n_samples is None else n_samples
        self.y = None if y is None else _to_tensor(y, device, y_dtype, "y")
        self.w = (
            None
            if sample_weight is None
            else _to_tensor(sample_weight, device, x_dtype, "sample_weight")
        )

    @staticmethod
    def from_tensors(
        inputs: Sequence[torch.Tensor],
        y: torch.Tensor | None = None,
        w: torch.Tensor | None = None,
    ) -> TensorData:
        """Rows already on their device, as they are (floating inputs in the first
        one's dtype; no copy).

        Examples
        --------
        >>> import torch
        >>> from sknn.training import TensorData
        >>> TensorData.from_tensors([torch.zeros(3, 2, dtype=torch.float64)]).x_dtype
        torch.float64
        """
        first = inputs[0]
        dtype = first.dtype if first.is_floating_point() else torch.float32
        return TensorData(list(inputs), y, w, first.device, x_dtype=dtype)

    def _hold(self, x):
        """One input as this source keeps it: a tensor on the device (floats in
        ``x_dtype``), or a CSR matrix on the host."""
        if sp.issparse(x):
            csr = sp.csr_matrix(
                x, dtype=torch.empty(0, dtype=self.x_dtype).numpy().dtype
            )
            check_in_range(csr.data)
            return csr
        if isinstance(x, torch.Tensor) and not torch.is_floating_point(x):
            return x.to(self.device)
        return _to_tensor(x, self.device, self.x_dtype)

    def _take(self, x, is_sparse: bool, index: np.ndarray, index_t: torch.Tensor):
        """The rows ``index`` of one held input (``index_t`` on the device)."""
        return x[index] if is_sparse else x.index_select(0, index_t)

    def _targets_at(self, idx: torch.Tensor) -> tuple:
        """``(y, w)`` of the rows ``idx`` (a device index tensor)."""
        return (
            None if self.y is None else self.y.index_select(0, idx),
            None if self.w is None else self.w.index_select(0, idx),
        )

    def __len__(self) -> int:
        return self.n_samples

    def subset(self, index: np.ndarray) -> TensorData:
        """The rows in ``index``: a source of the same kind on the same device."""
        index = np.asarray(index, dtype=np.int64)
        idx_t = torch.as_tensor(index, dtype=torch.long, device=self.device)
        rows = copy.copy(self)  # this source's settings, other rows
        rows.inputs = [
            self._take(x, s, index, idx_t) for x, s in zip(self.inputs, self.sparse)
        ]
        rows.n_samples = len(index)
        rows.y, rows.w = self._targets_at(idx_t)
        return rows

    def _dense(self, x, rows: slice) -> torch.Tensor:
        block = x[rows].toarray()
        return torch.from_numpy(block).to(self.device, non_blocking=True)

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield the epoch's :class:`~sknn.training.sources.Batch` records, shuffled
        when a generator is given.

        With ``merge_last``, a last batch of one row is merged into the batch before
        it (which then has ``batch_size + 1`` rows): batch normalisation cannot
        normalise one row.
        """
        n = self.n_samples
        if generator is not None:
            perm = torch.randperm(n, generator=generator)
            perm_dev = perm.to(self.device, non_blocking=True)
            perm_np = perm.numpy()
            # Sparse matrices are permuted once per epoch on the host, so that each
            # batch is a cheap contiguous row slice densified on its own.
            xs = [
                x[perm_np] if s else x.index_select(0, perm_dev)
                for x, s in zip(self.inputs, self.sparse)
            ]
            y, w = self._targets_at(perm_dev)
        else:
            xs, y, w = self.inputs, self.y, self.w
        for start, stop in batch_bounds(n, batch_size, merge_last):
            xb = tuple(
                self._dense(x, slice(start, stop)) if s else x[start:stop]
                for x, s in zip(xs, self.sparse)
            )
            yield Batch(
                xb,
                None if y is None else y[start:stop],
                None if w is None else w[start:stop],
            )

    def _epoch_plan(
        self, batch_size: int, generator: torch.Generator | None, merge_last: bool
    ) -> tuple:
        """``(order, y, w, bounds)`` of an epoch for sources that read their inputs
        batch by batch: the rows in :meth:`batches`' shuffled order (``None``
        unshuffled), the targets and weights in that order, and the batches'
        ``(start, stop)``. The same generator draw as :meth:`batches`, so every
        source trains on the same batches."""
        if generator is not None:
            perm = torch.randperm(self.n_samples, generator=generator)
            y, w = self._targets_at(perm.to(self.device, non_blocking=True))
            order = perm.numpy()
        else:
            order, y, w = None, self.y, self.w
        return order, y, w, list(batch_bounds(self.n_samples, batch_size, merge_last))

    def resident(self) -> TensorData:
        """These rows as tensors on the device (``self``: they are already there)."""
        return self


class StreamData:
    """Batches streamed from a loader every epoch: a batch source without rows by
    index.

    The loader's batches are the training batches (its batch size, order, workers);
    ``prepare`` turns one loader batch into validated host inputs and encoded
    targets, which are moved to the device one batch at a time. Its capabilities say
    it has no rows by index (``rows=False``): validation splits need rows in memory.
    With ``merge_last`` (batch normalisation) it holds two batches back, so that a
    last batch of one row joins the one before it, as in every other batch source
    (:func:`~sknn.training.sources.batch_bounds`).

    Parameters
    ----------
    loader : iterable
        Re-iterable source of batches (a ``torch.utils.data.DataLoader``).
    prepare : callable
        ``prepare(batch) -> (inputs tuple, targets or None)`` on the host.
    n_samples : int
        Rows per epoch.
    device : torch.device
        Where batches go.
    y_dtype, x_dtype : torch.dtype
        Target and floating input dtypes.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.data import StreamData
    >>> loader = [(torch.ones(4, 2), torch.zeros(4)), (torch.ones(2, 2), torch.zeros(2))]
    >>> data = StreamData(loader, lambda b: ((b[0],), b[1]), 6, torch.device("cpu"))
    >>> [len(b.y) for b in data.batches(100)], data.capabilities.rows
    ([4, 2], False)
    """

    capabilities = Capabilities(rows=False, streamed=True)
    #: No targets or weights held: each batch brings its own.
    y = w = None

    def __init__(
        self,
        loader,
        prepare: Callable,
        n_samples: int,
        device: torch.device,
        *,
        y_dtype: torch.dtype | None = None,
        x_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.loader, self.prepare = loader, prepare
        self.device, self.n_samples = device, n_samples
        self.y_dtype, self.x_dtype = y_dtype, x_dtype
        first = next(iter(self.batches(1))).inputs  # an example batch (planning)
        self.inputs, self.sparse = list(first), [False] * len(first)

    def __len__(self) -> int:
        return self.n_samples

    def _tensor(self, x) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and not torch.is_floating_point(x):
            return x.to(self.device)
        return _to_tensor(x, self.device, self.x_dtype)

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield the loader's batches as :class:`~sknn.training.sources.Batch`
        records on the device.

        ``batch_size`` and ``generator`` do not apply: the loader decides the
        batches and their order. With ``merge_last``, a last batch of one row joins
        the batch before it.
        """
        window: list[Batch] = []
        empty = True
        for batch in self.loader:
            empty = False
            xs, y = self.prepare(batch)
            window.append(
                Batch(
                    tuple(self._tensor(x) for x in xs),
                    None
                    if y is None
                    else _to_tensor(y, self.device, self.y_dtype, "y"),
                    None,
                )
            )
            # The oldest of three batches cannot be the one a last row joins.
            if len(window) > (2 if merge_last else 0):
                yield window.pop(0)
        if len(window) == 2 and window[1].inputs[0].shape[0] == 1:
            before, last = window
            window = [
                Batch(
                    tuple(torch.cat(pair) for pair in zip(before.inputs, last.inputs)),
                    None if before.y is None else torch.cat([before.y, last.y]),
                    None,
                )
            ]
        yield from window
        if empty:  # it had rows when they were counted: a one-pass iterable
            raise ValueError(
                f"The loader yielded nothing on a later pass (it had {self.n_samples} "
                "rows when fit counted them): fit reads it once to count the rows and "
                "collect the targets, then once per epoch, so it must be iterable "
                "again each time. An IterableDataset whose __iter__ returns one "
                "generator made beforehand runs dry after one pass: create the "
                "generator inside __iter__ (or pass arrays or a map-style Dataset)."
            )


def require_rows(source, message: str) -> None:
    """Raise ``ValueError(message)`` when ``source`` has no rows by index
    (``capabilities.rows``), before a caller splits it.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training.data import TensorData, require_rows
    >>> require_rows(TensorData(np.zeros((2, 1)), None, None, torch.device("cpu")), "no")
    """
    if not source.capabilities.rows:
        raise ValueError(message)
