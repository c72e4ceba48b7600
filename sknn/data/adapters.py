"""The data adapter layer: every input kind becomes what the in-memory path reads.

Arrays, DataFrames, sparse matrices and ragged lists pass through unchanged (the fast
default). A torch ``Dataset``, ``IterableDataset`` or ``DataLoader`` is read once, in
batches through a ``DataLoader`` (its workers, pinned memory and collate function),
into arrays: ``(x, y)`` items give ``X`` and ``y``; a map-style Dataset that
``data_placement`` streams (larger than ``memory_budget``) becomes a
:class:`DatasetInput`, its items loaded batch by batch while training. Several
inputs of one module (a dict of arrays, or a Dataset yielding a tuple or dict ``x``)
become a :class:`MultiInput`. The estimators validate the result as they validate arrays, and
the engine never sees the difference.

:class:`SliceDataset` and :class:`MultiInput` are what scikit-learn's splitters,
searches and pipelines can index (``__len__``, ``__getitem__`` with index arrays and
``shape``), which a Dataset and a dict are not. They live in :mod:`sknn.data.items`
and :mod:`sknn.data.multi`, the streamed inputs in :mod:`sknn.data.streams`; this
module re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from sknn.data.items import (
    COLLATE_ERRORS,
    LOADER_KEYS,
    READ_BATCH,
    SliceDataset,
    _as_array,
    _as_x,
    _check_pair,
    _loader,
    _Rows,
    _same_rows,
    _targets,
    check_loader_kwargs,
    is_dataset,
    read_all,
    unreadable,
)
from sknn.data.multi import MultiInput
from sknn.data.streams import DatasetInput, StreamInput, _stream, _stream_dataset

__all__ = [
    "LOADER_KEYS",
    "READ_BATCH",
    "DatasetInput",
    "MultiInput",
    "SliceDataset",
    "StreamInput",
    "adapt_fit_input",
    "adapt_predict_input",
    "check_loader_kwargs",
    "is_dataset",
    "predict_chunks",
    "read_all",
]


def adapt_fit_input(
    X,
    y=None,
    *,
    loader_kwargs=None,
    estimator: str = "",
    multi_input: bool = True,
    placement: str = "device",
    budget: int | None = None,
    device: str | torch.device = "cpu",
    fit_dtype: Callable[[np.ndarray, torch.device], str] | None = None,
):
    """``(X, y)`` as the in-memory path reads them.

    Arrays pass through untouched. A Dataset or loader is read once: without ``y``
    its items must be ``(x, y)`` pairs; with ``y`` its items are ``x``. A dict or a
    Dataset yielding tuples or dicts becomes a :class:`MultiInput`. A map-style
    Dataset (or a :class:`SliceDataset`) that ``placement`` streams is not read: it
    becomes a :class:`DatasetInput`, after one pass for its targets when ``y`` is
    ``None``.

    Parameters
    ----------
    X : array-like, dict, MultiInput, Dataset, DataLoader or SliceDataset
        The training input.
    y : array-like, SliceDataset or None
        The targets, unless the Dataset yields them.
    loader_kwargs : dict or None
        Options of the ``DataLoader`` reading a Dataset.
    estimator : str
        The estimator's name, for error messages.
    multi_input : bool
        Whether the estimator's network takes several inputs.
    placement : {"auto", "device", "stream"}, default="device"
        ``data_placement``: whether a map-style Dataset is read into memory
        (``"device"``), streamed batch by batch (``"stream"``), or streamed only
        when its inputs take more than ``budget`` bytes (``"auto"``; the size is
        the first item's inputs in the fit dtype times the number of items).
    budget : int or None, default=None
        ``memory_budget`` in bytes; ``None`` is
        :func:`~sknn.training.stack_plan.memory_budget` of ``device``.
    device : str or torch.device, default="cpu"
        The estimator's ``device`` (``"auto"`` is resolved here, for Datasets only).
    fit_dtype : callable or None, default=None
        ``fit_dtype(example, device) -> "float32" or "float64"``, the dtype inputs
        train in (the estimator's ``_fit_dtype``); ``"float32"`` when ``None``.

    Returns
    -------
    X, y
        Arrays (or a :class:`MultiInput`, or a :class:`StreamInput` whose batches
        stream) and targets.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sknn.data.adapters import adapt_fit_input
    >>> X, y = adapt_fit_input(TensorDataset(torch.zeros(5, 2), torch.arange(5)))
    >>> X.shape, y.tolist()
    ((5, 2), [0, 1, 2, 3, 4])
    """
    if isinstance(X, Mapping):
        X = MultiInput(X)
    if not is_dataset(X):
        return _single(X, estimator, multi_input), _targets(y, loader_kwargs)
    data = None  # what read_all gives, once read
    if placement != "device" and not isinstance(X, (DataLoader, IterableDataset)):
        streamed, data = _stream_dataset(
            X, y, loader_kwargs, placement, budget, device, fit_dtype
        )
        if streamed is not None:  # placement streams it: not read up front
            _single(streamed.first_x, estimator, multi_input)
            return streamed, data
    if isinstance(X, SliceDataset) and _same_rows(X, y):
        if data is None:
            data = read_all(_Rows(X.dataset, X._rows), loader_kwargs)
        _check_pair(data, X, "pick elements idx from")
        X, y = _as_x(data[X.idx]), _as_array(data[y.idx], "y")
    elif y is not None:
        data = read_all(X, loader_kwargs) if data is None else data
        X, y = _as_x(data), _targets(y, loader_kwargs)
    elif isinstance(X, (DataLoader, IterableDataset)):
        X, y = _stream(X, loader_kwargs)  # batches from the loader every epoch
    else:
        if data is None:
            data = read_all(X, loader_kwargs)
        _check_pair(data, X, None)
        X, y = _as_x(data[0]), _as_array(data[1], "y")
    return _single(X, estimator, multi_input), y


def _single(X, estimator: str, multi_input: bool):
    """``X``, unless it holds several inputs for a network that takes one."""
    if isinstance(X, MultiInput) and not multi_input:
        raise ValueError(
            f"{estimator or 'This estimator'} takes one input, but X holds "
            f"{len(X.names)} ({X!r}). Several inputs need NeuralNetClassifier or "
            "NeuralNetRegressor with a module whose forward takes them; if a Dataset "
            "yields (x, y) pairs, do not pass y as well."
        )
    return X


def adapt_predict_input(
    X,
    n_inputs: int = 1,
    *,
    loader_kwargs=None,
    estimator: str = "",
    multi_input: bool = True,
):
    """``X`` at predict time as the in-memory path reads it.

    A Dataset yielding ``(x, y)`` pairs is accepted (``y`` is ignored) as well as
    one yielding ``x``; ``n_inputs`` (the number of inputs the network was fitted
    on) tells them apart.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sknn.data.adapters import adapt_predict_input
    >>> adapt_predict_input(TensorDataset(torch.zeros(5, 2), torch.arange(5))).shape
    (5, 2)
    """
    if isinstance(X, Mapping):
        X = MultiInput(X)
    if not is_dataset(X):
        return _single(X, estimator, multi_input)
    data = read_all(X, loader_kwargs)
    return _single(_predict_x(data, n_inputs), estimator, multi_input)


def _predict_x(data, n_inputs: int):
    """The inputs of collated items at predict time: ``x`` of ``(x, y)`` pairs
    (``n_inputs``, the number of inputs the network was fitted on, tells a pair
    from a tuple of inputs), else the items themselves."""
    if (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and (n_inputs == 1 or isinstance(data[0], (tuple, list, Mapping)))
    ):
        data = data[0]  # (x, y) items: the targets are not needed
    return _as_x(data)


def predict_chunks(
    X,
    n_inputs: int = 1,
    *,
    rows: int,
    loader_kwargs=None,
    estimator: str = "",
    multi_input: bool = True,
) -> Iterator:
    """The inputs of a Dataset or loader at predict time, one loader batch at a time.

    A map-style ``Dataset`` (or :class:`SliceDataset`) is read through a
    ``DataLoader`` in order, ``rows`` items per batch unless ``loader_kwargs`` sets
    ``batch_size``; a ``DataLoader`` keeps its own batches. Only one batch is in
    memory at a time, so a Dataset larger than memory can be predicted.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sknn.data.adapters import predict_chunks
    >>> ds = TensorDataset(torch.zeros(10, 2), torch.arange(10))
    >>> [tuple(x.shape) for x in predict_chunks(ds, rows=4)]
    [(4, 2), (4, 2), (2, 2)]
    """
    loader = _loader(X, {"batch_size": rows, **check_loader_kwargs(loader_kwargs)})
    empty = True
    try:
        for batch in loader:
            empty = False
            yield _single(_predict_x(batch, n_inputs), estimator, multi_input)
    except COLLATE_ERRORS as exc:
        raise unreadable(X, exc) from exc
    if empty:
        raise ValueError(
            f"Found array with 0 sample(s): the {type(X).__name__} is empty."
        )
