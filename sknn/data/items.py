"""Reading torch Datasets: the sliceable :class:`SliceDataset` view, loader options,
and the helpers that turn collated items into arrays (shared by :mod:`.adapters`, which
reads a Dataset into memory, and :mod:`.streams`, which streams it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sknn.data.multi import MultiInput, _row_key
from sknn.training.data import COLLATE_ERRORS, unreadable

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
    except COLLATE_ERRORS as exc:
        raise unreadable(data, exc) from exc
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
