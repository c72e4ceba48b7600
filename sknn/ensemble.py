"""Deep ensembles: several networks that differ only in their seed, trained in one pass.

Averaging the probabilities (or predictions) of networks trained from different random
initialisations and shuffles is a simple, strong way to gain accuracy and better
calibrated probabilities (Lakshminarayanan et al., 2017). The members share an
architecture, so :func:`~sknn.model_selection.fit_stacked` trains them together.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
)
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sknn.estimators import MLPClassifier, MLPRegressor
from sknn.model_selection._stacking import fit_stacked
from sknn.utils._compat import HasMethods, Interval, _fit_context


class _DeepEnsemble(MetaEstimatorMixin, BaseEstimator):
    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator=None, n_estimators: int = 5, *, random_state=None,
                 verbose: int = 0) -> None:  # fmt: skip
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.verbose = verbose

    def _validate(self, X, y="no_validation", *, reset: bool):
        kwargs = dict(accept_sparse=["csr", "csc", "coo"], reset=reset)
        kwargs["dtype"] = [np.float64, np.float32]
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, **kwargs)
        return validate_data(self, X, y, multi_output=True, y_numeric=self._y_numeric,
                             **kwargs)  # fmt: skip

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit ``n_estimators`` copies of ``estimator`` with different seeds, in one pass.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, passed to every member.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        X, y = self._validate(X, y, reset=True)
        base = self._default() if self.estimator is None else self.estimator
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_estimators)
        members = [clone(base).set_params(random_state=int(s)) for s in seeds]
        self.estimators_ = fit_stacked(
            members, X, y, sample_weight=sample_weight, verbose=self.verbose
        )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base = self._default() if self.estimator is None else self.estimator
        member = base.__sklearn_tags__()
        tags.input_tags.sparse = member.input_tags.sparse
        tags.non_deterministic = member.non_deterministic
        return tags


class DeepEnsembleClassifier(ClassifierMixin, _DeepEnsemble):
    """Average the class probabilities of networks trained with different seeds.

    The members are clones of ``estimator`` whose ``random_state`` is drawn from this
    ensemble's ``random_state``; they differ in initialisation, shuffling and dropout,
    and are trained together in stacked passes.

    Parameters
    ----------
    estimator : sknn classifier, default=None
        The member network (any sknn classifier; :class:`~sknn.MLPClassifier` when
        ``None``).
    n_estimators : int, default=5
        Number of members.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds.
    verbose : int, default=0
        1 prints how the members were trained (passes, memory); 2 also their epochs.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    DeepEnsembleRegressor : The regressor.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.ensemble import DeepEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = MLPClassifier((16,), learning_rate_init=0.01, max_iter=100)
    >>> ens = DeepEnsembleClassifier(net, n_estimators=3, random_state=0).fit(X, y)
    >>> len(ens.estimators_), ens.score(X, y) > 0.9
    (3, True)
    """

    _y_numeric = False

    @staticmethod
    def _default():
        return MLPClassifier()

    @property
    def classes_(self) -> np.ndarray:
        """Class labels, as seen by the members."""
        check_is_fitted(self, "estimators_")
        return self.estimators_[0].classes_

    def predict_proba(self, X) -> np.ndarray:
        """Mean of the members' class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimators_")
        X = self._validate(X, reset=False)
        return np.mean([m.predict_proba(X) for m in self.estimators_], axis=0)

    def predict(self, X) -> np.ndarray:
        """Class with the highest mean probability (each label above 0.5 if multilabel).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        proba = self.predict_proba(X)
        if self.estimators_[0]._targets_.target_type == "multilabel-indicator":
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class DeepEnsembleRegressor(RegressorMixin, _DeepEnsemble):
    """Average the predictions of networks trained with different seeds.

    Parameters
    ----------
    estimator : sknn regressor, default=None
        The member network (:class:`~sknn.MLPRegressor` when ``None``).
    n_estimators : int, default=5
        Number of members.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds.
    verbose : int, default=0
        1 prints how the members were trained (passes, memory); 2 also their epochs.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    DeepEnsembleClassifier : The classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import scale
    >>> from sknn import MLPRegressor
    >>> from sknn.ensemble import DeepEnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> net = MLPRegressor((16,), learning_rate_init=0.01, max_iter=50)
    >>> ens = DeepEnsembleRegressor(net, n_estimators=3, random_state=0).fit(scale(X), y)
    >>> ens.predict(scale(X)).shape
    (442,)
    """

    _y_numeric = True

    @staticmethod
    def _default():
        return MLPRegressor()

    def predict(self, X) -> np.ndarray:
        """Mean of the members' predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self, "estimators_")
        X = self._validate(X, reset=False)
        return np.mean([m.predict(X) for m in self.estimators_], axis=0)
