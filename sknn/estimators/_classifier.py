"""What every sknn classifier shares: its targets (:class:`~sknn.targets.ClassTargets`),
``partial_fit`` with ``classes``, probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from sknn.targets import ClassTargets
from sknn.utils._compat import _fit_context


class NeuralNetClassifierMixin(ClassifierMixin):
    """Classification behaviour for :class:`~sknn.base.BaseNeuralNet` subclasses."""

    _targets_type = ClassTargets

    def _new_targets(self) -> ClassTargets:
        return ClassTargets(class_weight=self.class_weight)

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
        out = self._forward(X)  # checks that the estimator is fitted
        return self._targets_.predict_proba(out, self._output_dtype())

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
        return self._targets_.predict(self._forward(X), self._output_dtype())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
