"""Target handlers: everything an estimator does with its targets, declared in one place.

A classifier and a regressor differ in what they do with ``y``, and in nothing else the
fit path needs to know. :class:`TargetHandler` declares that difference once:

=====================  ==============================================================
``prepare``            ``y`` as an array (1-D for one column), before validation
``encode``             learn the classes / scaling on a first fit, check later calls,
                       return what the network is trained on
``transform``          encode more targets (a validation set) the same way
``sample_weight``      the per-row weights of the loss (``class_weight`` folded in)
``n_outputs``          the width of the network's output
``dtype``              the torch dtype of the encoded targets (``None``: the network's)
``stratify``           the labels a validation split is stratified on (or ``None``)
``losses``             the engine's default loss and validation score
``criterion_target``   what a user's ``criterion`` learns (the kind of target)
``attributes``         the fitted attributes scikit-learn users read
``predict``            the network's output decoded into predictions
``export_head``        the same decoding as a torch module, for ONNX
``state``/``restore``  the fitted state model files and pickles keep
=====================  ==============================================================

Estimators name their handler with ``_new_targets()`` (a configured, unfitted
handler); the fit plan (:mod:`sknn.plan`) fits it and the estimator keeps it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d
from torch import nn

from sknn.data.targets import ClassTargetEncoder, RegressionTargetScaler
from sknn.training import losses

__all__ = ["ClassTargets", "RegressionTargets", "TargetHandler"]


class TargetHandler:
    """The declared interface between an estimator's targets and the rest of sknn.

    Subclasses implement every method; see the module docstring for what each is for.
    A handler is configured from the estimator's parameters, fitted by
    :meth:`encode` on a first fit, and then reused (with the configuration of the
    latest call) by later ``partial_fit`` / warm-started fits.
    """

    #: Whether ``validate_data`` must check ``y`` numeric.
    y_numeric: ClassVar[bool] = False
    #: The attribute name of the fitted state in model files and pickles.
    state_name: ClassVar[str] = ""
    #: The name of a loss parameter the handler optimises (``None``: its own).
    named_loss: str | None = None

    def prepare(self, y) -> np.ndarray:  # pragma: no cover - declared
        raise NotImplementedError

    def encode(self, y, *, previous=None, **context) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def transform(self, y) -> np.ndarray:  # pragma: no cover - declared
        raise NotImplementedError

    def sample_weight(self, sample_weight, y):
        """The loss's per-row weights: ``sample_weight`` unchanged by default."""
        return sample_weight

    @property
    def n_outputs(self) -> int:  # pragma: no cover - declared
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype | None:
        """The torch dtype of the encoded targets; ``None`` is the network's."""
        return None

    def stratify(self, y_encoded) -> np.ndarray | None:
        """Labels a validation split keeps the proportions of; ``None``: unstratified."""
        return None

    def losses(self) -> tuple:  # pragma: no cover - declared
        raise NotImplementedError

    @property
    def criterion_target(self) -> str:  # pragma: no cover - declared
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:  # pragma: no cover - declared
        raise NotImplementedError

    def predict(self, out: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - declared

    def export_head(self, module: nn.Module, dtype: torch.dtype):  # pragma: no cover
        raise NotImplementedError

    def needs_new_head(self, y) -> bool:  # pragma: no cover - declared
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """The fitted state, by the attribute name model files and pickles use."""
        return {self.state_name: self._fitted}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> TargetHandler:  # pragma: no cover
        raise NotImplementedError


def _one_column_to_1d(y: np.ndarray) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        return column_or_1d(y, warn=True)
    return y


# ----------------------------------------------------------------------- classifiers
class ClassTargets(TargetHandler):
    """Labels of any type: class indices (or a 0/1 matrix) to the network, log-loss.

    Parameters
    ----------
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.targets import ClassTargets
    >>> targets = ClassTargets()
    >>> targets.encode(np.array(["b", "a", "b"])).tolist()
    [1, 0, 1]
    >>> targets.attributes()["classes_"].tolist(), targets.n_outputs
    (['a', 'b'], 1)
    """

    state_name = "_encoder"

    def __init__(self, class_weight=None) -> None:
        self.class_weight = class_weight
        self._fitted: ClassTargetEncoder | None = None

    @property
    def encoder(self) -> ClassTargetEncoder:
        """The fitted :class:`~sknn.data.ClassTargetEncoder`."""
        return self._fitted

    @property
    def target_type(self) -> str:
        """``"binary"``, ``"multiclass"`` or ``"multilabel-indicator"``."""
        return self._fitted.target_type_

    @property
    def classes(self) -> np.ndarray:
        return self._fitted.classes_

    def prepare(self, y) -> np.ndarray:
        y = np.asarray(y) if not hasattr(y, "toarray") else y.toarray()
        return _one_column_to_1d(y)

    def encode(
        self,
        y,
        *,
        previous: ClassTargets | None = None,
        incremental: bool = False,
        classes=None,
        warm_start: bool = False,
        sample_weight=None,
    ) -> np.ndarray:
        """Fit the encoder (``previous is None``) or check ``y`` against the classes of
        ``previous``; return the encoded targets. The messages are scikit-learn's."""
        if previous is None:
            if incremental and classes is None and y.ndim == 1:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            if classes is None and y.ndim == 1 and len(unique_labels(y)) == 1:
                # One class: fitted as scikit-learn does; it is always predicted.
                classes = unique_labels(y)
            self._fitted = ClassTargetEncoder().fit(y, classes=classes)
            return self.transform(y)
        self._fitted = previous._fitted
        fitted = self.classes
        if incremental and classes is not None:
            if not np.array_equal(fitted, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to "
                    f"partial_fit, was: {fitted!r}"
                )
        if self.target_type != "multilabel-indicator":
            seen = unique_labels(y)
            if warm_start and not incremental and set(seen) != set(fitted):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in "
                    f"the previous call to fit. Previously got {fitted}, `y` has {seen}"
                )
            if not set(seen) <= set(fitted):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{fitted}. 'y' has {seen}."
                )
        return self.transform(y)

    def transform(self, y) -> np.ndarray:
        return self._fitted.transform(y)

    def sample_weight(self, sample_weight, y):
        if self.class_weight is None:
            return sample_weight
        cw = compute_sample_weight(self.class_weight, y).astype(np.float64)
        return cw if sample_weight is None else cw * sample_weight

    @property
    def n_outputs(self) -> int:
        return self._fitted.n_outputs_

    @property
    def dtype(self) -> torch.dtype | None:
        return torch.long if self.target_type == "multiclass" else None

    def stratify(self, y_encoded) -> np.ndarray | None:
        return y_encoded if y_encoded.ndim == 1 else None

    def losses(self) -> tuple:
        if self.target_type == "multiclass":
            return losses.softmax_cross_entropy, losses.accuracy_indices
        return losses.binary_cross_entropy, losses.accuracy_logits

    @property
    def criterion_target(self) -> str:
        return self.target_type.replace("-indicator", "")

    def attributes(self) -> dict[str, Any]:
        multiclass = self.target_type == "multiclass"
        return {
            "classes_": self.classes,
            "n_outputs_": self.n_outputs,
            "out_activation_": "softmax" if multiclass else "logistic",
        }

    @property
    def single_class(self) -> bool:
        """True when ``y`` had one class at fit (it is always predicted)."""
        return self.target_type == "binary" and len(self.classes) == 1

    def predict(self, out: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        """Labels, in the type they had in ``y`` (a 0/1 matrix for multilabel)."""
        if self.target_type == "multiclass":
            idx = out.argmax(dim=1)
        elif self.single_class:
            idx = torch.zeros(out.shape[0], dtype=torch.long)
        elif self.target_type == "binary":
            idx = (out[:, 0] > 0).long()
        else:
            return (out > 0).long().cpu().numpy()
        return self._fitted.inverse_transform(idx.cpu().numpy())

    def predict_proba(self, out: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        """Probability of each class (of each label, for multilabel)."""
        if self.target_type == "multiclass":
            proba = torch.softmax(out.double(), dim=1)
        elif self.single_class:
            proba = torch.ones(out.shape[0], 1, dtype=torch.float64)
        else:
            proba = torch.sigmoid(out.double())
            if self.target_type == "binary":
                proba = torch.cat([1 - proba, proba], dim=1)
        return proba.cpu().numpy().astype(dtype, copy=False)

    def export_head(self, module: nn.Module, dtype: torch.dtype):
        """``(graph, output names, string labels or None)`` for ONNX: the network,
        then ``label`` and ``probabilities``."""
        strings = classes = None
        if self.target_type != "multilabel-indicator":
            classes, strings = _class_tensor(np.asarray(self.classes))
        graph = _ClassifierGraph(module, self.target_type, classes)
        return graph, ["label", "probabilities"], strings

    def needs_new_head(self, y) -> bool:
        """Whether ``y`` (of a fine-tuning task) needs another output layer."""
        y = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
        multilabel = type_of_target(y) == "multilabel-indicator"
        was_multilabel = self.target_type == "multilabel-indicator"
        if multilabel or was_multilabel:
            return multilabel != was_multilabel or y.shape[1] != self.n_outputs
        return not set(unique_labels(y)) <= set(self.classes)

    @classmethod
    def restore(cls, state: dict[str, Any]) -> ClassTargets:
        """The handler of a fitted estimator's state (``state`` keeps its entries);
        ``ValueError`` when the encoder and the fitted attributes disagree."""
        encoder = state[cls.state_name]
        if not isinstance(encoder, ClassTargetEncoder) or not hasattr(
            encoder, "n_outputs_"
        ):
            raise ValueError("has a malformed target encoder")
        kind, n_classes = encoder.target_type_, len(encoder.classes_)
        same = (
            encoder.n_outputs_ == state.get("n_outputs_", encoder.n_outputs_)
            and _same_labels(state.get("classes_", encoder.classes_), encoder.classes_)
            and (
                kind == "multilabel-indicator"
                or _same_labels(encoder.classes_, encoder._encoder.classes_)
            )
            # One output per class (per label), one logit for two classes.
            and encoder.n_outputs_
            == {"multiclass": n_classes, "binary": 1}.get(kind, n_classes)
            and (kind != "binary" or n_classes <= 2)
        )
        if not same:
            raise ValueError("disagrees with itself on its classes")
        handler = cls()
        handler._fitted = encoder
        return handler


def _same_labels(a: Any, b: Any) -> bool:
    """Whether two label arrays hold the same labels in the same order."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    try:
        return bool(np.array_equal(a, b))
    except (TypeError, ValueError):
        return False


class _ClassifierGraph(nn.Module):
    """The network, then probabilities and label indices (or labels)."""

    def __init__(self, module: nn.Module, target_type: str, classes) -> None:
        super().__init__()
        self.module = module
        self.target_type = target_type
        self.register_buffer("classes", classes, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.module(x)
        if self.target_type == "multilabel-indicator":
            return (out > 0).long(), torch.sigmoid(out)
        if self.target_type == "binary":
            p = torch.sigmoid(out)
            proba = torch.cat([1 - p, p], dim=1)
            idx = (out[:, 0] > 0).long()
        else:
            proba = torch.softmax(out, dim=1)
            idx = out.argmax(dim=1)
        if self.classes is not None:
            return self.classes[idx], proba
        return idx, proba


def _class_tensor(classes: np.ndarray) -> tuple[torch.Tensor | None, list | None]:
    """The labels as a tensor the graph can index, or ``(None, strings)`` for string
    labels (decoded by an ONNX ``LabelEncoder`` node after export)."""
    kind = classes.dtype.kind
    if kind == "b":
        return torch.as_tensor(classes, dtype=torch.bool), None
    if kind in "iu":
        return torch.as_tensor(classes.astype(np.int64)), None
    if kind == "f":
        return torch.as_tensor(classes.astype(np.float64)), None
    if kind in "US" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return None, [str(c) for c in classes]
    raise ValueError(
        f"Cannot export class labels of dtype {classes.dtype} "
        f"({classes[:3].tolist()}...) to ONNX: labels must be all integers, all floats, "
        "all booleans or all strings."
    )


# ----------------------------------------------------------------------- regressors
class RegressionTargets(TargetHandler):
    """Numeric targets: standardised for the network, decoded back; regression losses.

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber", "poisson"}, \
default="squared_error"
        The loss (``"poisson"``: a log link, non-negative targets).
    scale_target : bool, default=True
        Standardise the targets (divide by their mean for ``"poisson"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.targets import RegressionTargets
    >>> targets = RegressionTargets()
    >>> targets.encode(np.array([1.0, 3.0])).ravel().tolist()
    [-1.0, 1.0]
    >>> import torch
    >>> targets.predict(torch.tensor([[0.0]]), np.dtype("float64")).tolist()
    [2.0]
    """

    y_numeric = True
    state_name = "_scaler"

    def __init__(self, loss: str = "squared_error", scale_target: bool = True) -> None:
        self.loss = self.named_loss = loss
        self.scale_target = scale_target
        self._fitted: RegressionTargetScaler | None = None
        self._n_outputs = 0

    @property
    def scaler(self) -> RegressionTargetScaler:
        """The fitted :class:`~sknn.data.RegressionTargetScaler`."""
        return self._fitted

    @property
    def poisson(self) -> bool:
        return self.loss == "poisson"

    def prepare(self, y) -> np.ndarray:
        return _one_column_to_1d(np.asarray(y))

    def encode(
        self,
        y,
        *,
        previous: RegressionTargets | None = None,
        sample_weight=None,
        **context,
    ) -> np.ndarray:
        """Fit the scaling (``previous is None``) or check the number of outputs
        against ``previous``; return the scaled 2-D targets."""
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if self.poisson and np.any(y2 < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson "
                "regression."
            )
        if previous is None:
            self._n_outputs = y2.shape[1]
            self._fitted = RegressionTargetScaler(
                scale=self.scale_target, positive=self.poisson
            ).fit(y2, sample_weight=sample_weight)
        else:
            self._fitted, self._n_outputs = previous._fitted, previous._n_outputs
            if y2.shape[1] != self._n_outputs:
                raise ValueError(
                    f"y has {y2.shape[1]} outputs but this estimator was fitted with "
                    f"{self._n_outputs}."
                )
        return self._fitted.transform(y2)

    def transform(self, y) -> np.ndarray:
        return self._fitted.transform(y.reshape(-1, 1) if y.ndim == 1 else y)

    @property
    def n_outputs(self) -> int:
        return self._n_outputs

    def losses(self) -> tuple:
        return losses.REGRESSION_LOSSES[self.loss]

    @property
    def criterion_target(self) -> str:
        return "values"

    def attributes(self) -> dict[str, Any]:
        return {
            "n_outputs_": self._n_outputs,
            "out_activation_": "exp" if self.poisson else "identity",
        }

    def predict(self, out: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        """Targets on their original scale; 1-D for a single output."""
        out = out.double()
        if self.poisson:
            out = torch.exp(out)
        pred = self._fitted.inverse_transform(out.cpu().numpy())
        pred = pred.astype(dtype, copy=False)
        return pred.ravel() if pred.shape[1] == 1 else pred

    def export_head(self, module: nn.Module, dtype: torch.dtype):
        """``(graph, ["variable"], None)`` for ONNX: the network, the link, the
        scaling undone."""
        graph = _RegressorGraph(
            module,
            torch.as_tensor(self._fitted.mean_, dtype=dtype),
            torch.as_tensor(self._fitted.scale_, dtype=dtype),
            exp=self.poisson,
            ravel=self._n_outputs == 1,
        )
        return graph, ["variable"], None

    def needs_new_head(self, y) -> bool:
        y = np.asarray(y)
        return (1 if y.ndim == 1 else y.shape[1]) != self._n_outputs

    @classmethod
    def restore(cls, state: dict[str, Any]) -> RegressionTargets:
        """The handler of a fitted estimator's state (``state`` keeps its entries);
        ``ValueError`` when the scaling and the fitted attributes disagree."""
        scaler = state[cls.state_name]
        if not isinstance(scaler, RegressionTargetScaler) or not hasattr(
            scaler, "mean_"
        ):
            raise ValueError("has a malformed target scaling")
        n_out = state.get("n_outputs_", len(scaler.mean_))
        if len(scaler.mean_) != n_out or len(scaler.scale_) != n_out:
            raise ValueError("disagrees with itself on its target scaling")
        exp = state.get("out_activation_") == "exp"
        handler = cls(loss="poisson" if exp else "squared_error")
        handler._fitted, handler._n_outputs = scaler, int(n_out)
        return handler


class _RegressorGraph(nn.Module):
    """The network, then the target scaling undone (and the Poisson link)."""

    def __init__(self, module, mean, scale, *, exp: bool, ravel: bool) -> None:
        super().__init__()
        self.module = module
        self.exp = exp
        self.ravel = ravel
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("scale", scale, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.module(x)
        if self.exp:
            out = torch.exp(out)
        out = out * self.scale + self.mean
        return out[:, 0] if self.ravel else out
