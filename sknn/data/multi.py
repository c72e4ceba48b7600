"""Several inputs of one module: the :class:`MultiInput` container and its validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_array

from sknn.utils._compat import _safe_indexing


class MultiInput:
    """Several inputs of one module, indexable by rows as scikit-learn needs.

    A dict of arrays feeds ``forward(**inputs)`` of a user module
    (:class:`sknn.NeuralNetClassifier`, :class:`sknn.NeuralNetRegressor`); a tuple
    feeds ``forward(*inputs)``. scikit-learn's splitters cannot index a dict (its
    length is its number of keys); this container has the samples as its length,
    returns a ``MultiInput`` of the selected rows for an integer array, a boolean
    mask or a slice, and the input itself for a key, so it works in
    ``cross_val_score``, ``GridSearchCV`` and ``train_test_split``.

    Parameters
    ----------
    inputs : dict of str to array-like, or sequence of array-like
        The inputs, each with the samples on its first axis (NumPy arrays, torch
        tensors, DataFrames, lists). Integer arrays stay integer (embedding indices).

    Attributes
    ----------
    names : tuple of str
        The keys (``"0"``, ``"1"``, ... for a sequence).
    keyword : bool
        Whether the inputs are passed by keyword (built from a dict).
    shape : tuple of int
        ``(n_samples, n_inputs)``.

    Raises
    ------
    ValueError
        When the inputs do not all have the same number of samples, or none is given.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data import MultiInput
    >>> X = MultiInput({"image": np.zeros((6, 1, 4, 4)), "meta": np.ones((6, 3))})
    >>> len(X), X.shape
    (6, (6, 2))
    >>> X[np.array([0, 2])]["meta"].shape
    (2, 3)
    >>> from sklearn.model_selection import train_test_split
    >>> train, test = train_test_split(X, test_size=2, random_state=0)
    >>> len(train), len(test)
    (4, 2)
    """

    def __init__(self, inputs: Mapping[str, Any] | Sequence[Any]) -> None:
        if isinstance(inputs, MultiInput):
            inputs = inputs.as_dict() if inputs.keyword else inputs.values()
        if isinstance(inputs, Mapping):
            keyword = True
            items = [(str(k), v) for k, v in inputs.items()]
            if any(not isinstance(k, str) or not k.isidentifier() for k in inputs):
                raise ValueError(
                    "MultiInput keys must be strings that are Python identifiers (the "
                    f"argument names of the module's forward); got {list(inputs)!r}."
                )
        elif isinstance(inputs, (tuple, list)):
            keyword = False
            items = [(str(i), v) for i, v in enumerate(inputs)]
        else:
            raise TypeError(
                "MultiInput takes a dict of arrays (inputs by keyword) or a tuple of "
                f"arrays (inputs by position); got {type(inputs).__name__}."
            )
        if not items:
            raise ValueError("MultiInput needs at least one input; got none.")
        lengths = {}
        for name, value in items:
            try:
                lengths[name] = _n_samples(value)
            except (TypeError, IndexError) as exc:
                raise ValueError(
                    f"MultiInput input {name!r} is not an array-like with samples on "
                    f"its first axis ({type(value).__name__})."
                ) from exc
        if len(set(lengths.values())) > 1:
            raise ValueError(
                "All inputs of a MultiInput must have the same number of samples; got "
                + ", ".join(f"{k!r}: {n}" for k, n in lengths.items())
                + "."
            )
        self._inputs = dict(items)
        self.keyword = keyword
        self.names = tuple(self._inputs)
        self._n = next(iter(lengths.values()))

    @property
    def shape(self) -> tuple[int, int]:
        return (self._n, len(self.names))

    def __len__(self) -> int:
        return self._n

    def values(self) -> tuple:
        """The inputs, in order."""
        return tuple(self._inputs.values())

    def as_dict(self) -> dict:
        """The inputs by name."""
        return dict(self._inputs)

    def __getitem__(self, key):
        key = _row_key(key)
        if isinstance(key, str):
            return self._inputs[key]
        if isinstance(key, Integral):
            raise TypeError(
                "MultiInput is indexed by rows with an index array, a mask or a slice "
                "(one row: X[[i]]), or by input name."
            )
        if isinstance(key, slice):
            key = np.arange(self._n)[key]
        new = {k: _safe_indexing(v, key) for k, v in self._inputs.items()}
        return MultiInput(new if self.keyword else list(new.values()))

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{k}: {getattr(v, 'shape', len(v))}" for k, v in self._inputs.items()
        )
        return f"MultiInput({{{parts}}}, n_samples={self._n})"


def _row_key(key):
    """``X[rows, ...]`` (scikit-learn's array indexing) is ``X[rows]``."""
    if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
        return key[0]
    return key


def _n_samples(value) -> int:
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) and isinstance(shape[0], Integral):
        return int(shape[0])
    return len(value)


class PositionalInputs(tuple):
    """Validated inputs of a multi-input network, in the module's order.

    A tuple, so the engine and the inference path pass it as positional inputs;
    ``shape[0]`` is the number of samples, as scikit-learn's helpers read it.
    """

    dtype = None

    def __new__(cls, inputs, names, keyword: bool):
        new = super().__new__(cls, inputs)
        new.names = tuple(names)
        new.keyword = keyword
        new.shape = (_n_samples(new[0]), len(new))
        return new


def _check_one(value, name: str):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    a = check_array(
        value,
        dtype="numeric",
        ensure_2d=False,
        allow_nd=True,
        ensure_min_samples=1,
        input_name=f"input {name!r}",
    )
    if a.ndim == 0:
        raise ValueError(f"Input {name!r} must have the samples on its first axis.")
    if a.dtype.kind in "iu":
        return torch.as_tensor(a.astype(np.int64, copy=False))
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def check_multi_input(X: MultiInput, fitted: dict | None = None) -> PositionalInputs:
    """Validate each input of ``X`` with scikit-learn's ``check_array``.

    Float inputs stay NumPy arrays (converted to the network's dtype by the engine);
    integer inputs become ``int64`` tensors (embedding indices). With ``fitted`` (the
    fit-time facts), the names and per-sample shapes must match those seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.multi import MultiInput, check_multi_input
    >>> X = check_multi_input(MultiInput({"a": np.ones((3, 2)), "b": np.arange(3)}))
    >>> X.shape, X[1].dtype
    ((3, 2), torch.int64)
    """
    arrays = [_check_one(v, n) for n, v in zip(X.names, X.values())]
    out = PositionalInputs(arrays, X.names, X.keyword)
    if fitted is not None:
        names = list(fitted.get("input_names") or ())
        if names != list(X.names) or bool(fitted.get("keyword_inputs")) != X.keyword:
            raise ValueError(
                f"X has the inputs {list(X.names)} (by "
                f"{'keyword' if X.keyword else 'position'}), but the network was "
                f"fitted on {names} (by "
                f"{'keyword' if fitted.get('keyword_inputs') else 'position'})."
            )
        shapes = _shapes(fitted)
        for name, a in zip(X.names, arrays):
            if tuple(a.shape[1:]) != tuple(shapes[name]):
                raise ValueError(
                    f"Input {name!r} has samples of shape {tuple(a.shape[1:])}, but "
                    f"the network was fitted on samples of shape "
                    f"{tuple(shapes[name])}."
                )
    return out


def _shapes(meta: dict) -> dict:
    shapes = meta["input_shape"]
    if isinstance(shapes, Mapping):
        return dict(shapes)
    return dict(zip(meta["input_names"], shapes))


def multi_input_meta(X: PositionalInputs) -> dict:
    """Fit-time facts of several inputs, for the module factory.

    ``n_features_in`` and ``input_shape`` are dicts by input name for inputs passed
    by keyword and tuples for inputs passed by position; ``n_features_in`` of an
    input is its width (the product of its per-sample shape).

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data.multi import MultiInput, check_multi_input, multi_input_meta
    >>> X = check_multi_input(MultiInput({"a": np.ones((3, 2)), "b": np.ones((3, 1, 4))}))
    >>> multi_input_meta(X)["n_features_in"]
    {'a': 2, 'b': 4}
    """
    shapes = [tuple(int(s) for s in a.shape[1:]) for a in X]
    widths = [int(np.prod(s)) if s else 1 for s in shapes]
    if X.keyword:
        n_features, input_shape = dict(zip(X.names, widths)), dict(zip(X.names, shapes))
    else:
        n_features, input_shape = tuple(widths), tuple(shapes)
    return {
        "n_features_in": n_features,
        "input_shape": input_shape,
        "input_names": list(X.names),
        "keyword_inputs": X.keyword,
        "integer_inputs": [
            n for n, a in zip(X.names, X) if isinstance(a, torch.Tensor)
        ],
    }


def example_inputs(meta: dict, n: int, dtype, device) -> tuple:
    """``n`` rows of zeros shaped like the inputs the network was fitted on.

    Examples
    --------
    >>> import torch
    >>> from sknn.data.multi import example_inputs
    >>> [tuple(x.shape) for x in example_inputs({"input_shape": (4,)}, 2, torch.float32, None)]
    [(2, 4)]
    """
    if not meta.get("input_names"):
        return (torch.zeros(n, *meta["input_shape"], dtype=dtype, device=device),)
    shapes, ints = _shapes(meta), set(meta.get("integer_inputs") or ())
    return tuple(
        torch.zeros(
            n, *shapes[k], dtype=torch.long if k in ints else dtype, device=device
        )
        for k in meta["input_names"]
    )
