"""Inputs streamed while training: loaders of ``(x, y)`` batches (:class:`StreamInput`)
and map-style Datasets too large to read up front (:class:`DatasetInput`).

:func:`sknn.data.adapters.adapt_fit_input` makes them; each is validated on its first
batch and gives the engine its batch source (``source``), which validates and
encodes every batch as it streams.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from sknn.data.items import (
    COLLATE_ERRORS,
    SliceDataset,
    _as_array,
    _as_x,
    _check_pair,
    _concat,
    _describe,
    _loader,
    _Rows,
    _same_rows,
    _targets,
    check_loader_kwargs,
    unreadable,
)
from sknn.data.multi import MultiInput


class StreamInput:
    """A ``DataLoader`` or ``IterableDataset`` of ``(x, y)`` batches, streamed.

    Made by :func:`adapt_fit_input` after one pass that counts the rows and collects
    the targets (classes and target scaling need all of them). ``validate`` checks
    the first batch with the estimator's validation and keeps it for the module's
    fit-time facts; :meth:`source` is the engine's batch source, which validates and
    encodes every batch as it streams, each epoch.
    """

    def __init__(self, loader, n_samples: int, first_x) -> None:
        self.loader, self.n_samples, self._first_x = loader, n_samples, first_x
        self.example = None

    @property
    def shape(self) -> tuple:
        tail = () if self.example is None else tuple(self.example.shape[1:])
        return (self.n_samples, *tail)

    @property
    def dtype(self):
        return getattr(self.example, "dtype", None)

    def __len__(self) -> int:
        return self.n_samples

    def validate(self, validate_inputs, y, *, reset: bool, y_transform):
        """Validate the first batch (and all targets); return ``(self, y)``."""
        first = self._first_x
        self.example = validate_inputs(first, y=y[: len(first)], reset=reset)[0]
        self._validate = validate_inputs
        self._y_transform = y_transform
        return self, y

    def _prepare(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(
                f"The loader's batches must be (x, y) pairs; a batch was "
                f"{_describe(batch)}."
            )
        x = self._validate(_as_x(batch[0]), reset=False)[0]
        xs = tuple(x) if isinstance(x, tuple) else (x,)
        return xs, self._y_transform(_as_array(batch[1], "y"))

    def source(self, X, y_enc, sample_weight, device, *, y_dtype, x_dtype):
        """The engine's batch source (a :class:`~sknn.training.data.StreamData`)."""
        from sknn.training.data import StreamData

        if sample_weight is not None:
            raise ValueError(
                "sample_weight (and class_weight) are not supported with a streamed "
                "DataLoader or IterableDataset; pass a map-style Dataset."
            )
        return StreamData(
            self.loader,
            self._prepare,
            self.n_samples,
            device,
            y_dtype=y_dtype,
            x_dtype=x_dtype,
        )


def _stream(X, loader_kwargs: dict):
    """One pass over a loader of ``(x, y)`` batches: rows, targets, first batch."""
    if isinstance(X, DataLoader):
        loader = X
    else:
        kwargs = {"batch_size": 200, **check_loader_kwargs(loader_kwargs)}
        loader = DataLoader(X, **kwargs)
    n, ys, first = 0, [], None
    try:
        for batch in loader:
            _check_pair(batch, X, None)
            x = _as_x(batch[0])
            if first is None:
                first = x
            n += len(x)
            ys.append(batch[1])
    except COLLATE_ERRORS as exc:
        raise unreadable(X, exc) from exc
    if first is None:
        raise ValueError(
            f"Found array with 0 sample(s): the {type(X).__name__} is empty."
        )
    return StreamInput(loader, n, first), _as_array(_concat(ys), "y")


class DatasetInput(StreamInput):
    """A map-style Dataset streamed batch by batch: only its targets are read up front.

    Made by :func:`adapt_fit_input` when ``data_placement`` streams the Dataset (or
    the rows of one Dataset that :class:`SliceDataset` views hold). ``validate``
    checks the first loader batch with the estimator's validation; :meth:`source` is a
    :class:`~sknn.training.dataset_stream.DatasetData`, which loads each batch of the
    in-memory path's permutation through a ``DataLoader`` (``loader_kwargs``'
    workers, pinned memory and collate function) and validates its inputs as arrays
    are validated. Sample weights, validation splits and ``partial_fit`` work as
    with arrays.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset or SliceDataset
        What the loader indexes.
    rows : numpy.ndarray of int or None
        The indices of ``dataset`` trained on; all of them when ``None``.
    first_x : array-like or MultiInput
        The inputs of the first loader batch (validation, the module's shapes).
    x_key : int or None
        The element of each collated batch that holds the inputs; ``None`` is the
        whole batch (``y`` was given separately).
    loader_kwargs : dict
        ``DataLoader`` options.
    budget : int
        ``memory_budget`` in bytes (validation rows go to the device within it).
    owner : object
        The input ``fit`` was given (error messages).

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sknn.data.adapters import DatasetInput, adapt_fit_input
    >>> ds = TensorDataset(torch.zeros(500, 2), torch.arange(500) % 2)
    >>> X, y = adapt_fit_input(ds, placement="stream")
    >>> isinstance(X, DatasetInput), len(X), y.shape
    (True, 500, (500,))
    """

    def __init__(
        self,
        dataset,
        rows: np.ndarray | None,
        first_x,
        x_key: int | None,
        loader_kwargs: dict,
        budget: int,
        owner,
    ) -> None:
        n = len(dataset) if rows is None else len(rows)
        super().__init__(None, n, first_x)
        self.dataset, self.rows, self.x_key = dataset, rows, x_key
        self.loader_kwargs, self.budget, self._owner = loader_kwargs, budget, owner

    @property
    def first_x(self):
        """The inputs of the first row, as read (before validation)."""
        return self._first_x

    def _prepare(self, batch) -> tuple:
        x = _part(batch, self.x_key, self._owner)
        x = self._validate(_as_x(x), reset=False)[0]
        return tuple(x) if isinstance(x, tuple) else (x,)

    def source(self, X, y_enc, sample_weight, device, *, y_dtype, x_dtype):
        """The engine's batch source (a
        :class:`~sknn.training.dataset_stream.DatasetData`)."""
        from sknn.training.dataset_stream import DatasetData

        example = self.example
        return DatasetData(
            self.dataset,
            self._prepare,
            y_enc,
            sample_weight,
            device,
            rows=self.rows,
            example=tuple(example) if isinstance(example, tuple) else (example,),
            y_dtype=y_dtype,
            x_dtype=x_dtype,
            loader_kwargs=self.loader_kwargs,
            budget=self.budget,
        )


def _part(batch, key: int | None, owner):
    """Element ``key`` of a collated batch of ``owner``'s items (all when ``None``)."""
    if key is None:
        return batch
    if not isinstance(owner, SliceDataset) or owner.idx is None:
        _check_pair(batch, owner, None)  # (x, y) pairs
    elif not isinstance(batch, (tuple, list)) or not -len(batch) <= key < len(batch):
        raise ValueError(
            f"SliceDataset views with idx={key} need dataset items that are tuples "
            f"with an element {key}, such as (x, y); the dataset yields "
            f"{_describe(batch)}."
        )
    return batch[key]


def _copy(v):
    if isinstance(v, torch.Tensor):
        return v.clone()
    return v.copy() if isinstance(v, np.ndarray) else v


def _fit_itemsize(x, device, fit_dtype) -> int:
    """Bytes of one value of the inputs ``x`` in the fit dtype."""
    if fit_dtype is None:
        return 4
    a = np.asarray(x.values()[0] if isinstance(x, MultiInput) else x)
    # The estimators' validation keeps float32 and float64 and makes the rest float32.
    a = a if a.dtype in (np.float32, np.float64) else a[:0].astype(np.float32)
    return 8 if fit_dtype(a, device) == "float64" else 4


def _stream_dataset(X, y, loader_kwargs, placement, budget, device, fit_dtype):
    """Read the map-style ``X`` in order, as :func:`read_all` does, until the first
    batch says whether ``placement`` streams it.

    Returns ``(DatasetInput, y)`` when it streams (the rest of the pass keeps only
    the targets, when the items hold them), else ``(None, data)``: what
    :func:`read_all` returns, every item read once as before.
    """
    from sknn.training.placement import choose_placement, memory_budget, rows_bytes
    from sknn.utils.device import resolve_device

    loader_kwargs = check_loader_kwargs(loader_kwargs)
    if isinstance(X, SliceDataset) and _same_rows(X, y):
        dataset, rows, x_key, y_key = X.dataset, X._rows, X.idx, y.idx
        read = _Rows(X.dataset, X._rows)
    else:
        dataset, rows, read = X, None, X
        x_key, y_key = (None, None) if y is not None else (0, 1)
    # Items of the wrong kind: "stream" says so at once; "auto" reads on, and the
    # in-memory path says so as it always did.
    strict = placement == "stream"
    batches = iter(_loader(read, loader_kwargs))
    parts = []
    try:
        for batch in batches:
            parts.append(batch)
            break
    except COLLATE_ERRORS as exc:
        if strict:
            raise unreadable(read, exc) from exc
        return None, None
    if not parts:
        return None, None  # empty: the in-memory path says so
    try:
        first_x = _as_x(_part(parts[0], x_key, X))
    except ValueError:
        if strict:
            raise
        first_x = None
    if first_x is not None:
        n = len(read)
        device = resolve_device(device)
        values = first_x.values() if isinstance(first_x, MultiInput) else (first_x,)
        shapes = [np.shape(v)[1:] for v in values]
        n_bytes = rows_bytes(n, shapes, _fit_itemsize(first_x, device, fit_dtype))
        budget = memory_budget(device) if budget is None else budget
        if choose_placement(placement, n_bytes, budget) == "stream":
            streamed = DatasetInput(
                dataset, rows, first_x, x_key, loader_kwargs, budget, X
            )
            if y_key is None:
                return streamed, _targets(y, loader_kwargs)
            return streamed, _read_targets(parts[0], batches, n, y_key, X)
    try:
        parts.extend(batches)
    except COLLATE_ERRORS as exc:
        raise unreadable(read, exc) from exc
    return None, _concat(parts)


def _read_targets(first, batches, n: int, key: int, X) -> np.ndarray:
    """The targets of the first batch and of the rest of ``batches``: the pass that
    classes, target scaling and stratified splits need; the inputs are dropped."""
    # Copies: the collated targets would sit among the freed batches of inputs and
    # keep the heap from giving their memory back.
    ys = [_copy(_part(first, key, X))]
    try:
        for batch in batches:
            ys.append(_copy(_part(batch, key, X)))
            del batch
    except COLLATE_ERRORS as exc:
        raise unreadable(X, exc) from exc
    y = _as_array(_concat(ys), "y")
    if len(y) != n:
        raise ValueError(
            f"The {type(X).__name__} has {n} items but its batches gave {len(y)} "
            "targets; the collate_fn must keep one row per item."
        )
    return y
