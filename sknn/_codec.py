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

The codec imports nothing of sknn: every class it may name or rebuild comes in a
:class:`Vocabulary` that :mod:`sknn.io` builds.

The module is past the ~600 lines of the house rule on purpose: it is the whole trust
boundary of a model file (every tag, schema and size check that stands between an
untrusted file and an allocation), kept in one file so that it is reviewed as one.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import numpy as np
import torch

#: Deepest nesting of JSON values a model file may use.
MAX_DEPTH = 64
#: Longest shape (number of dimensions) of a stored array.
MAX_NDIM = 32

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


def allowed_types(*namespaces: ModuleType) -> dict[str, type]:
    """The classes a model file may name, by exact key.

    torch's learning-rate schedulers (the ``policy`` of
    :class:`~sknn.callbacks.LRScheduler`), optimisers and losses (an estimator's
    ``optimizer`` and ``criterion``), torch's activation modules, and the
    ``torch.nn.Module`` classes of ``namespaces`` (sknn's network modules, passed by
    :mod:`sknn.io`). Each is found by enumerating its module's own namespace, so a
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

    bases: list[tuple[Any, tuple[type, ...]]] = [
        (schedulers, (schedulers.LRScheduler, schedulers.ReduceLROnPlateau)),
        (activation, (torch.nn.Module,)),
        (loss, (torch.nn.modules.loss._Loss,)),
        (optim, (torch.optim.Optimizer,)),
    ]
    bases += [(namespace, (torch.nn.Module,)) for namespace in namespaces]
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


#: Classes a model file names by their class name (``__callback__``, ``__augment__``),
#: declared by the packages that define them (:func:`declare`).
_DECLARED: dict[str, dict[str, type]] = {"callback": {}, "transform": {}}
_RESTORABLE: dict[str, set[type]] = {"callback": set(), "transform": set()}


def declare(kind: str, classes: Iterable[type], *, restore: bool = True) -> None:
    """Declare the classes a model file may name by class name.

    Called once by the package that defines them (:mod:`sknn.callbacks`,
    :mod:`sknn.data.augment`), so that the codec, which imports nothing of sknn,
    knows them: a value is written only when its class is the declared class of its
    name, and a name read back resolves only to that class.

    Parameters
    ----------
    kind : {"callback", "transform"}
        Which tag names them.
    classes : iterable of type
        The classes.
    restore : bool, default=True
        Whether :func:`sknn.load` rebuilds them; callbacks that write files are
        named in a model file but come from the caller, never from the file.

    Examples
    --------
    >>> from sknn._codec import declared
    >>> "EarlyStopping" in declared("callback")
    True
    >>> "Checkpoint" in declared("callback", restorable=True)
    False
    """
    for cls in classes:
        _DECLARED[kind][cls.__name__] = cls
        if restore:
            _RESTORABLE[kind].add(cls)
        else:
            _RESTORABLE[kind].discard(cls)


def declared(kind: str, *, restorable: bool = False) -> dict[str, type]:
    """The classes of ``kind`` declared with :func:`declare`, by class name."""
    return {
        name: cls
        for name, cls in _DECLARED[kind].items()
        if not restorable or cls in _RESTORABLE[kind]
    }


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The classes a model file may name or hold, given to the codec by its caller.

    Parameters
    ----------
    types : mapping of str to type
        ``__type__`` classes by :func:`type_key` (see :func:`allowed_types`).
    callbacks : mapping of str to type, optional
        ``__callback__`` classes by class name; a callback is written only when its
        class is the one of its name here. By default the declared ones
        (:func:`declare`).
    callback_base : type or None
        What counts as a callback when writing (others of its kind are dropped).
    transforms : mapping of str to type, optional
        ``__augment__`` classes by class name; by default the declared ones.
    states : mapping of str to type
        ``__object__`` classes by class name (names of :data:`STATE_CLASSES`).
    history, train_state : type or None
        The classes of the ``__history__`` and ``__trainstate__`` entries.

    Examples
    --------
    >>> from sknn._codec import Vocabulary
    >>> Vocabulary().states
    {}
    """

    types: Mapping[str, type] = dataclasses.field(default_factory=dict)
    callbacks: Mapping[str, type] | None = None
    callback_base: type | None = None
    transforms: Mapping[str, type] | None = None
    states: Mapping[str, type] = dataclasses.field(default_factory=dict)
    history: type | None = None
    train_state: type | None = None

    def named(self, kind: str) -> Mapping[str, type]:
        """The ``"callback"`` or ``"transform"`` classes, declared ones by default."""
        given = self.callbacks if kind == "callback" else self.transforms
        return declared(kind) if given is None else given


_EMPTY = Vocabulary()


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

    def __init__(self, vocabulary: Vocabulary = _EMPTY) -> None:
        self.vocabulary = vocabulary
        self.callbacks = vocabulary.named("callback")
        self.transforms = vocabulary.named("transform")
        self.dropped: list[str] = []

    def __call__(self, value: Any, where: str) -> Any:
        voc = self.vocabulary
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
        if voc.history is not None and isinstance(value, voc.history):
            return {"__history__": [self(r, where) for r in value]}
        if voc.train_state is not None and isinstance(value, voc.train_state):
            return {"__trainstate__": self(dataclasses.asdict(value), where)}
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, where) for v in value]}
        if isinstance(value, list):
            return [self(v, where) for v in value]
        if isinstance(value, dict):
            return {
                "__dict__": [[self(k, where), self(v, where)] for k, v in value.items()]
            }
        if voc.callback_base is not None and isinstance(value, voc.callback_base):
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
        if voc.states.get(name) is type(value):
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

#: Classes whose instances may appear among fitted attributes: rebuilt from a fixed
#: set of attributes (their schemas above), never unpickled. The classes themselves
#: come from the caller (:attr:`Vocabulary.states`).
STATE_CLASSES = tuple(_SCHEMAS)


def few(keys: Any, shown: int = 5) -> str:
    """Name a few of ``keys`` (sorted, each cut to 40 characters) and count the rest,
    so that a hostile file cannot make an error message as large as itself.

    Examples
    --------
    >>> from sknn._codec import few
    >>> few(["b", "a"])
    "['a', 'b']"
    >>> few(str(i) for i in range(100_000))
    "['0', '1', '10', '100', '1000'] and 99,995 more"
    """
    names = sorted(str(k)[:40] for k in keys)
    head = str(names[:shown])
    return head if len(names) <= shown else f"{head} and {len(names) - shown:,} more"


class Decoder:
    """Rebuild values from tagged JSON, refusing anything off the schemas.

    Parameters
    ----------
    types : dict of str to type, default=None
        Classes the caller supplies, by :func:`type_key`; they win over the
        allow-list.
    vocabulary : Vocabulary, optional
        The classes a file may name (the allow-list); none by default.
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
        self,
        types: dict[str, type] | None = None,
        *,
        vocabulary: Vocabulary = _EMPTY,
        allow_types: bool = True,
    ) -> None:
        self.vocabulary = vocabulary
        self.callbacks = vocabulary.named("callback")
        self.transforms = vocabulary.named("transform")
        self.types = {**allowed_types(), **vocabulary.types, **(types or {})}
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
            raise ValueError(f"Unknown entry in a model file: keys {few(value)}.")
        return handler(self, value, depth + 1)

    @staticmethod
    def _known(cls: type | None, what: str) -> type:
        if cls is None:
            raise ValueError(f"Refusing {what}: none may appear here.")
        return cls

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
        history = self._known(self.vocabulary.history, "a training history")
        records = self._list(value["__history__"], depth)
        if not all(
            isinstance(r, dict) and all(isinstance(k, str) for k in r) for r in records
        ):
            raise ValueError("The history in the model file is malformed.")
        return history(records)

    def _trainstate(self, value: dict, depth: int) -> Any:
        train_state = self._known(self.vocabulary.train_state, "a training state")
        state = self(value["__trainstate__"], depth)
        if not isinstance(state, dict):
            raise ValueError("The training state in the model file is malformed.")
        fields = {f.name: f for f in dataclasses.fields(train_state)}
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
        return train_state(**kept)

    # -- classes and objects -------------------------------------------------------------
    def _callback(self, value: dict, depth: int) -> Any:
        cls = self.callbacks.get(value["__callback__"])
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
                f"Callback {cls.__name__} has no parameters {few(unknown)}."
            )
        return cls(**params)

    def _augment(self, value: dict, depth: int) -> Any:
        cls = self.transforms.get(value["__augment__"])
        if cls is None:
            raise ValueError(
                f"Unknown sknn transform {str(value['__augment__'])[:80]!r}."
            )
        params = self(value.get("params"), depth)
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ValueError(
                f"The parameters of transform {cls.__name__} are malformed."
            )
        unknown = set(params) - set(cls().get_params(deep=False))
        if unknown:
            raise ValueError(
                f"Transform {cls.__name__} has no parameters {few(unknown)}."
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
            raise ValueError(
                f"A class name in the model file is malformed: {str(spec)[:80]!r}."
            )
        if not self.allow_types:
            raise ValueError(
                f"The file names the class {key[:200]!r} where none may appear."
            )
        cls = self.types.get(key)
        if cls is None:
            raise ValueError(
                f"The file names the class {key[:200]!r}, which is not on sknn's "
                "allow-list; "
                "if you trust it, pass it to sknn.load(path, classes=[...]). Model files "
                "never import code."
            )
        return cls

    def _object(self, value: dict, depth: int) -> Any:
        name = value["__object__"]
        cls = self.vocabulary.states.get(name) if name in _SCHEMAS else None
        if cls is None:
            raise ValueError(
                f"Refusing to rebuild an object of class {str(name)[:80]!r}."
            )
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
                f"{few(unknown)} or lacks {sorted(missing)}."
            )
        for key, v in state.items():
            if not schema[key](v):
                raise ValueError(
                    f"The {name}'s {key!r} in the model file is malformed."
                )
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


__all__ = [
    "STATE_CLASSES",
    "Decoder",
    "Encoder",
    "Vocabulary",
    "allowed_types",
    "caller_types",
    "declare",
    "declared",
    "few",
    "type_key",
]
