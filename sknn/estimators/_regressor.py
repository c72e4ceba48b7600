"""What every sknn regressor shares: its targets (:class:`~sknn.targets.RegressionTargets`:
scaling, regression losses, 1-D outputs) and ``partial_fit``."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from sknn.targets import RegressionTargets
from sknn.utils._compat import _fit_context


class NeuralNetRegressorMixin(RegressorMixin):
    """Regression behaviour for :class:`~sknn.base.BaseNeuralNet` subclasses."""

    _targets_type = RegressionTargets

    def _new_targets(self) -> RegressionTargets:
        return RegressionTargets(loss=self.loss, scale_target=self.scale_target)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predict targets on their original scale.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when the model has a single output; in the precision the network
            was fitted in (float32 input gives float32, as in scikit-learn).
        """
        check_is_fitted(self, "module_")
        return self._targets_.predict(self._forward(X), self._output_dtype())
