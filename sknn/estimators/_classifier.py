"""What every sknn classifier shares: label encoding, log-loss, probabilities."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d

from sknn.data.targets import ClassTargetEncoder
from sknn.training import losses


class NeuralNetClassifierMixin(ClassifierMixin):
    """Classification behaviour for :class:`~sknn.base.BaseNeuralNet` subclasses."""

    def _y_check(self) -> dict:
        return {}

    def _prepare_y_array(self, y):
        y = np.asarray(y) if not hasattr(y, "toarray") else y.toarray()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return y

    def _encode_targets(self, y, *, first, incremental, classes, sample_weight):
        if incremental and classes is not None and not first:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to "
                    f"partial_fit, was: {self.classes_!r}"
                )
        if first:
            if incremental and classes is None and y.ndim == 1:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            if classes is None and y.ndim == 1 and len(unique_labels(y)) == 1:
                # One class: fitted as scikit-learn does; it is always predicted.
                classes = unique_labels(y)
            self._encoder = ClassTargetEncoder().fit(y, classes=classes)
            self.classes_ = self._encoder.classes_
            self.n_outputs_ = self._encoder.n_outputs_
            self.out_activation_ = (
                "softmax" if self._encoder.target_type_ == "multiclass" else "logistic"
            )
        elif self._encoder.target_type_ != "multilabel-indicator":
            seen = unique_labels(y)
            if self.warm_start and not incremental and set(seen) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in "
                    f"the previous call to fit. Previously got {self.classes_}, `y` "
                    f"has {seen}"
                )
            if not set(seen) <= set(self.classes_):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {seen}."
                )
        return self._encoder.transform(y)

    def _encoder_transform(self, y):
        return self._encoder.transform(y)

    def _combine_weights(self, sample_weight, y):
        class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return sample_weight
        cw = compute_sample_weight(class_weight, y).astype(np.float64)
        return cw if sample_weight is None else cw * sample_weight

    def _n_net_outputs(self) -> int:
        return self.n_outputs_

    def _target_dtype(self):
        if self._encoder.target_type_ == "multiclass":
            return torch.long
        return None

    def _stratify_labels(self, y_enc):
        return y_enc if y_enc.ndim == 1 else None

    def _loss_and_score(self):
        if self._encoder.target_type_ == "multiclass":
            return losses.softmax_cross_entropy, losses.accuracy_indices
        return losses.binary_cross_entropy, losses.accuracy_logits

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Target labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes that ``y`` may contain across calls. Required on the first
            call (except for multilabel indicator targets); a later call may repeat
            them, and other classes raise a ``ValueError``, as in scikit-learn.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, classes=classes
        )

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1 (for multilabel, each column is that label's probability),
            in the precision the network was fitted in (float32 input gives float32).
        """
        out = self._forward(X)
        if self.out_activation_ == "softmax":
            proba = torch.softmax(out.double(), dim=1)
        elif self._single_class():
            proba = torch.ones(out.shape[0], 1, dtype=torch.float64)
        else:
            proba = torch.sigmoid(out.double())
            if self._encoder.target_type_ == "binary":
                proba = torch.cat([1 - proba, proba], dim=1)
        return proba.cpu().numpy().astype(self._output_dtype(), copy=False)

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Computed as ``np.log(predict_proba(X))``, as in scikit-learn, so that the two
        agree where probabilities saturate (the most probable class is the same).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X) -> np.ndarray:
        """Predict class labels, in the type they had in ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels (1-D for single-output targets; a 0/1 matrix for multilabel).
        """
        check_is_fitted(self, "module_")
        out = self._forward(X)
        if self._encoder.target_type_ == "multiclass":
            idx = out.argmax(dim=1)
        elif self._single_class():
            idx = torch.zeros(out.shape[0], dtype=torch.long)
        elif self._encoder.target_type_ == "binary":
            idx = (out[:, 0] > 0).long()
        else:
            return (out > 0).long().cpu().numpy()
        return self._encoder.inverse_transform(idx.cpu().numpy())

    def _single_class(self) -> bool:
        """True when ``y`` had one class at fit (it is always predicted)."""
        return (
            self._encoder.target_type_ == "binary" and len(self._encoder.classes_) == 1
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
