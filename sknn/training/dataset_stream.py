"""Training rows of a map-style torch Dataset, loaded one batch at a time.

:class:`DatasetData` is the batch source of a ``Dataset`` fitted with
``data_placement="stream"`` (or ``"auto"`` when its inputs exceed the memory budget):
nothing is read up front but the targets. Every epoch it draws the permutation and the
batch boundaries of :class:`~sknn.training.data.TensorData` for the same generator, and
loads each batch's items through a ``torch.utils.data.DataLoader`` whose
``batch_sampler`` is that epoch's index batches (so the loader's workers, pinned
memory and collate function apply). Both sources therefore give the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from sknn.training.data import (
    COLLATE_ERRORS,
    TensorData,
    cast_checked,
    unreadable,
)
from sknn.training.sources import Batch, Capabilities

#: Rows per batch when rows are read in order (validation rows, predictions).
READ_ROWS = 256


class IndexBatches:
    """The dataset indices of each batch of an epoch: a ``DataLoader`` batch sampler.

    Built one batch at a time (a list of ints), so that an epoch's indices are never
    all held as Python objects.

    Parameters
    ----------
    rows : numpy.ndarray of int or None
        The dataset index of each row of the source; ``None`` is ``0..n-1``.
    order : numpy.ndarray of int or None
        The epoch's permutation of the rows; ``None`` keeps their order.
    bounds : list of (int, int)
        ``(start, stop)`` positions in ``order`` of each batch.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.training.dataset_stream import IndexBatches
    >>> list(IndexBatches(np.array([7, 8, 9]), np.array([2, 0, 1]), [(0, 2), (2, 3)]))
    [[9, 7], [8]]
    """

    def __init__(
        self,
        rows: np.ndarray | None,
        order: np.ndarray | None,
        bounds: Sequence[tuple[int, int]],
    ) -> None:
        self.rows, self.order, self.bounds = rows, order, bounds

    def __len__(self) -> int:
        return len(self.bounds)

    def __iter__(self) -> Iterator[list[int]]:
        for start, stop in self.bounds:
            pos = (
                np.arange(start, stop) if self.order is None else self.order[start:stop]
            )
            yield (pos if self.rows is None else self.rows[pos]).tolist()


class DatasetData(TensorData):
    """A batch source that loads each batch's items from a map-style Dataset.

    It has the interface of :class:`~sknn.training.data.TensorData` and, for the same
    generator, its batches (permutation, boundaries, ``merge_last``), so a fit gives
    the weights of a fit on the same rows in memory. The targets and sample weights
    (small) live on the device. :meth:`subset` is lazy (dataset indices, nothing
    read); :meth:`resident` loads the rows onto the device when they fit ``budget``
    (the validation rows). Loading in parallel with training is the loader's work:
    set ``num_workers`` in ``loader_kwargs``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Map-style (``__len__`` and ``__getitem__``); read only batch by batch.
    prepare : callable
        ``prepare(batch) -> tuple of inputs``: one collated loader batch as validated
        host arrays (or tensors), samples first.
    y : array-like or None
        Targets of every row (any shape with samples first).
    sample_weight : array-like or None
        Per-sample weights.
    device : torch.device
        Where batches go.
    rows : numpy.ndarray of int, optional
        The dataset indices this source trains on, in order; all of them when
        ``None``.
    example : sequence of array-like, optional
        Validated inputs of a few rows (shapes for planning); loaded when ``None``.
    y_dtype : torch.dtype, optional
        Target dtype (``torch.long`` for class indices, float otherwise).
    x_dtype : torch.dtype, default=torch.float32
        The dtype floating inputs are converted to.
    loader_kwargs : dict, optional
        ``DataLoader`` options (``num_workers``, ``pin_memory``, ``collate_fn`` ...);
        ``batch_size`` does not apply (the batches are this source's).
    budget : int or None, default=None
        Bytes of rows that :meth:`resident` may put on the device.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch.utils.data import TensorDataset
    >>> from sknn.training import TensorData
    >>> from sknn.training.dataset_stream import DatasetData
    >>> X, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
    >>> ds = TensorDataset(X, y)
    >>> data = DatasetData(ds, lambda b: (b[0],), y, None, torch.device("cpu"))
    >>> mem = TensorData(X, y, None, torch.device("cpu"))
    >>> a = list(data.batches(4, torch.Generator().manual_seed(0)))
    >>> b = list(mem.batches(4, torch.Generator().manual_seed(0)))
    >>> all(torch.equal(p.inputs[0], q.inputs[0]) for p, q in zip(a, b)), len(a)
    (True, 3)
    >>> next(data.subset(np.array([3, 1])).batches(2)).inputs[0].tolist()
    [[6.0, 7.0], [2.0, 3.0]]
    """

    capabilities = Capabilities(streamed=True)

    def __init__(
        self,
        dataset,
        prepare: Callable[[object], tuple],
        y,
        sample_weight,
        device: torch.device,
        *,
        rows: np.ndarray | None = None,
        example: Sequence | None = None,
        y_dtype: torch.dtype | None = None,
        x_dtype: torch.dtype = torch.float32,
        loader_kwargs: dict | None = None,
        budget: int | None = None,
    ) -> None:
        self.dataset, self.prepare = dataset, prepare
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.device, self.x_dtype, self.budget = device, x_dtype, budget
        kwargs = dict(loader_kwargs or {})
        kwargs.pop("batch_size", None)  # the batches are this source's
        self.loader_kwargs = kwargs
        self._epochs = 0
        if example is None:
            example = next(self._load(IndexBatches(self.rows, None, [(0, 1)]), False))
        # The inputs held are a few rows (their shapes plan threads; nothing is
        # trained on them); the rows are the dataset's.
        super().__init__(
            list(example),
            y,
            sample_weight,
            device,
            y_dtype=y_dtype,
            x_dtype=x_dtype,
            n_samples=len(dataset) if self.rows is None else len(self.rows),
        )

    def _hold(self, x):
        """An example row, kept as it is (the rows stay in the dataset)."""
        return x

    def _take(self, x, is_sparse, index, index_t):
        """The example rows stay; :meth:`subset` narrows the dataset indices."""
        return x

    def subset(self, index: np.ndarray) -> DatasetData:
        """The rows in ``index``: dataset indices, read only batch by batch."""
        rows = super().subset(index)
        index = np.asarray(index, dtype=np.int64)
        rows.rows = index if self.rows is None else self.rows[index]
        return rows

    def row_bytes(self) -> int:
        """Bytes of one row of inputs on the device."""
        return sum(
            int(np.prod(x.shape[1:]))
            * (x.element_size() if _kept(x) else self.x_dtype.itemsize)
            for x in self.inputs
        )

    def resident(self) -> TensorData:
        """These rows as a :class:`TensorData` on the device when they fit ``budget``
        (the validation rows, scored every epoch), else ``self``."""
        if self.budget is None or self.n_samples * self.row_bytes() > self.budget:
            return self
        parts = [batch.inputs for batch in self.batches(READ_ROWS)]
        inputs = [torch.cat(p) for p in zip(*parts)]
        return TensorData.from_tensors(inputs, self.y, self.w)

    def _tensor(self, x) -> torch.Tensor:
        """One validated host input as a tensor on the device."""
        if isinstance(x, torch.Tensor):
            t = x
            if not t.is_floating_point():  # lengths, indices: their own dtype
                return t.to(self.device)
        else:
            t = torch.from_numpy(_writable(x))
        t = cast_checked(t, self.x_dtype)
        if self.device.type == "cuda":
            if not t.is_pinned():
                t = t.pin_memory()
            return t.to(self.device, non_blocking=True)
        return t

    def _load(self, index: IndexBatches, check: bool = True) -> Iterator[tuple]:
        """The inputs of each batch of ``index``, loaded, prepared, on the device."""
        # Its own generator: the loader's base seed (for workers) is not drawn from
        # torch's global stream, which dropout uses.
        generator = torch.Generator().manual_seed(self._epochs)
        self._epochs += 1
        loader = DataLoader(
            self.dataset, batch_sampler=index, generator=generator, **self.loader_kwargs
        )
        batches = iter(loader)
        for start, stop in index.bounds:
            try:
                batch = next(batches)
            except COLLATE_ERRORS as exc:
                raise unreadable(self.dataset, exc) from exc
            xs = tuple(self._tensor(x) for x in self.prepare(batch))
            if check and any(x.shape[0] != stop - start for x in xs):
                raise ValueError(
                    f"A batch of {stop - start} dataset items gave inputs of "
                    f"{xs[0].shape[0]} rows; the collate_fn must keep one row per "
                    "item."
                )
            yield xs

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield ``(inputs, y, w)`` batches, shuffled when a generator is given.

        The permutation, the batch boundaries and the ``merge_last`` rule are those
        of :meth:`TensorData.batches`; each batch's items are loaded through a
        ``DataLoader`` when it is reached (ahead of it by the loader's workers).
        """
        order, y, w, bounds = self._epoch_plan(batch_size, generator, merge_last)
        loads = self._load(IndexBatches(self.rows, order, bounds))
        for xb, (start, stop) in zip(loads, bounds):
            yield Batch(
                xb,
                None if y is None else y[start:stop],
                None if w is None else w[start:stop],
            )


def _kept(x) -> bool:
    """Whether an input keeps its own dtype (tensors that are not floating)."""
    return isinstance(x, torch.Tensor) and not x.is_floating_point()


def _writable(a) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()
