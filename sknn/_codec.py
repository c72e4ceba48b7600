"""The JSON codec of model files: tagged values in, allow-listed objects out.

A model file is untrusted input (see :doc:`/persistence`). :func:`decode` rebuilds
values only from plain JSON and a few tags; every tag is checked against a schema:

* ``__ndarray__`` / ``__npscalar__``: numeric, boolean or (bounded) string dtypes only,
  shapes checked against the items before anything is allocated;
* ``__type__``: a class named by an *exact* key (``"module.QualName"``) of an explicit
  allow-list (torch's learning-rate schedulers, optimisers, losses and activations,
  sknn's modules) or of
  the classes the caller passes to :func:`sknn.load`; names are never imported,
  attribute paths never walked;
* ``__callback__``: one of sknn's callbacks, rebuilt from its parameters;
* ``__augment__``: one of sknn's augmentation transforms (:mod:`sknn.data.augment`),
  rebuilt from its parameters;
* ``__object__``: one of five state classes, each with a fixed set of attribute names
  and value types;
* nesting deeper than :data:`MAX_DEPTH` is refused.

Anything else is a :class:`ValueError`; the decoder never calls a value it decoded.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

#: Deepest nesting of JSON values a model file may use.
MAX_DEPTH = 64
#: Longest shape (number of dimensions) of a stored array.
MAX_NDIM = 32

# Classes whose instances may appear among fitted attributes: rebuilt from a fixed set
# of attributes, never unpickled. The module is only a check on the writer's side.
STATE_CLASSES_PATHS = {
    "ClassTargetEncoder": "sknn.data.targets",
    "RegressionTargetScaler": "sknn.data.targets",
    "LabelEncoder": "sklearn.preprocessing",
    "History": "sknn.training.history",
    "TableEncoder": "sknn.data.tables",
}

_DTYPE_RE = re.compile(r"^[<>|=]?(?:[biuf]\d{1,2}|\?|[US]\d{0,9}|O)$")


def type_key(cls: type) -> str:
    """The name a model file uses for a class: ``"module.QualName"``.

    Examples
    --------
    >>> import torch
    >>> from sknn._codec import type_key
    >>> type_key(torch.optim.lr_scheduler.StepLR)
    'torch.optim.lr_scheduler.StepLR'
    """
    return f"{cls.__module__}.{cls.__qualname__}"


def allowed_types() -> dict[str, type]:
    """The classes a model file may name, by exact key.

    torch's learning-rate schedulers (the ``policy`` of
    :class:`~sknn.callbacks.LRScheduler`), optimisers and losses (an estimator's
    ``optimizer`` and ``criterion``), torch's activation modules and sknn's network
    modules. Each is found by enumerating its module's own namespace, so a
    key never resolves through an attribute path.

    Examples
    --------
    >>> from sknn._codec import allowed_types
    >>> "torch.optim.lr_scheduler.StepLR" in allowed_types()
    True
    >>> any("system" in key for key in allowed_types())
    False
    """
    import torch.nn.modules.activation as activation
    import torch.nn.modules.loss as loss
    import torch.optim as optim
    import torch.optim.lr_scheduler as schedulers

    import sknn.modules as modules

    bases: list[tuple[Any, tuple[type, ...]]] = [
        (schedulers, (schedulers.LRScheduler, schedulers.ReduceLROnPlateau)),
        (activation, (torch.nn.Module,)),
        (loss, (torch.nn.modules.loss._Loss,)),
        (optim, (torch.optim.Optimizer,)),
        (modules, (torch.nn.Module,)),
    ]
    out: dict[str, type] = {}
    for namespace, base in bases:
        for obj in vars(namespace).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, base)
                and "." not in obj.__qualname__
                and obj.__module__.startswith(("torch.", "sknn."))
            ):
                out[type_key(obj)] = obj
    return out


def callback_classes() -> dict[str, type]:
    """sknn's callback classes by name (what :func:`sknn.save` may store).

    Examples
    --------
    >>> from sknn._codec import callback_classes
    >>> "EarlyStopping" in callback_classes()
    True
    """
    from sknn import callbacks

    out = {}
    for name in callbacks.__all__:
        cls = getattr(callbacks, name)
        if isinstance(cls, type) and issubclass(cls, callbacks.Callback):
            out[name] = cls
    return out


def restorable_callbacks() -> tuple[type, ...]:
    """Callbacks that :func:`sknn.load` restores from a file.

    Only those that touch nothing outside the estimator. Callbacks that write files
    (checkpoints, logs, trackers) name paths, and a hostile file could point them at
    any file of the user's; they are dropped with a warning and come from the caller.
    """
    from sknn.callbacks import EarlyStopping, GradientClipping, LRScheduler, ProgressBar

    return (EarlyStopping, GradientClipping, LRScheduler, ProgressBar)


# ----------------------------------------------------------------------- encoder
class Encoder:
    """Turn Python / numpy / sknn values into tagged JSON values.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn._codec import Encoder
    >>> Encoder()(np.arange(3), "x")
    {'__ndarray__': [0, 1, 2], 'dtype': '<i8', 'shape': [3]}
    """

    def __init__(self) -> None:
        from sknn.data.augment import builtin_transforms

        self.callbacks = callback_classes()
        self.transforms = builtin_transforms()
        self.dropped: list[str] = []

    def __call__(self, value: Any, where: str) -> Any:
        from sknn.callbacks import Callback
        from sknn.training.engine import TrainState
        from sknn.training.history import History

        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic) and value.dtype.kind in "biufUS":
            return {"__npscalar__": value.item(), "dtype": value.dtype.str}
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufOUS":
            items = value.tolist()
            if value.dtype.kind in "OUS":
                items = [self(v, where) for v in value.ravel().tolist()]
            return {
                "__ndarray__": items,
                "dtype": value.dtype.str,
                "shape": list(value.shape),
            }
        if isinstance(value, torch.device):
            return str(value)
        if isinstance(value, History):
            return {"__history__": [self(r, where) for r in value]}
        if isinstance(value, TrainState):
            return {"__trainstate__": self(dataclasses.asdict(value), where)}
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, where) for v in value]}
        if isinstance(value, list):
            return [self(v, where) for v in value]
        if isinstance(value, dict):
            return {
                "__dict__": [[self(k, where), self(v, where)] for k, v in value.items()]
            }
        if isinstance(value, Callback):
            name = type(value).__name__
            if self.callbacks.get(name) is not type(value):
                self.dropped.append(f"{where}: callback {name}")
                return None
            params = value.get_params(deep=False)
            return {"__callback__": name, "params": self(params, where)}
        if self.transforms.get(type(value).__name__) is type(value):
            params = value.get_params(deep=False)
            return {"__augment__": type(value).__name__, "params": self(params, where)}
        if isinstance(value, type):
            # Only the name is written; loading needs it on the allow-list or from
            # the caller.
            return {"__type__": [value.__module__, value.__qualname__]}
        name = type(value).__name__
        if name in STATE_CLASSES_PATHS and type(value).__module__.startswith(
            STATE_CLASSES_PATHS[name]
        ):
            return {"__object__": name, "state": self(vars(value), where)}
        if isinstance(value, np.random.RandomState):
            self.dropped.append(f"{where}: a RandomState instance (saved as None)")
            return None
        if callable(value):
            raise TypeError(
                f"sknn.save cannot store {where}: {name} "
                f"{getattr(value, '__qualname__', name)!r} is code, and model files "
                "hold none. Set it to None before saving and again after sknn.load, "
                "or use pickle / joblib."
            )
        raise TypeError(
            f"sknn.save cannot store {where} of type {type(value).__name__}; only "
            "numbers, strings, arrays, lists, dicts and sknn's own objects are saved."
        )


# ----------------------------------------------------------------------- decoder
def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _is_str_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "OUSbiuf"


def _is_1d(v: Any, kind: str) -> bool:
    return isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind == kind


def _is_labels(v: Any) -> bool:
    """A 1-D object array of category labels (strings, numbers, booleans)."""
    return _is_1d(v, "O") and all(
        isinstance(c, (str, int, float, bool)) and c == c for c in v
    )


def _is_float_vector(v: Any) -> bool:
    return (
        isinstance(v, np.ndarray)
        and v.ndim == 1
        and v.dtype.kind in "fiu"
        and bool(np.isfinite(v).all())
    )


# Attribute schemas of the state classes: name -> check of the decoded value.
_SCHEMAS: dict[str, dict[str, Callable[[Any], bool]]] = {
    "LabelEncoder": {"classes_": _is_str_array},
    "ClassTargetEncoder": {
        "_encoder": lambda v: type(v).__name__ == "LabelEncoder",
        "classes_": _is_str_array,
        "target_type_": lambda v: v in ("binary", "multiclass", "multilabel-indicator"),
        "n_outputs_": lambda v: _is_int(v) and v >= 1,
    },
    "RegressionTargetScaler": {
        "scale": lambda v: isinstance(v, bool),
        "positive": lambda v: isinstance(v, bool),
        "mean_": _is_float_vector,
        "scale_": lambda v: _is_float_vector(v) and bool((v != 0).all()),
    },
}
_SCHEMAS["TableEncoder"] = {
    "columns_": lambda v: _is_1d(v, "O") and all(isinstance(c, str) for c in v),
    "kinds_": lambda v: (
        _is_1d(v, "O") and all(k in ("numeric", "categorical") for k in v)
    ),
    "categories_": lambda v: isinstance(v, list) and all(_is_labels(c) for c in v),
    "levels_": lambda v: isinstance(v, list) and all(_is_labels(c) for c in v),
    "missing_": lambda v: _is_1d(v, "b"),
    "mean_": _is_float_vector,
    "scale_": lambda v: _is_float_vector(v) and bool((v > 0).all()),
}

_REQUIRED = {
    "LabelEncoder": {"classes_"},
    "ClassTargetEncoder": {"classes_", "target_type_", "n_outputs_"},
    "RegressionTargetScaler": {"mean_", "scale_"},
    "TableEncoder": set(_SCHEMAS["TableEncoder"]),
}


class Decoder:
    """Rebuild values from tagged JSON, refusing anything off the schemas.

    Parameters
    ----------
    types : dict of str to type, default=None
        Classes the caller supplies, by :func:`type_key`; they win over the
        allow-list.
    allow_types : bool, default=True
        Whether ``__type__`` entries may appear at all (only in parameters).

    Examples
    --------
    >>> from sknn._codec import Decoder
    >>> Decoder()({"__ndarray__": [[1, 2]], "dtype": "<i8", "shape": [1, 2]}).shape
    (1, 2)
    >>> Decoder()({"__type__": ["torch.nn", "modules.module.torch.os.system"]})
    Traceback (most recent call last):
    ...
    ValueError: The file names the class 'torch.nn.modules.module.torch.os.system', ...
    """

    def __init__(
        self, types: dict[str, type] | None = None, *, allow_types: bool = True
    ) -> None:
        self.types = {**allowed_types(), **(types or {})}
        self.allow_types = allow_types

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(
                f"The file nests values deeper than {MAX_DEPTH} levels; refusing it."
            )
        if isinstance(value, list):
            return [self(v, depth + 1) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 0:
            raise ValueError("Unknown entry in a model file: an empty object.")
        tag = next(iter(value))
        handler = self._HANDLERS.get(tag)
        if handler is None:
            raise ValueError(f"Unknown entry in a model file: keys {sorted(value)}.")
        return handler(self, value, depth + 1)

    # -- arrays and scalars ------------------------------------------------------------
    @staticmethod
    def _dtype(spec: Any) -> np.dtype:
        if not isinstance(spec, str) or not _DTYPE_RE.match(spec):
            raise ValueError(
                f"Refusing an array of dtype {spec!r}: model files hold numbers, "
                "booleans and strings only."
            )
        return np.dtype(spec)

    def _ndarray(self, value: dict, depth: int) -> np.ndarray:
        dtype = self._dtype(value.get("dtype"))
        shape = value.get("shape")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_NDIM
            or not all(_is_int(s) and s >= 0 for s in shape)
        ):
            raise ValueError(f"Refusing an array of shape {shape!r}.")
        items = value["__ndarray__"]
        if not isinstance(items, list):
            raise ValueError("An array in the model file holds no list of items.")
        size = math.prod(shape)
        if dtype.kind in "OUS":
            if len(items) != size:
                raise ValueError(
                    f"An array in the model file declares shape {tuple(shape)} but "
                    f"holds {len(items)} items."
                )
            items = [self(v, depth) for v in items]
            if not all(
                isinstance(v, (str, bytes, int, float, bool)) or v is None
                for v in items
            ):
                raise ValueError("An array of labels holds values that are not labels.")
            if dtype.kind == "O":
                arr = np.empty(len(items), dtype=object)
                arr[:] = items
                return arr.reshape(shape)
            # A declared width is clamped to the longest item: never allocate
            # more than the items themselves hold.
            width = max(
                (len(v) for v in items if isinstance(v, (str, bytes))), default=1
            )
            dtype = np.dtype(f"{dtype.byteorder}{dtype.kind}{max(1, width)}")
        try:
            arr = np.asarray(items, dtype=dtype)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(
                f"An array in the model file is malformed ({exc})."
            ) from exc
        if arr.size != size:
            raise ValueError(
                f"An array in the model file declares shape {tuple(shape)} but holds "
                f"{arr.size} values."
            )
        return arr.reshape(shape)

    def _npscalar(self, value: dict, depth: int) -> Any:
        dtype = self._dtype(value.get("dtype"))
        item = value["__npscalar__"]
        if dtype.kind == "O" or not isinstance(item, (int, float, bool, str)):
            raise ValueError(f"Refusing a scalar of dtype {dtype.str!r}.")
        try:
            return dtype.type(item)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(
                f"A scalar in the model file is malformed ({exc})."
            ) from exc

    # -- containers ----------------------------------------------------------------------
    def _tuple(self, value: dict, depth: int) -> tuple:
        return tuple(self._list(value["__tuple__"], depth))

    def _list(self, items: Any, depth: int) -> list:
        if not isinstance(items, list):
            raise ValueError("A list in the model file is malformed.")
        return [self(v, depth) for v in items]

    def _dict(self, value: dict, depth: int) -> dict:
        out = {}
        for pair in self._list(value["__dict__"], depth):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("A dict in the model file is malformed.")
            key = pair[0]
            if isinstance(key, list):
                key = tuple(key)
            try:
                out[key] = pair[1]
            except TypeError as exc:
                raise ValueError(
                    f"A dict key in the model file is unusable: {exc}."
                ) from exc
        return out

    def _history(self, value: dict, depth: int) -> Any:
        from sknn.training.history import History

        records = self._list(value["__history__"], depth)
        if not all(
            isinstance(r, dict) and all(isinstance(k, str) for k in r) for r in records
        ):
            raise ValueError("The history in the model file is malformed.")
        return History(records)

    def _trainstate(self, value: dict, depth: int) -> Any:
        from sknn.training.engine import TrainState

        state = self(value["__trainstate__"], depth)
        if not isinstance(state, dict):
            raise ValueError("The training state in the model file is malformed.")
        fields = {f.name: f for f in dataclasses.fields(TrainState)}
        kept = {k: v for k, v in state.items() if k in fields}
        for key, v in kept.items():
            if key in ("epoch", "t", "no_improve"):
                ok = _is_int(v) and v >= 0
            elif key in ("loss_curve", "validation_scores"):
                ok = isinstance(v, list) and all(_is_real(x) or x is None for x in v)
            else:
                ok = _is_real(v)
            if not ok:
                raise ValueError(f"The training state's {key!r} is malformed: {v!r}.")
        return TrainState(**kept)

    # -- classes and objects -------------------------------------------------------------
    def _callback(self, value: dict, depth: int) -> Any:
        cls = callback_classes().get(value["__callback__"])
        if cls is None:
            raise ValueError(f"Unknown sknn callback {value['__callback__']!r}.")
        params = self(value.get("params"), depth)
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ValueError(
                f"The parameters of callback {cls.__name__} are malformed."
            )
        valid = (
            set(cls().get_params(deep=False)) if cls.__name__ != "Callback" else set()
        )
        unknown = set(params) - valid
        if unknown:
            raise ValueError(
                f"Callback {cls.__name__} has no parameters {sorted(unknown)}."
            )
        return cls(**params)

    def _augment(self, value: dict, depth: int) -> Any:
        from sknn.data.augment import builtin_transforms

        cls = builtin_transforms().get(value["__augment__"])
        if cls is None:
            raise ValueError(f"Unknown sknn transform {value['__augment__']!r}.")
        params = self(value.get("params"), depth)
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ValueError(
                f"The parameters of transform {cls.__name__} are malformed."
            )
        unknown = set(params) - set(cls().get_params(deep=False))
        if unknown:
            raise ValueError(
                f"Transform {cls.__name__} has no parameters {sorted(unknown)}."
            )
        return cls(**params)

    def _type(self, value: dict, depth: int) -> type:
        spec = value["__type__"]
        if (
            isinstance(spec, list)
            and len(spec) == 2
            and all(isinstance(s, str) for s in spec)
        ):
            key = f"{spec[0]}.{spec[1]}"
        elif isinstance(spec, str):
            key = spec
        else:
            raise ValueError(f"A class name in the model file is malformed: {spec!r}.")
        if not self.allow_types:
            raise ValueError(f"The file names the class {key!r} where none may appear.")
        cls = self.types.get(key)
        if cls is None:
            raise ValueError(
                f"The file names the class {key!r}, which is not on sknn's allow-list; "
                "if you trust it, pass it to sknn.load(path, classes=[...]). Model files "
                "never import code."
            )
        return cls

    def _object(self, value: dict, depth: int) -> Any:
        import importlib

        name = value["__object__"]
        if name not in _SCHEMAS:
            raise ValueError(f"Refusing to rebuild an object of class {name!r}.")
        state = self(value.get("state"), depth)
        if not isinstance(state, dict):
            raise ValueError(f"The state of a {name} in the model file is malformed.")
        schema = _SCHEMAS[name]
        unknown = set(state) - set(schema)
        missing = _REQUIRED[name] - set(state)
        if name == "ClassTargetEncoder" and state.get("target_type_") != (
            "multilabel-indicator"
        ):
            missing |= {"_encoder"} - set(state)
        if unknown or missing:
            raise ValueError(
                f"The {name} in the model file has unexpected attributes "
                f"{sorted(map(str, unknown))} or lacks {sorted(missing)}."
            )
        for key, v in state.items():
            if not schema[key](v):
                raise ValueError(
                    f"The {name}'s {key!r} in the model file is malformed."
                )
        cls = getattr(importlib.import_module(STATE_CLASSES_PATHS[name]), name)
        obj = object.__new__(cls)
        obj.__dict__.update(state)
        return obj

    _HANDLERS: dict[str, Callable[[Decoder, dict, int], Any]] = {
        "__ndarray__": _ndarray,
        "__npscalar__": _npscalar,
        "__tuple__": _tuple,
        "__dict__": _dict,
        "__history__": _history,
        "__trainstate__": _trainstate,
        "__callback__": _callback,
        "__augment__": _augment,
        "__type__": _type,
        "__object__": _object,
    }


def caller_types(classes: Iterable[type] | None) -> dict[str, type]:
    """Key the classes a caller passes to :func:`sknn.load` by :func:`type_key`.

    Examples
    --------
    >>> import torch
    >>> from sknn._codec import caller_types
    >>> caller_types([torch.nn.Tanh])
    {'torch.nn.modules.activation.Tanh': <class 'torch.nn.modules.activation.Tanh'>}
    """
    out = {}
    for cls in classes or ():
        if not isinstance(cls, type):
            raise TypeError(f"classes must hold classes; got {cls!r}.")
        out[type_key(cls)] = cls
    return out


__all__ = ["Decoder", "Encoder", "allowed_types", "caller_types", "type_key"]
