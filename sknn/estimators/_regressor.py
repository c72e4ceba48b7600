"""What every sknn regressor shares: target scaling, regression losses, 1-D outputs."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from sknn.data.targets import RegressionTargetScaler
from sknn.training import losses


class NeuralNetRegressorMixin(RegressorMixin):
    """Regression behaviour for :class:`~sknn.base.BaseNeuralNet` subclasses."""

    def _y_check(self) -> dict:
        return {"y_numeric": True}

    def _prepare_y_array(self, y):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return y

    def _encode_targets(self, y, *, first, incremental, classes, sample_weight):
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if self.loss == "poisson" and np.any(y2 < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson "
                "regression."
            )
        if first:
            self.n_outputs_ = y2.shape[1]
            self._scaler = RegressionTargetScaler(
                scale=self.scale_target, positive=self.loss == "poisson"
            ).fit(y2, sample_weight=sample_weight)
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y2.shape[1]} outputs but this estimator was fitted with "
                f"{self.n_outputs_}."
            )
        return self._scaler.transform(y2)

    def _encoder_transform(self, y):
        return self._scaler.transform(y.reshape(-1, 1) if y.ndim == 1 else y)

    def _combine_weights(self, sample_weight, y):
        return sample_weight

    def _n_net_outputs(self) -> int:
        return self.n_outputs_

    def _target_dtype(self):
        return None

    def _stratify_labels(self, y_enc):
        return None

    def _loss_and_score(self):
        return losses.REGRESSION_LOSSES[self.loss]

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
        out = self._forward(X).double()
        if self.loss == "poisson":
            out = torch.exp(out)
        pred = self._scaler.inverse_transform(out.cpu().numpy())
        pred = pred.astype(self._output_dtype(), copy=False)
        return pred.ravel() if pred.shape[1] == 1 else pred
