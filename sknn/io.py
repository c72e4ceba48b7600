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

Nothing in the file is unpickled, imported or called. A model file is untrusted
input: it may only *name* classes of an explicit allow-list of exact classes (sknn's
estimators, callbacks and modules, torch's schedulers and activations, see
:mod:`sknn._codec`); anything else it names (a user's module, a scheduler class of
one's own) comes from the caller of :func:`load`, whose arguments always win. Sizes,
dtypes and shapes are validated before anything is allocated or decompressed
(:mod:`sknn._archive`). Pickle and joblib keep working for whole pipelines (see
:doc:`/persistence`).

The module is a little past the ~600 lines of the house rule: it is the public pair
(:func:`save`, :func:`load`) with every check between a file's contents and the
estimator they rebuild; the format's two halves already live apart (the JSON codec in
:mod:`sknn._codec`, the zip and tensor reader in :mod:`sknn._archive`).
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder

from sknn import modules as sknn_modules
from sknn._archive import (
    MAX_COMPRESSION_RATIO,
    MAX_META_BYTES,
    SLACK,
    Archive,
    load_optimizer_state,
    load_weights,
    safetensors_header,
)
from sknn._codec import (
    Decoder,
    Encoder,
    Vocabulary,
    allowed_types,
    caller_types,
    declared,
    few,
)
from sknn._settings import check_file_settings, check_no_bool_numbers
from sknn._version import __version__
from sknn.data.tables import TableEncoder
from sknn.data.targets import ClassTargetEncoder, RegressionTargetScaler
from sknn.training.engine import TrainState
from sknn.training.history import History
from sknn.training.hooks import Hooks
from sknn.utils._files import atomic_write
from sknn.utils.device import resolve_device

#: Identifier written in every model file.
FORMAT_NAME = "sknn-model"
#: Version of the file layout written by this sknn; files up to it are read.
FORMAT_VERSION = 1

_META = "meta.json"
_WEIGHTS = "weights.safetensors"
_OPTIMIZER = "optimizer.pt"
#: The entries of ``meta.json`` (format 1); a file with others is refused.
_META_KEYS = frozenset(
    {"format", "format_version", "versions", "estimator", "module", "params",
     "attributes", "fitted", "frozen"}
)  # fmt: skip


def _estimator_classes() -> dict[str, type]:
    from sknn import estimators
    from sknn.base import BaseNeuralNet

    out = {}
    for name in getattr(estimators, "__all__", dir(estimators)):
        cls = getattr(estimators, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseNeuralNet):
            out[name] = cls
    return out


# ----------------------------------------------------------------------- save
def _vocabulary() -> Vocabulary:
    """Every class a model file may name or hold, for the codec (which imports nothing
    of sknn): sknn's network modules, its target encoders and table encoder, the
    training history and state, and the callbacks and transforms their packages
    declare."""
    states = (ClassTargetEncoder, RegressionTargetScaler, LabelEncoder, TableEncoder)
    return Vocabulary(
        types=allowed_types(sknn_modules),
        callback_base=Hooks,
        states={cls.__name__: cls for cls in states},
        history=History,
        train_state=TrainState,
    )


def _versions() -> dict[str, str]:
    return {
        "sknn": __version__,
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
    enc = Encoder(_vocabulary())
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

    # The estimator's pickled state (BaseNeuralNet.__getstate__), the network's
    # weights and the optimiser's state stored in their own members.
    state = estimator.__getstate__()
    module = state.pop("module_", None)
    opt_state = state.pop("_optimizer_state", None)
    state.pop("optimizer_", None)
    attrs = {
        key: enc(value, f"attribute {key!r}")
        for key, value in state.items()
        if key not in params
    }
    if enc.dropped:
        warnings.warn(
            "sknn.save did not store: " + "; ".join(enc.dropped) + ". Set them again "
            "with set_params after loading.",
            UserWarning,
            stacklevel=2,
        )

    files: dict[str, bytes] = {}
    frozen: list[str] = []
    if module is not None:
        weights = {
            k: v.detach().to("cpu").contiguous().clone()
            for k, v in module.state_dict().items()
        }
        files[_WEIGHTS] = st_save(weights)
        frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
        if opt_state is not None:
            buf = io.BytesIO()
            torch.save(opt_state, buf)
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

    def write(fh) -> None:
        with zipfile.ZipFile(fh, "w") as zf:
            for member, data in files.items():
                # Tensors barely compress; storing them keeps every member's
                # declared size honest for the reader's zip-bomb checks.
                method = zipfile.ZIP_DEFLATED if member == _META else zipfile.ZIP_STORED
                zf.writestr(member, data, compress_type=method)

    atomic_write(path, write)


# ----------------------------------------------------------------------- load
def _read_meta(archive: Archive) -> dict:
    name = archive.name
    if _META not in archive:
        raise ValueError(
            f"{name!r} is not an sknn model file (no {_META}). Nothing was loaded."
        )
    meta = archive.read_json(_META, MAX_META_BYTES)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{name!r} is not an sknn model file. Nothing was loaded.")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(
            f"{name!r} has a malformed format_version {str(version)[:40]!r} (sknn "
            "writes a positive int). Nothing was loaded."
        )
    if version > FORMAT_VERSION:
        versions = meta.get("versions")
        written = versions.get("sknn") if isinstance(versions, dict) else None
        raise ValueError(
            f"{name!r} was written by sknn {written or 'unknown'} in model "
            f"format {version!r}; this sknn reads formats up to {FORMAT_VERSION}. "
            "Upgrade sknn to load it."
        )
    unknown = [k for k in meta if k not in _META_KEYS]
    if unknown:
        raise ValueError(
            f"{name!r} has unknown entries {few(unknown)} in its {_META}; sknn "
            "writes none. Nothing was loaded."
        )
    return meta


def load(
    path: str | os.PathLike,
    *,
    module: Any = None,
    classes: Iterable[type] | None = None,
    callbacks: list | None = None,
    device: str | torch.device | None = None,
) -> BaseEstimator:
    """Load an estimator written by :func:`save`; nothing in the file is executed.

    A model file is treated as untrusted input: it can only *name* classes of an
    explicit allow-list (sknn's estimators, callbacks and network modules, torch's
    learning-rate schedulers and activations); everything else it names must be
    passed here by the caller, whose arguments always win. Sizes, dtypes and shapes
    are checked before anything is allocated or decompressed. See
    :doc:`/persistence` for the whole threat model.

    Parameters
    ----------
    path : str or path-like
        The model file.
    module : torch.nn.Module class, instance or callable, default=None
        For :class:`~sknn.NeuralNetClassifier` / :class:`~sknn.NeuralNetRegressor`:
        the user's module. The file only names it; this argument is always used
        when given, whatever the file says.
    classes : iterable of type, default=None
        Other classes the file may name that are not on the allow-list, for example
        a scheduler class of your own given to :class:`~sknn.callbacks.LRScheduler`.
    callbacks : list of Callback, default=None
        The estimator's callbacks. By default those stored in the file are restored,
        except callbacks that write files (checkpoints, logs, trackers): a file could
        point them at any path, so they are dropped with a warning.
    device : str or torch.device, default=None
        Where to put the network; it also becomes the estimator's ``device``
        parameter, so that a later ``fit`` or ``partial_fit`` trains there. Any
        value of that parameter: ``"auto"`` (CUDA when available, else the CPU),
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``; a device this machine lacks
        is a ``ValueError``, as in ``fit``. By default the device it was trained on
        when that is available here, else the CPU (a model trained on a GPU, CUDA
        or Apple's, loads on a CPU-only machine, and keeps its ``device``
        parameter).

    Returns
    -------
    estimator : sknn estimator
        Predicts as the saved one did.

    Raises
    ------
    ValueError
        If the file is not an sknn model, is corrupt, truncated or inconsistent,
        names a class that is neither allow-listed nor passed by the caller, holds
        non-finite weights, or was written in a newer format.

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
    path = Path(path)
    archive = Archive(path)
    try:
        return _load(archive, module, caller_types(classes), callbacks, device)
    finally:
        archive.close()


def _load(archive: Archive, module, types, callbacks, device) -> BaseEstimator:
    name = archive.name
    meta = _read_meta(archive)
    versions = meta.get("versions")
    saved = versions.get("sknn") if isinstance(versions, dict) else None
    if saved != __version__:
        warnings.warn(
            f"{name!r} was saved with sknn {saved}; this is sknn "
            f"{__version__}. Check its predictions.",
            UserWarning,
            stacklevel=3,
        )
    cls = _estimator_classes().get(meta.get("estimator"))
    if cls is None:
        raise ValueError(
            f"{name!r} names an unknown estimator {str(meta.get('estimator'))[:80]!r}; "
            f"known: {sorted(_estimator_classes())}."
        )
    params_in, attrs_in = meta.get("params"), meta.get("attributes")
    if not isinstance(params_in, dict) or not isinstance(attrs_in, dict):
        raise ValueError(f"{name!r} has malformed metadata (params / attributes).")
    vocabulary = _vocabulary()
    decode = Decoder(types, vocabulary=vocabulary)
    try:
        # The module is never decoded from parameters: it is the caller's, or a
        # name on the allow-list (meta["module"]).
        params = {k: decode(v) for k, v in params_in.items() if k != "module"}
        attrs = {k: decode(v) for k, v in attrs_in.items()}
    except (KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValueError(f"{name!r} has malformed metadata ({exc!r}).") from exc

    valid = set(cls().get_params(deep=False))
    nested = getattr(cls, "_is_nested_name", lambda k: False)  # optimizer__... names
    params = {
        k: v
        for k, v in params.items()
        if k in valid or (isinstance(k, str) and k.isidentifier() and nested(k))
    }
    if "module" in valid:
        params["module"] = _module_param(name, meta.get("module"), module, types, cls)
    params["callbacks"] = _callbacks_param(name, params.get("callbacks"), callbacks)
    if device is not None:  # the caller's device: where later fits train too
        params["device"] = device
    est = cls(**params)
    try:
        est._validate_params()
        check_no_bool_numbers(cls.__name__, params, est._parameter_constraints)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name!r} holds invalid parameters: {exc}") from exc
    check_file_settings(name, params)
    _set_attributes(name, est, attrs)
    if not meta.get("fitted"):
        return est
    if _WEIGHTS not in archive:
        raise ValueError(f"{name!r} is truncated: its weights are missing.")
    frozen = meta.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(f, str) for f in frozen):
        raise ValueError(f"{name!r} has a malformed list of frozen parameters.")

    expected = _expected_state(name, est, archive)
    limit = _state_bytes(expected) + 8 + SLACK + 512 * len(expected)
    state = load_weights(archive.read(_WEIGHTS, limit), name, expected)
    target = _target_device(name, device, attrs.get("device_", "cpu"))
    from sknn.utils.random import torch_seed

    with torch_seed(0, torch.device("cpu")):
        net = est._build_module(dict(est._meta_))
    _match_head(net, {k: tuple(v.shape) for k, v in state.items()})
    net = net.to(dtype=est._torch_dtype())
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {name!r} do not fit the network rebuilt from its "
            f"parameters: {exc}"
        ) from exc
    frozen_set = set(frozen)
    for pname, p in net.named_parameters():
        p.requires_grad_(pname not in frozen_set)
    restored = {"module_": net.to(target).eval(), "device_": str(target)}
    restored["optimizer_"] = None
    if _OPTIMIZER in archive:
        # Adam keeps two tensors per weight, L-BFGS up to 2 x history_size.
        blob = archive.read(_OPTIMIZER, 256 * limit + SLACK)
        restored["_optimizer_state"] = load_optimizer_state(blob, name)
    est.__setstate__(restored)  # the stored-apart members of __getstate__'s state
    return est


def _module_param(name: str, named: Any, module: Any, types: dict, cls: type) -> Any:
    """The ``module`` parameter: the caller's, else an allow-listed class the file names."""
    if module is not None:
        return module
    if named is None:
        return None
    if not isinstance(named, str):
        raise ValueError(f"{name!r} names its module with a {type(named).__name__}.")
    found = {**allowed_types(sknn_modules), **types}.get(named)
    if (
        found is not None
        and isinstance(found, type)
        and issubclass(found, torch.nn.Module)
    ):
        return found
    raise ValueError(
        f"{name!r} holds a {cls.__name__} around the module {named[:200]!r}; pass it "
        "as sknn.load(path, module=...) (model files never store or import code)."
    )


def _callbacks_param(name: str, stored: Any, callbacks: list | None) -> Any:
    if callbacks is not None:
        return callbacks
    if stored is None:
        return None
    if not isinstance(stored, (list, tuple)):
        raise ValueError(f"{name!r} holds malformed callbacks.")
    safe = tuple(declared("callback", restorable=True).values())
    kept = [cb for cb in stored if isinstance(cb, safe)]
    for cb in kept:  # a restored callback's own check (a scheduler's policy ...)
        check = getattr(cb, "check_params", None)
        if check is not None:
            try:
                check()
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"{name!r} holds a {type(cb).__name__} that is refused: {exc}"
                ) from exc
    dropped = [type(cb).__name__ for cb in stored if not isinstance(cb, safe)]
    if dropped:
        warnings.warn(
            f"sknn.load did not restore the callbacks {dropped} stored in {name!r}: "
            "callbacks that write files come from you, not from a model file. Pass "
            "them with sknn.load(path, callbacks=[...]) or set_params(callbacks=...).",
            UserWarning,
            stacklevel=4,
        )
    return type(stored)(kept)


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(x is not None and _number(x) for x in v)


def _set_attributes(name: str, est: BaseEstimator, attrs: dict) -> None:
    """Set fitted attributes: names that shadow nothing, values of the right kinds."""
    from sknn.utils.random import is_generator_state, is_scope_state

    checks = {
        "n_features_in_": lambda v: isinstance(v, int) and v >= 0,
        "n_outputs_": lambda v: isinstance(v, int) and v >= 1,
        "n_iter_": lambda v: isinstance(v, int) and v >= 0,
        "t_": lambda v: isinstance(v, int) and v >= 0,
        "device_": lambda v: isinstance(v, str),
        "_meta_": lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
        "_state": lambda v: isinstance(v, TrainState),
        "history_": lambda v: isinstance(v, History),
        "classes_": lambda v: isinstance(v, (np.ndarray, list)),
        "feature_names_in_": lambda v: isinstance(v, np.ndarray) and v.ndim == 1,
        "callbacks_": lambda v: isinstance(v, list),
        # The training record: numbers (NaN where scikit-learn records it).
        "loss_curve_": _numbers,
        "validation_scores_": lambda v: v is None or _numbers(v),
        "loss_": _number,
        "best_loss_": _number,
        "best_validation_score_": _number,
        "stop_reason_": lambda v: v is None or (isinstance(v, str) and len(v) < 40),
        # The streams partial_fit continues (shuffling, dropout).
        "_shuffle_state": lambda v: v is None or is_generator_state(v),
        "_dropout_state": lambda v: v is None or is_scope_state(v),
    }
    for key, value in attrs.items():
        if (
            not key.isidentifier()
            or key.startswith("__")
            or not (key.endswith("_") or key.startswith("_"))
            or hasattr(type(est), key)
        ):
            raise ValueError(f"{name!r} sets an attribute {key[:80]!r} it may not set.")
        if key in checks and not checks[key](value):
            raise ValueError(f"{name!r} has a malformed {key!r}.")
    try:  # the estimator restores its own state (its target handler checks it)
        est.__setstate__(attrs)
    except ValueError as exc:
        raise ValueError(f"{name!r} {exc}.") from exc
    fitted_meta = attrs.get("_meta_")
    if fitted_meta is not None:
        if "n_features_in_" in attrs and fitted_meta.get("n_features_in") not in (
            None,
            attrs["n_features_in_"],
        ):
            raise ValueError(f"{name!r} disagrees with itself on n_features_in_.")
        if "n_outputs_" in attrs and fitted_meta.get("n_outputs") not in (
            None,
            attrs["n_outputs_"],
        ):
            raise ValueError(f"{name!r} disagrees with itself on n_outputs_.")
    table = attrs.get("_table")
    if table is not None and not _table_agrees(table, fitted_meta, attrs):
        raise ValueError(f"{name!r} disagrees with itself on its table encoding.")


def _table_agrees(table: Any, meta: Any, attrs: dict) -> bool:
    """Whether a decoded :class:`~sknn.data.tables.TableEncoder` is whole and
    describes the network of ``meta`` (columns, categories, widths)."""
    if not isinstance(table, TableEncoder):
        return False
    n_cols = len(table.columns_)
    n_cat = int((table.kinds_ == "categorical").sum())
    if not (
        len(table.kinds_) == len(table.missing_) == n_cols
        and len(table.categories_) == len(table.levels_) == n_cat
        and len(table.mean_) == len(table.scale_) == n_cols - n_cat
        and attrs.get("n_features_in_", n_cols) == n_cols
    ):
        return False
    facts = meta.get("table") if isinstance(meta, dict) else None
    return (
        isinstance(facts, dict)
        and facts.get("cardinalities") == table.cardinalities()
        and facts.get("n_numeric") == table.n_numeric()
    )


def _expected_state(name: str, est: BaseEstimator, archive: Archive) -> dict:
    """Names, shapes and dtypes of the network's state, from its parameters alone.

    The network is built on torch's ``meta`` device, so an absurd architecture in
    the file allocates nothing.
    """
    meta = getattr(est, "_meta_", None)
    if not isinstance(meta, dict):
        raise ValueError(f"{name!r} is fitted but lacks its network's fit-time facts.")
    from sknn.utils.random import torch_seed

    header = safetensors_header(archive, _WEIGHTS)
    try:
        with torch_seed(0, torch.device("cpu")), torch.device("meta"):
            net = est._build_module(dict(meta))
            _match_head(net, {k: tuple(v[1]) for k, v in header.items()})
        net = net.to(dtype=est._torch_dtype())
    except ValueError:
        raise
    except Exception as exc:  # the file's parameters build no network
        raise ValueError(
            f"The parameters in {name!r} do not build a network ({exc})."
        ) from exc
    expected = {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()}
    if set(expected) != set(header) or any(
        tuple(header[k][1]) != expected[k][0] for k in expected
    ):
        raise ValueError(
            f"The weights in {name!r} do not fit the network its parameters describe "
            "(other names or shapes). Nothing was loaded."
        )
    return expected


def _state_bytes(expected: dict) -> int:
    return sum(math.prod(shape) * 8 for shape, _ in expected.values())


def _target_device(name: str, device: Any, saved: Any) -> torch.device:
    """Where the network goes: the caller's ``device`` (which must exist here, as
    ``fit`` requires), else the saved one when this machine has it, else the CPU."""
    if device is not None:
        return resolve_device(device)
    try:
        target = torch.device(saved)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name!r} names an unknown device {saved!r}.") from exc
    if target.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name!r} names an unsupported device {str(target)!r}.")
    try:
        return resolve_device(target)
    except ValueError:  # trained on a device this machine lacks
        return torch.device("cpu")


def _match_head(net: torch.nn.Module, shapes: dict[str, tuple]) -> None:
    """Give ``net`` a head of the saved shape when fine-tuning replaced it."""
    from sknn.finetune import find_head, replace_head

    try:
        head_name, head = find_head(net)
    except ValueError:
        return
    key = f"{head_name}.weight"
    if key in shapes and len(shapes[key]) == 2:
        if tuple(shapes[key]) != tuple(head.weight.shape):
            replace_head(net, int(shapes[key][0]))


__all__ = ["FORMAT_VERSION", "MAX_COMPRESSION_RATIO", "MAX_META_BYTES", "load", "save"]
