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
``shape``), which a Dataset and a dict are not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Integral

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from sknn.data.multi import MultiInput, _row_key

#: Rows per batch when a Dataset is read into memory.
READ_BATCH = 256

#: Keyword arguments of ``torch.utils.data.DataLoader`` accepted in ``loader_kwargs``.
LOADER_KEYS = frozenset(
    {
        "num_workers", "pin_memory", "collate_fn", "worker_init_fn",
        "multiprocessing_context", "prefetch_factor", "persistent_workers",
        "timeout", "batch_size", "in_order",
    }
)  # fmt: skip


class SliceDataset(Sequence):
    """A view of a torch ``Dataset`` that scikit-learn can index and split.

    scikit-learn indexes ``X`` and ``y`` with arrays of row numbers; a ``Dataset``
    only takes one integer. ``SliceDataset(ds)`` is the ``x`` part of each item and
    ``SliceDataset(ds, idx=1)`` the ``y`` part; indexing either with an array, a mask
    or a slice returns a lazy view of those rows (nothing is read), and
    ``np.asarray(SliceDataset(ds, idx=1))`` reads the targets, so stratified splitters
    and scorers work. Pass both to ``fit``, ``cross_val_score`` or ``GridSearchCV``;
    sknn reads each item once when the two views select the same rows of one Dataset.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A map-style dataset (``__len__`` and ``__getitem__``) whose items are tuples.
    idx : int or None, default=0
        The element of each item this view holds; ``None`` holds whole items.
    indices : array-like of int, default=None
        The dataset rows this view holds, in order; ``None`` is all of them.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples,)``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch.utils.data import TensorDataset
    >>> from sklearn.model_selection import cross_val_score
    >>> from sknn import MLPClassifier
    >>> from sknn.data import SliceDataset
    >>> rng = np.random.RandomState(0)
    >>> X = torch.tensor(rng.randn(60, 4), dtype=torch.float32)
    >>> ds = TensorDataset(X, (X[:, 0] > 0).long())
    >>> X_sl, y_sl = SliceDataset(ds), SliceDataset(ds, idx=1)
    >>> X_sl[np.array([0, 1, 2])].shape
    (3,)
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    >>> scores = cross_val_score(clf, X_sl, y_sl, cv=3)  # stratified folds
    >>> scores.shape
    (3,)
    """

    def __init__(self, dataset, idx: int | None = 0, indices=None) -> None:
        self.dataset = dataset
        self.idx = idx
        self.indices = indices
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                "SliceDataset needs a map-style dataset (with __len__ and "
                f"__getitem__); got {type(dataset).__name__}. Iterable datasets "
                "cannot be split: read them into arrays first."
            )
        self._rows = (
            np.arange(len(dataset))
            if indices is None
            else np.asarray(indices, dtype=np.int64).reshape(-1)
        )

    @property
    def shape(self) -> tuple[int]:
        return (len(self._rows),)

    def __len__(self) -> int:
        return len(self._rows)

    def _pick(self, item):
        if self.idx is None:
            return item
        if not isinstance(item, (tuple, list)) or not -len(item) <= self.idx < len(
            item
        ):
            raise ValueError(
                f"SliceDataset(idx={self.idx}) needs dataset items that are tuples "
                f"with an element {self.idx}, such as (x, y); the dataset returned "
                f"{_describe(item)}."
            )
        return item[self.idx]

    def __getitem__(self, i):
        i = _row_key(i)
        if isinstance(i, Integral):
            return self._pick(self.dataset[int(self._rows[i])])
        rows = self._rows[i] if isinstance(i, slice) else self._rows[np.asarray(i)]
        return SliceDataset(self.dataset, idx=self.idx, indices=rows)

    def __array__(self, dtype=None, copy=None):
        values = [_to_numpy(self[i]) for i in range(len(self))]
        out = np.asarray(values)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return (
            f"SliceDataset({type(self.dataset).__name__}, idx={self.idx}, "
            f"n_samples={len(self)})"
        )


def _to_numpy(v):
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return v


def _describe(item) -> str:
    if isinstance(item, torch.Tensor):
        return f"a tensor of shape {tuple(item.shape)}"
    if isinstance(item, np.ndarray):
        return f"an array of shape {item.shape}"
    if isinstance(item, (tuple, list)):
        return f"{len(item)}-element tuples"
    if isinstance(item, Mapping):
        return f"a dict with keys {list(item)}"
    return f"a {type(item).__name__}"


def is_dataset(X) -> bool:
    """Whether ``X`` is read through a ``DataLoader`` (Datasets, loaders, views).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.data.adapters import is_dataset
    >>> is_dataset(torch.utils.data.TensorDataset(torch.zeros(3, 2))), is_dataset(np.zeros(3))
    (True, False)
    """
    return isinstance(X, (Dataset, DataLoader, SliceDataset))


def check_loader_kwargs(loader_kwargs) -> dict:
    """Validate ``loader_kwargs``: a dict of ``DataLoader`` options, or ``None``.

    Examples
    --------
    >>> from sknn.data.adapters import check_loader_kwargs
    >>> check_loader_kwargs({"num_workers": 0})
    {'num_workers': 0}
    """
    if loader_kwargs is None:
        return {}
    if not isinstance(loader_kwargs, Mapping):
        raise TypeError(
            "loader_kwargs must be a dict of torch DataLoader options or None; got "
            f"{type(loader_kwargs).__name__}."
        )
    unknown = sorted(set(loader_kwargs) - LOADER_KEYS)
    if unknown:
        raise ValueError(
            f"loader_kwargs has options a DataLoader reading sknn's input does not "
            f"take: {unknown}; allowed: {sorted(LOADER_KEYS)}."
        )
    return dict(loader_kwargs)


def _loader(data, loader_kwargs: dict) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    kwargs = {"batch_size": READ_BATCH, **loader_kwargs}
    return DataLoader(data, shuffle=False, drop_last=False, **kwargs)


def _concat(parts: list):
    """Join collated batches along the samples."""
    first = parts[0]
    if isinstance(first, torch.Tensor):
        parts = [p.reshape(1) if p.ndim == 0 else p for p in parts]
        return torch.cat([p.detach().cpu() for p in parts])
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    if isinstance(first, Mapping):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, tuple):
        return tuple(_concat([p[j] for p in parts]) for j in range(len(first)))
    if isinstance(first, list):
        if first and isinstance(first[0], (torch.Tensor, Mapping, tuple)):
            # default_collate of sequences: one entry per element
            return [_concat([p[j] for p in parts]) for j in range(len(first))]
        return [v for p in parts for v in p]
    raise ValueError(f"Cannot read {_describe(first)} from a Dataset batch.")


def read_all(data, loader_kwargs: dict | None = None):
    """Read a Dataset, IterableDataset or DataLoader into one collated structure.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sknn.data.adapters import read_all
    >>> x, y = read_all(TensorDataset(torch.zeros(600, 2), torch.arange(600)))
    >>> tuple(x.shape), tuple(y.shape)
    ((600, 2), (600,))
    """
    loader = _loader(data, check_loader_kwargs(loader_kwargs))
    parts = []
    try:
        for batch in loader:
            parts.append(batch)
    except TypeError as exc:  # default_collate on items it cannot stack
        raise ValueError(
            f"Could not read the {type(data).__name__} in batches: {exc}. Items must "
            "be tensors, arrays or numbers, or tuples or dicts of them."
        ) from exc
    if not parts:
        raise ValueError(
            f"Found array with 0 sample(s): the {type(data).__name__} is empty."
        )
    return _concat(parts)


def _as_array(x, what: str):
    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, list):
        return np.asarray(x)
    raise ValueError(
        f"The Dataset's {what} must be a tensor, an array or a number per item; "
        f"got {_describe(x)}."
    )


def _as_x(x):
    if isinstance(x, (tuple, list)) and len(x) == 1 and not isinstance(x[0], str):
        x = x[0]  # (x,) items, as a TensorDataset of inputs alone yields
    if isinstance(x, Mapping):
        return MultiInput({k: _as_array(v, f"input {k!r}") for k, v in x.items()})
    if isinstance(x, (tuple, list)) and not (
        isinstance(x, list) and x and not isinstance(x[0], torch.Tensor)
    ):
        return MultiInput([_as_array(v, f"input {j}") for j, v in enumerate(x)])
    return _as_array(x, "x")


def _same_rows(a: SliceDataset, b) -> bool:
    return (
        isinstance(b, SliceDataset)
        and b.dataset is a.dataset
        and a.idx is not None
        and b.idx is not None
        and len(a) == len(b)
        and np.array_equal(a._rows, b._rows)
    )


class _Rows(Dataset):
    """Rows ``rows`` of ``dataset`` (a map-style view a DataLoader reads)."""

    def __init__(self, dataset, rows) -> None:
        self.dataset, self.rows = dataset, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.dataset[int(self.rows[i])]


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


def _check_pair(data, X, verb) -> None:
    if verb is not None:
        if not isinstance(data, (tuple, list)):
            raise ValueError(
                f"SliceDataset views need dataset items that are tuples; the "
                f"dataset yields {_describe(data)}."
            )
        return
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            f"fit was given a {type(X).__name__} whose items are "
            f"{_describe(data).replace(' of shape (', ' of batch shape (')} and no y: "
            "without y, each item must be an (x, y) pair. Pass y separately (for "
            "example SliceDataset(dataset, idx=1)) or make the Dataset return (x, y)."
        )


def _targets(y, loader_kwargs):
    if is_dataset(y):
        return _as_array(read_all(y, loader_kwargs), "y")
    return y


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
    if (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and (n_inputs == 1 or isinstance(data[0], (tuple, list, Mapping)))
    ):
        data = data[0]  # (x, y) items: the targets are not needed
    return _single(_as_x(data), estimator, multi_input)


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
    for batch in loader:
        _check_pair(batch, X, None)
        x = _as_x(batch[0])
        if first is None:
            first = x
        n += len(x)
        ys.append(batch[1])
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
    from sknn.training.host import choose_placement
    from sknn.training.stack_plan import memory_budget
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
    except (TypeError, RuntimeError) as exc:  # default_collate's refusals
        if strict:
            raise ValueError(
                f"Could not read the {type(read).__name__} in batches: {exc}. Items "
                "must be tensors, arrays or numbers (of one shape), or tuples or "
                "dicts of them."
            ) from exc
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
        row = sum(int(np.prod(np.shape(v)[1:])) for v in values)
        n_bytes = n * row * _fit_itemsize(first_x, device, fit_dtype)
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
    except TypeError as exc:  # default_collate on items it cannot stack
        raise ValueError(
            f"Could not read the {type(read).__name__} in batches: {exc}. Items must "
            "be tensors, arrays or numbers, or tuples or dicts of them."
        ) from exc
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
    except (TypeError, RuntimeError) as exc:  # default_collate's refusals
        raise ValueError(
            f"Could not read the {type(X).__name__} in batches: {exc}. Items must "
            "be tensors, arrays or numbers (of one shape), or tuples or dicts of "
            "them."
        ) from exc
    y = _as_array(_concat(ys), "y")
    if len(y) != n:
        raise ValueError(
            f"The {type(X).__name__} has {n} items but its batches gave {len(y)} "
            "targets; the collate_fn must keep one row per item."
        )
    return y
