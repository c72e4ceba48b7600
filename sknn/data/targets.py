"""Target encoders: any label type in, class indices or scaled floats to the network."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import type_of_target, unique_labels


class ClassTargetEncoder(TransformerMixin, BaseEstimator):
    """Encode classification targets for the network and decode its predictions.

    Binary and multiclass labels (strings, ints, bools, ...) become class indices;
    a multilabel indicator matrix stays a 0/1 float matrix.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        The sorted labels (for multilabel, ``np.arange(n_labels)`` like scikit-learn).
    target_type_ : {"binary", "multiclass", "multilabel-indicator"}
    n_outputs_ : int
        Width of the network output: 1 for binary, the number of classes for
        multiclass, the number of labels for multilabel.

    Examples
    --------
    >>> from sknn.data import ClassTargetEncoder
    >>> enc = ClassTargetEncoder().fit(["b", "a", "b"])
    >>> enc.transform(["a", "b"]).tolist(), enc.inverse_transform([1, 0]).tolist()
    ([0, 1], ['b', 'a'])
    """

    def fit(self, y, classes=None) -> ClassTargetEncoder:
        """Learn the classes from ``y`` (or from ``classes``, as ``partial_fit`` does)."""
        y = np.asarray(y) if not hasattr(y, "toarray") else y.toarray()
        target_type = type_of_target(y, input_name="y")
        if target_type == "multilabel-indicator":
            self.target_type_ = target_type
            self.classes_ = np.arange(y.shape[1])
            self.n_outputs_ = y.shape[1]
            return self
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. Classifiers accept binary, "
                "multiclass or multilabel-indicator targets."
            )
        labels = unique_labels(y) if classes is None else np.asarray(classes)
        if classes is None and len(labels) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got 1 class "
                f"({labels[0]!r})."
            )
        self._encoder = LabelEncoder().fit(labels)
        self.classes_ = self._encoder.classes_
        self.target_type_ = "binary" if len(self.classes_) <= 2 else "multiclass"
        self.n_outputs_ = 1 if len(self.classes_) <= 2 else len(self.classes_)
        return self

    def transform(self, y) -> np.ndarray:
        """Return class indices (int64), or a float32 0/1 matrix for multilabel."""
        if self.target_type_ == "multilabel-indicator":
            y = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
            return y.astype(np.float32)
        y = np.asarray(y)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(
                f"y contains labels not seen when the classes were set: "
                f"{unknown.tolist()}; expected labels among {self.classes_.tolist()}."
            )
        return self._encoder.transform(y).astype(np.int64)

    def inverse_transform(self, indices) -> np.ndarray:
        """Map class indices (or a 0/1 matrix) back to the original labels."""
        if self.target_type_ == "multilabel-indicator":
            return np.asarray(indices).astype(int)
        return self.classes_[np.asarray(indices, dtype=np.int64)]


class RegressionTargetScaler(TransformerMixin, BaseEstimator):
    """Standardise regression targets so raw scales in the hundreds train well.

    Parameters
    ----------
    scale : bool, default=True
        Whether to scale at all (``False`` is the identity).
    positive : bool, default=False
        Keep targets non-negative by dividing by their mean instead of standardising
        (for the Poisson loss).

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_outputs,)

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data import RegressionTargetScaler
    >>> s = RegressionTargetScaler().fit(np.array([[100.0], [300.0]]))
    >>> s.transform(np.array([[100.0]])).ravel().tolist()
    [-1.0]
    >>> s.inverse_transform(np.array([[1.0]])).ravel().tolist()
    [300.0]
    """

    def __init__(self, scale: bool = True, positive: bool = False) -> None:
        self.scale = scale
        self.positive = positive

    def fit(self, y, sample_weight=None) -> RegressionTargetScaler:
        """Learn the (weighted) mean and standard deviation of each output."""
        y = np.asarray(y, dtype=np.float64)
        n_out = y.shape[1]
        if not self.scale:
            self.mean_, self.scale_ = np.zeros(n_out), np.ones(n_out)
            return self
        mean = np.average(y, axis=0, weights=sample_weight)
        if self.positive:
            self.mean_ = np.zeros(n_out)
            self.scale_ = np.where(mean > 0, mean, 1.0)
            return self
        var = np.average((y - mean) ** 2, axis=0, weights=sample_weight)
        std = np.sqrt(var)
        self.mean_ = mean
        self.scale_ = np.where(std > np.finfo(np.float64).eps * 1e3, std, 1.0)
        return self

    def transform(self, y) -> np.ndarray:
        """Scale ``y`` (2-D); float64 out (the engine casts to its dtype)."""
        return (np.asarray(y, dtype=np.float64) - self.mean_) / self.scale_

    def inverse_transform(self, y) -> np.ndarray:
        """Undo :meth:`transform` (float64 out)."""
        return np.asarray(y, dtype=np.float64) * self.scale_ + self.mean_
