"""Export a fitted estimator, with its output decoding, to an ONNX file.

The ONNX graph holds the whole prediction path of :meth:`predict` and
:meth:`predict_proba` after input validation: the network in evaluation mode, then the
decoding that scikit-learn users see. Classifiers output ``label`` (the original class
labels) and ``probabilities``; regressors output ``variable`` (targets on their original
scale: the target standardisation is undone, the Poisson link applied). The names follow
skl2onnx's, so serving code written for converted scikit-learn models reads these too.
"""

from __future__ import annotations

import copy
import io
import os
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sknn._version import __version__

__all__ = ["export_onnx"]

_EXTRA = "pip install 'sknn[onnx]'"


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"export_onnx needs the onnx package; install it with {_EXTRA}."
        ) from exc
    return onnx


class _Prepare(nn.Module):
    """What ``predict`` does to the input before the network: the cast to the
    network's precision (``uint8`` divided by 255 where the estimator does it) and
    the reshape of each sample to the network's layout."""

    def __init__(self, dtype: torch.dtype, scale_uint8: bool, shape) -> None:
        super().__init__()
        self.dtype = dtype
        self.scale_uint8 = scale_uint8
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8 and self.scale_uint8:
            x = x.to(self.dtype) / 255
        elif x.dtype != self.dtype:
            x = x.to(self.dtype)
        if self.shape is not None:
            x = x.reshape(x.shape[0], *self.shape)
        return x


class _Served(nn.Module):
    """Input preparation, then the network and its output decoding."""

    def __init__(self, prepare: _Prepare, graph: nn.Module) -> None:
        super().__init__()
        self.prepare = prepare
        self.head = graph  # not "graph": torch.export's GraphModule has one

    def forward(self, x: torch.Tensor):
        return self.head(self.prepare(x))


def _graph(estimator, dtype: torch.dtype) -> tuple[nn.Module, list[str], list | None]:
    """The module to export, its output names and the string labels (if any)."""
    module = copy.deepcopy(estimator.module_).to(device="cpu", dtype=dtype).eval()
    return estimator._targets_.export_head(module, dtype)


def _sample_shape(estimator) -> tuple[int, ...]:
    """Shape of one sample as the network reads it (from the fit-time facts)."""
    return tuple(int(s) for s in estimator._meta_["input_shape"])


def _is_sequence_model(estimator) -> bool:
    return "n_step_features" in getattr(estimator, "_meta_", {})


def _scales_uint8(estimator) -> bool:
    """Whether ``predict`` divides ``uint8`` input by 255 (images and sequences)."""
    return type(estimator)._scales_uint8


_INPUT_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "uint8": torch.uint8,
}


def _input_spec(estimator, input_shape, seq: bool):
    """The graph's input sample shape and the reshape to the network's, if any."""
    sample = _sample_shape(estimator)
    if input_shape is None:
        return sample, None
    try:
        given = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        given = ()
    size, want = int(np.prod(given)) if given else 0, int(np.prod(sample))
    if not given or min(given) < 1 or (size % sample[-1] if seq else size != want):
        raise ValueError(
            f"input_shape must be a tuple of positive sizes holding one sample of "
            f"{type(estimator).__name__} ({want} values"
            + (f", a multiple of {sample[-1]} features per step" if seq else "")
            + f", read in C order as {sample}); got {input_shape!r}."
        )
    return given, ((-1, sample[-1]) if seq else sample)


def export_onnx(
    estimator,
    path: str | os.PathLike,
    *,
    batch_size: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    input_dtype: str | None = None,
    dtype: str = "float32",
    opset: int | None = None,
    dynamo: bool = False,
    verify: bool = True,
) -> str:
    """Export a fitted sknn estimator, with its output decoding, to an ONNX file.

    The graph takes the array the network reads and returns what :meth:`predict`
    (and :meth:`predict_proba`) return, so a serving process needs ONNX Runtime
    only, neither torch nor sknn.

    * **Input** ``"X"``: by default ``float32`` in the network's layout:
      ``(n, n_features)`` for the MLP and :class:`~sknn.NeuralNetClassifier` on
      tables, ``(n, C, H, W)`` or ``(n, C, T)`` for the CNN (its ``input_shape_``),
      ``(n, T, F)`` for the RNN, whose time axis ``T`` is dynamic. ``input_shape``
      and ``input_dtype`` make the graph do what ``predict`` does to other inputs:
      reshape each sample (tables of images or sequences, ``(n, H, W)``
      one-channel images), cast, and divide ``uint8`` images and sequences by 255
      (sknn's estimators scale their inputs in no other way).
    * **Classifiers** output ``"label"``, the original class labels (``int64`` for
      integer labels, ``float64`` for float labels, ``bool`` for booleans and strings
      for string labels, through an ONNX-ML ``LabelEncoder`` node; a 0/1 ``int64``
      matrix for multilabel targets), and ``"probabilities"``, ``(n, n_classes)``.
    * **Regressors** output ``"variable"``: the targets on their original scale,
      ``(n,)`` for one target and ``(n, n_outputs)`` for several.

    What cannot be exported: ragged sequences as one batch (the graph has no lengths
    input; run each sequence as a batch of one, or group sequences of equal length:
    the results equal ``predict``'s), sparse input (densify it first; the graph
    takes dense arrays) and modules that ``torch.onnx`` cannot trace (a clear
    ``ValueError`` names the module; try ``dynamo=True``). Scikit-learn steps
    before the estimator in a pipeline are not part of the graph.

    Parameters
    ----------
    estimator : sknn estimator
        A fitted MLP, CNN, RNN or NeuralNet classifier or regressor.
    path : str or path-like
        Destination file (by convention ending in ``.onnx``).
    batch_size : int or None, default=None
        ``None`` leaves the batch axis dynamic (any number of rows); an int fixes it,
        which some accelerators' runtimes prefer.
    input_shape : tuple of int or None, default=None
        Shape of one sample as the graph receives it, reshaped (C order) to the
        network's, e.g. ``(8, 8)`` for one-channel images or ``(64,)`` for their
        flattened table. For an RNN the values are read as steps of ``F`` features
        (``(T,)`` for univariate tables) and the length is fixed. ``None`` is the
        network's own layout.
    input_dtype : {"float32", "float64", "uint8"} or None, default=None
        Element type of the graph's input, cast to ``dtype`` inside the graph;
        ``"uint8"`` input is divided by 255 for the CNN and RNN, as ``predict``
        does. ``None`` is ``dtype``.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the graph's weights, input and float outputs. A network fitted
        in float64 is exported in float32 by default, since ONNX Runtime's CPU
        kernels for convolutions and recurrent cells are float32 only; ``"float64"``
        suits MLPs fitted in float64.
    opset : int or None, default=None
        ONNX opset version; ``None`` is torch's default.
    dynamo : bool, default=False
        Use torch's ``torch.export``-based exporter (needs ``onnxscript``) instead of
        the TorchScript-based one. The TorchScript exporter is the default because it
        exports sknn's recurrent networks tens of times faster, with a dynamic time
        axis; the ``torch.export``-based one fixed their time axis (torch 2.13;
        ``benchmarks/bench_export.py`` measures both).
    verify : bool, default=True
        Run the exported graph in ONNX Runtime (when installed) on a random batch
        of another size (and, for an RNN, another length) than the one traced, and
        compare its float outputs with the network's. This catches modules whose
        Python control flow depends on their input's values or shape, which tracing
        silently fixes, and graphs ONNX Runtime cannot run; either raises a
        ``ValueError``. ``False`` skips the check (for other runtimes).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ImportError
        When the ``onnx`` package is missing (``pip install 'sknn[onnx]'``).
    ValueError
        When the module cannot be exported, the labels have no ONNX type, or the
        exported graph fails the ``verify`` check.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier, export_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> names = np.array(["setosa", "versicolor", "virginica"])[y]
    >>> clf = MLPClassifier((16,), max_iter=50, random_state=0).fit(X, names)
    >>> path = export_onnx(clf, os.path.join(tempfile.mkdtemp(), "iris.onnx"))
    >>> session = ort.InferenceSession(path)
    >>> label, proba = session.run(None, {"X": X[:3]})
    >>> label.tolist() == clf.predict(X[:3]).tolist()
    True
    >>> bool(np.allclose(proba, clf.predict_proba(X[:3]), atol=1e-5))
    True
    """
    from sknn.base import BaseNeuralNet

    if not isinstance(estimator, BaseNeuralNet):
        raise TypeError(
            f"export_onnx exports sknn estimators; got {type(estimator).__name__}. "
            "For a Pipeline, export its final sknn step and apply (or convert) the "
            "steps before it separately."
        )
    check_is_fitted(estimator, "module_")
    meta = getattr(estimator, "_meta_", None) or {}
    if meta.get("table") is not None:
        raise ValueError(
            f"This {type(estimator).__name__} was fitted on a raw DataFrame: its "
            "column encoding (categories, missing values, standardisation) runs in "
            "pandas and is not part of an ONNX graph. To export, fit on arrays "
            "prepared by scikit-learn steps (a ColumnTransformer with a "
            "OneHotEncoder) and convert those steps with skl2onnx."
        )
    if meta.get("input_names"):
        raise ValueError(
            f"This {type(estimator).__name__} was fitted on several inputs "
            f"{list(meta['input_names'])}; export_onnx exports networks with one "
            "input X. Export the module itself with torch.onnx.export."
        )
    if batch_size is not None and (
        not isinstance(batch_size, Integral) or isinstance(batch_size, bool)
    ):
        raise ValueError(f"batch_size must be None or an int >= 1; got {batch_size!r}.")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be None or an int >= 1; got {batch_size!r}.")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")
    if input_dtype is not None and input_dtype not in _INPUT_DTYPES:
        raise ValueError(
            f"input_dtype must be None or one of {sorted(_INPUT_DTYPES)}; got "
            f"{input_dtype!r}."
        )
    onnx = _require_onnx()

    tdtype = _INPUT_DTYPES[dtype]
    seq = _is_sequence_model(estimator)
    sample, reshape = _input_spec(estimator, input_shape, seq)
    graph, outputs, strings = _graph(estimator, tdtype)
    prepare = _Prepare(tdtype, _scales_uint8(estimator), reshape)
    graph = _Served(prepare, graph).eval()
    # Two rows, so no size-1 axis is mistaken for a constant.
    example = torch.zeros(
        batch_size or 2, *sample, dtype=_INPUT_DTYPES[input_dtype or dtype]
    )
    axes = {} if batch_size is not None else {0: "batch"}
    if seq and input_shape is None:
        axes[1] = "time"
    name = type(estimator.module_).__name__
    try:
        proto = _export(graph, example, outputs, axes, opset=opset, dynamo=dynamo)
    except ImportError:
        raise
    except Exception as exc:
        raise ValueError(
            f"torch.onnx could not export the module {name} of "
            f"{type(estimator).__name__}: {type(exc).__name__}: "
            f"{str(exc).rstrip('.')}." + ("" if dynamo else " Try dynamo=True.")
        ) from exc
    if strings is not None:
        _decode_strings(onnx, proto, strings)
    _add_metadata(proto, estimator, sample, seq and input_shape is None)
    onnx.checker.check_model(proto)
    if verify:
        shape = (
            (batch_size or 3, sample[0] + 1, *sample[1:])
            if axes.get(1) == "time"
            else (batch_size or 3, *sample)
        )
        _verify(proto, graph, shape, example.dtype, name)
    path = os.fspath(path)
    onnx.save(proto, path)
    return path


def _verify(proto, graph: nn.Module, shape, dtype: torch.dtype, name: str) -> None:
    """Compare the ONNX graph with the torch graph on a random batch."""
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - depends on the environment
        return
    rng = np.random.default_rng(0)
    if dtype == torch.uint8:
        x = rng.integers(0, 256, size=shape).astype(np.uint8)
    else:
        x = rng.normal(size=shape).astype(torch.empty(0, dtype=dtype).numpy().dtype)
    try:
        session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        got = session.run(None, {"X": x})
    except Exception as exc:
        raise ValueError(
            f"ONNX Runtime cannot run the graph exported from {name}: "
            f"{str(exc).strip()[:500]} (dtype='float32' is what its CPU kernels all "
            "support; verify=False skips this check)."
        ) from exc
    with torch.no_grad():
        want = graph(torch.as_tensor(x))
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        w = w.numpy()
        if w.dtype.kind != "f":
            continue  # labels follow from the scores compared here
        tol = 1e-3 * max(1.0, float(np.abs(w).max(initial=0.0)))
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-3, atol=tol):
            raise ValueError(
                f"The graph exported from {name} does not reproduce it on a batch of "
                f"shape {shape}: the module's Python control flow may depend on its "
                "input's values or shape, which tracing fixes. Make the forward pass "
                "branch-free, or try dynamo=True."
            )


def _export(graph, example, outputs, axes, *, opset, dynamo):
    onnx = _require_onnx()
    names = {"input_names": ["X"], "output_names": outputs}
    if dynamo:
        dims = {i: torch.export.Dim(n) for i, n in axes.items()} or None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                (example,),
                dynamo=True,
                dynamic_shapes=(dims,),
                opset_version=opset,
                verbose=False,
                **names,
            )
        return program.model_proto
    buffer = io.BytesIO()
    dynamic = {"X": axes, **{o: {0: "batch"} for o in outputs if 0 in axes}}
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice, and tracer warnings about
        # shapes that are constant by construction (one sample's shape).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            dynamic_axes=dynamic or None,
            **names,
        )
    return onnx.load_from_string(buffer.getvalue())


def _decode_strings(onnx, proto, strings: list[str]) -> None:
    """Append an ONNX-ML ``LabelEncoder``: class index (int64) -> string label."""
    from onnx import TensorProto, helper

    g = proto.graph
    out = next(o for o in g.output if o.name == "label")
    shape = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    for node in g.node:
        node.output[:] = ["label_index" if o == "label" else o for o in node.output]
    g.node.append(
        helper.make_node(
            "LabelEncoder",
            ["label_index"],
            ["label"],
            domain="ai.onnx.ml",
            keys_int64s=list(range(len(strings))),
            values_strings=strings,
            default_string="",
        )
    )
    new = helper.make_tensor_value_info("label", TensorProto.STRING, shape)
    index = list(g.output).index(out)
    g.output.remove(out)
    g.output.insert(index, new)
    if not any(op.domain == "ai.onnx.ml" for op in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("ai.onnx.ml", 2))


def _add_metadata(proto, estimator, sample: tuple[int, ...], seq: bool) -> None:
    layout = ("batch", "time", sample[1]) if seq else ("batch", *sample)
    meta = {
        "sknn_version": __version__,
        "estimator": type(estimator).__name__,
        "input_layout": repr(layout),
    }
    if hasattr(estimator, "classes_"):
        meta["classes"] = repr(np.asarray(estimator.classes_).tolist())
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
