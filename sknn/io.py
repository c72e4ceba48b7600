"""Saving and loading fitted estimators in a format that never executes code.

A model file is a zip archive holding

* ``meta.json``: the format version, the sknn / torch / scikit-learn / numpy versions,
  the estimator class (one of sknn's own, by name), its parameters and its fitted
  attributes (``classes_`` with their dtype, target scaler statistics,
  ``n_features_in_``, ``feature_names_in_``, ``history_``, ``n_iter_``, ...), all as
  plain JSON;
* ``weights.safetensors``: the network's tensors (`safetensors
  <https://huggingface.co/docs/safetensors>`_, a format that holds numbers only);
* ``optimizer.pt`` (optional): the optimiser state, read back with
  ``torch.load(weights_only=True)``, so that ``partial_fit`` continues where it was.

Nothing in the file is unpickled: :func:`load` rebuilds the estimator from the
allow-listed class and the module through the estimator's own ``_build_module``.
Pickle and joblib keep working for whole pipelines (see :doc:`/persistence`).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import platform
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator

#: Identifier written in every model file.
FORMAT_NAME = "sknn-model"
#: Version of the file layout written by this sknn; files up to it are read.
FORMAT_VERSION = 1

_META = "meta.json"
_WEIGHTS = "weights.safetensors"
_OPTIMIZER = "optimizer.pt"

# Classes whose instances may appear among fitted attributes; rebuilt from their
# attribute dictionary, never unpickled.
_STATE_CLASSES_PATHS = {
    "ClassTargetEncoder": "sknn.data.targets",
    "RegressionTargetScaler": "sknn.data.targets",
    "LabelEncoder": "sklearn.preprocessing",
    "History": "sknn.training.history",
}
# Modules whose classes may be named by a parameter (a torch scheduler class, an
# sknn module class). Resolved with getattr on the imported module.
_TYPE_MODULES = ("torch.optim.lr_scheduler", "torch.nn", "sknn.modules")


# ----------------------------------------------------------------------- allow-lists
def _estimator_classes() -> dict[str, type]:
    from sknn import estimators
    from sknn.base import BaseNeuralNet

    out = {}
    for name in getattr(estimators, "__all__", dir(estimators)):
        cls = getattr(estimators, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseNeuralNet):
            out[name] = cls
    return out


def _callback_classes() -> dict[str, type]:
    from sknn import callbacks

    out = {}
    for name in callbacks.__all__:
        cls = getattr(callbacks, name)
        if isinstance(cls, type) and issubclass(cls, callbacks.Callback):
            out[name] = cls
    return out


# ----------------------------------------------------------------------- JSON codec
class _Encoder:
    """Turn Python / numpy / sknn values into tagged JSON values."""

    def __init__(self) -> None:
        self.callbacks = _callback_classes()
        self.dropped: list[str] = []

    def __call__(self, value: Any, where: str) -> Any:
        from sknn.callbacks import Callback
        from sknn.training.engine import TrainState
        from sknn.training.history import History

        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return {"__npscalar__": value.item(), "dtype": value.dtype.str}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biufc?":
                return {
                    "__ndarray__": value.tolist(),
                    "dtype": value.dtype.str,
                    "shape": list(value.shape),
                }
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
        if isinstance(value, type):
            module = value.__module__
            if any(module.startswith(m) for m in _TYPE_MODULES):
                return {"__type__": [module, value.__qualname__]}
        name = type(value).__name__
        if name in _STATE_CLASSES_PATHS and type(value).__module__.startswith(
            _STATE_CLASSES_PATHS[name]
        ):
            return {"__object__": name, "state": self(vars(value), where)}
        if isinstance(value, np.random.RandomState):
            self.dropped.append(f"{where}: a RandomState instance (saved as None)")
            return None
        raise TypeError(
            f"sknn.save cannot store {where} of type {type(value).__name__}; only "
            "numbers, strings, arrays, lists, dicts and sknn's own objects are saved."
        )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        dtype = np.dtype(value["dtype"])
        items = _decode(value["__ndarray__"])
        if dtype.kind == "O":
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
        else:
            arr = np.asarray(items, dtype=dtype)
        return arr.reshape(value["shape"])
    if "__npscalar__" in value:
        return np.dtype(value["dtype"]).type(value["__npscalar__"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["__dict__"]}
    if "__history__" in value:
        from sknn.training.history import History

        return History(_decode(value["__history__"]))
    if "__trainstate__" in value:
        from sknn.training.engine import TrainState

        fields = {f.name for f in dataclasses.fields(TrainState)}
        state = _decode(value["__trainstate__"])
        return TrainState(**{k: v for k, v in state.items() if k in fields})
    if "__callback__" in value:
        cls = _callback_classes().get(value["__callback__"])
        if cls is None:
            raise ValueError(f"Unknown sknn callback {value['__callback__']!r}.")
        return cls(**_decode(value["params"]))
    if "__type__" in value:
        module, qualname = value["__type__"]
        if module not in _TYPE_MODULES and not any(
            module.startswith(m + ".") for m in _TYPE_MODULES
        ):
            raise ValueError(f"Refusing to import {module!r} named in a model file.")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    if "__object__" in value:
        name = value["__object__"]
        if name not in _STATE_CLASSES_PATHS:
            raise ValueError(f"Refusing to rebuild an object of class {name!r}.")
        cls = getattr(importlib.import_module(_STATE_CLASSES_PATHS[name]), name)
        obj = object.__new__(cls)
        obj.__dict__.update(_decode(value["state"]))
        return obj
    raise ValueError(f"Unknown entry in a model file: keys {sorted(value)}.")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# ----------------------------------------------------------------------- save
def _versions() -> dict[str, str]:
    import sknn

    return {
        "sknn": sknn.__version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def save(estimator: BaseEstimator, path: str | os.PathLike) -> None:
    """Save a fitted sknn estimator to ``path`` without pickle.

    The file is written to a temporary file in the same directory and then renamed,
    so an interrupted save never leaves a half-written model behind.

    Parameters
    ----------
    estimator : sknn estimator
        A fitted (or unfitted) sknn estimator.
    path : str or path-like
        Destination file (by convention ending in ``.sknn``).

    Raises
    ------
    TypeError
        If the estimator is not an sknn estimator, or holds a value that cannot be
        stored without pickle.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> import sknn
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = sknn.MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.sknn")
    >>> sknn.save(clf, path)
    >>> (sknn.load(path).predict(X) == clf.predict(X)).all()
    np.True_
    """
    from safetensors.torch import save as st_save

    classes = _estimator_classes()
    name = type(estimator).__name__
    if classes.get(name) is not type(estimator):
        raise TypeError(
            f"sknn.save saves sknn estimators ({sorted(classes)}); got {name}. Use "
            "joblib or pickle for pipelines and other objects."
        )
    enc = _Encoder()
    params = estimator.get_params(deep=False)
    module_name = None
    if "module" in params and params["module"] is not None:
        m = params.pop("module")
        module_name = (
            f"{m.__module__}.{m.__qualname__}"
            if isinstance(m, type)
            else type(m).__qualname__
        )
        params["module"] = None
    enc_params = {k: enc(v, f"parameter {k!r}") for k, v in params.items()}

    skip = {"module_", "optimizer_", "_optimizer_state"}  # stored apart
    attrs = {}
    for key, value in vars(estimator).items():
        if key in params or key in skip:
            continue
        attrs[key] = enc(value, f"attribute {key!r}")
    if enc.dropped:
        warnings.warn(
            "sknn.save did not store: " + "; ".join(enc.dropped) + ". Set them again "
            "with set_params after loading.",
            UserWarning,
            stacklevel=2,
        )

    files: dict[str, bytes] = {}
    module = getattr(estimator, "module_", None)
    frozen: list[str] = []
    if module is not None:
        state = {
            k: v.detach().to("cpu").contiguous().clone()
            for k, v in module.state_dict().items()
        }
        files[_WEIGHTS] = st_save(state)
        frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
        opt = getattr(estimator, "optimizer_", None)
        opt_state = opt.state_dict() if opt is not None else None
        opt_state = opt_state or getattr(estimator, "_optimizer_state", None)
        if opt_state is not None:
            buf = io.BytesIO()
            from sknn.base import _to_cpu

            torch.save(_to_cpu(opt_state), buf)
            files[_OPTIMIZER] = buf.getvalue()
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "estimator": name,
        "module": module_name,
        "params": enc_params,
        "attributes": attrs,
        "fitted": module is not None,
        "frozen": frozen,
    }
    files[_META] = json.dumps(meta, indent=1).encode()
    _atomic_write_zip(Path(path), files)


def _atomic_write_zip(path: Path, files: dict[str, bytes]) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in files.items():
                    zf.writestr(name, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------- load
def _read(path: Path) -> tuple[dict, dict[str, bytes]]:
    if not path.is_file():
        raise FileNotFoundError(f"No such model file: {str(path)!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path.name!r} is not an sknn model file (not a zip archive written by "
            "sknn.save). Nothing was loaded."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if _META not in names:
                raise ValueError(
                    f"{path.name!r} is not an sknn model file (no {_META}). Nothing "
                    "was loaded."
                )
            blobs = {n: zf.read(n) for n in (_META, _WEIGHTS, _OPTIMIZER) if n in names}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(
            f"{path.name!r} is corrupt or truncated ({exc}). Nothing was loaded."
        ) from exc
    try:
        meta = json.loads(blobs.pop(_META).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name!r} has an unreadable {_META}: {exc}.") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(
            f"{path.name!r} is not an sknn model file. Nothing was loaded."
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        written = meta.get("versions", {}).get("sknn", "unknown")
        raise ValueError(
            f"{path.name!r} was written by sknn {written} in model format {version!r}; "
            f"this sknn reads formats up to {FORMAT_VERSION}. Upgrade sknn to load it."
        )
    return meta, blobs


def load(
    path: str | os.PathLike,
    *,
    module: Any = None,
    device: str | torch.device | None = None,
) -> BaseEstimator:
    """Load an estimator written by :func:`save`; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
        The model file.
    module : torch.nn.Module class, instance or callable, default=None
        For :class:`~sknn.NeuralNetClassifier` / :class:`~sknn.NeuralNetRegressor`
        only: the user's module (the file names it but never stores code).
    device : str or torch.device, default=None
        Where to put the network. By default the device it was trained on when that
        is available here, else the CPU (a model trained on a GPU loads on a CPU-only
        machine).

    Returns
    -------
    estimator : sknn estimator
        Predicts as the saved one did.

    Raises
    ------
    ValueError
        If the file is not an sknn model, is corrupt or truncated, or was written in
        a newer format.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> import sknn
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = sknn.MLPRegressor((8,), max_iter=5, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "diabetes.sknn")
    >>> sknn.save(reg, path)
    >>> type(sknn.load(path)).__name__
    'MLPRegressor'
    """
    import sknn
    from sknn.utils.random import torch_seed

    path = Path(path)
    meta, blobs = _read(path)
    saved = meta.get("versions", {}).get("sknn")
    if saved != sknn.__version__:
        warnings.warn(
            f"{path.name!r} was saved with sknn {saved}; this is sknn "
            f"{sknn.__version__}. Check its predictions.",
            UserWarning,
            stacklevel=2,
        )
    cls = _estimator_classes().get(meta.get("estimator"))
    if cls is None:
        raise ValueError(
            f"{path.name!r} names an unknown estimator {meta.get('estimator')!r}; "
            f"known: {sorted(_estimator_classes())}."
        )
    try:
        params = {k: _decode(v) for k, v in meta["params"].items()}
        attrs = {k: _decode(v) for k, v in meta["attributes"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path.name!r} has malformed metadata ({exc}).") from exc
    if meta.get("module") is not None:
        if module is None:
            raise ValueError(
                f"{path.name!r} holds a {cls.__name__} around the module "
                f"{meta['module']!r}; pass it as sknn.load(path, module=...) (model "
                "files never store code)."
            )
        params["module"] = module
    valid = set(cls().get_params(deep=False))
    est = cls(**{k: v for k, v in params.items() if k in valid})
    est.__dict__.update(attrs)
    if not meta.get("fitted"):
        return est
    if _WEIGHTS not in blobs:
        raise ValueError(f"{path.name!r} is truncated: its weights are missing.")
    state = _load_weights(blobs[_WEIGHTS], path.name)

    target = torch.device(device if device is not None else attrs.get("device_", "cpu"))
    if target.type == "cuda" and not torch.cuda.is_available():
        target = torch.device("cpu")
    with torch_seed(0, torch.device("cpu")):
        net = est._build_module(dict(est._meta_))
    _match_head(net, state)
    net = net.to(dtype=est._torch_dtype())
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {path.name!r} do not fit the network rebuilt from its "
            f"parameters: {exc}"
        ) from exc
    frozen = set(meta.get("frozen", ()))
    for name, p in net.named_parameters():
        p.requires_grad_(name not in frozen)
    est.module_ = net.to(target).eval()
    est.device_ = str(target)
    est.optimizer_ = None
    if _OPTIMIZER in blobs:
        try:
            est._optimizer_state = torch.load(
                io.BytesIO(blobs[_OPTIMIZER]), weights_only=True, map_location="cpu"
            )
        except Exception as exc:  # an unpickling error: refuse, never execute
            raise ValueError(
                f"{path.name!r} holds an optimizer state that is not plain tensors "
                f"and numbers; refusing to load it ({type(exc).__name__})."
            ) from exc
    return est


def _load_weights(blob: bytes, name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as st_load

    try:
        return st_load(blob)
    except Exception as exc:  # safetensors raises its own error type
        raise ValueError(
            f"The weights in {name!r} are corrupt or not in safetensors format "
            f"({type(exc).__name__}). Nothing was loaded."
        ) from exc


def _match_head(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Give ``net`` a head of the saved shape when fine-tuning replaced it."""
    from sknn.finetune import find_head, replace_head

    try:
        name, head = find_head(net)
    except ValueError:
        return
    key = f"{name}.weight"
    if key in state and tuple(state[key].shape) != tuple(head.weight.shape):
        replace_head(net, int(state[key].shape[0]))


__all__ = ["FORMAT_VERSION", "load", "save"]
