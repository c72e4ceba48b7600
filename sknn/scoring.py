"""The validation rows' predictions at each epoch's end, and scikit-learn scorers on them.

Whenever held-out rows are scored (``early_stopping=True``, a callback that monitors a
``valid_*`` metric, or an ``eval_set``), the trainer exposes them to callbacks as
``trainer.validation``, a :class:`ValidationPredictions`. The estimators' ``scoring``
parameter (scikit-learn scorer names or callables) is evaluated on it, and so is an
:class:`~sknn.callbacks.EarlyStopping` that monitors ``valid_<scorer name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.metrics import get_scorer
from sklearn.utils.metaestimators import available_if

__all__ = [
    "ValidationPredictions",
    "check_scoring",
    "validation_metrics",
    "wants_rows",
]


class ValidationPredictions:
    """The validation rows' targets and the network's predictions after an epoch.

    Nothing is copied to the host until it is asked for: :meth:`predict` and
    :meth:`predict_proba` decode the network's output as the estimator's own methods
    do (once per epoch, then cached), so a callback that reads nothing costs nothing.
    The object also stands in for the fitted estimator in scikit-learn scorers:
    ``view.score(scorer)`` calls ``scorer(view, X, y_true)`` with the validation rows
    ``X`` (as they were given to ``fit``, when the estimator holds them), and
    ``predict`` / ``predict_proba`` of those rows (or of ``None``) are the cached
    predictions, while any other rows are computed by the estimator.

    Parameters
    ----------
    estimator : sknn estimator
        The estimator being fitted (its target handler decodes the output; its
        ``classes_`` and tags are the scorers').
    output : torch.Tensor
        The network's raw output on the validation rows (on its device).
    y_true : ndarray
        The validation rows' targets, as they were given to ``fit``.
    sample_weight : ndarray or None
        Their weights (``sample_weight`` times ``class_weight``), if any.
    X : array-like, DataFrame, MultiInput or None, default=None
        The validation rows as they were given to ``fit`` (``None`` where they were
        not kept: only callable scorers receive them).

    Attributes
    ----------
    output : torch.Tensor
        The raw output (logits for classifiers, scaled values for regressors).
    y_true : ndarray
        The targets.
    sample_weight : ndarray or None
        The weights.
    X : array-like, DataFrame, MultiInput or None
        The validation rows (or ``None``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.metrics import f1_score
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import Callback
    >>> class F1(Callback):
    ...     requires_validation = True  # hold out validation_fraction of the rows
    ...     def on_epoch_end(self, trainer, record):
    ...         v = trainer.validation
    ...         record["valid_f1"] = f1_score(v.y_true, v.predict(), average="macro")
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=5, random_state=0, callbacks=[F1()]).fit(X, y)
    >>> 0 <= clf.history_[-1]["valid_f1"] <= 1
    True
    """

    def __init__(
        self,
        estimator: Any,
        output: torch.Tensor,
        y_true: np.ndarray,
        sample_weight: np.ndarray | None = None,
        X: Any = None,
    ) -> None:
        self._estimator = estimator
        self.output = output
        self.y_true = y_true
        self.sample_weight = sample_weight
        self.X = X
        self._cache: dict[str, np.ndarray] = {}

    @property
    def classes_(self) -> np.ndarray:
        """The estimator's classes (classifiers only)."""
        return self._estimator.classes_

    def _own_rows(self, X: Any) -> bool:
        """Whether ``X`` names the validation rows (``None`` or the very object)."""
        return X is None or X is self.X

    def predict(self, X: Any = None) -> np.ndarray:
        """The estimator's predictions for the validation rows, or for ``X``.

        Parameters
        ----------
        X : array-like or None, default=None
            ``None`` or the validation rows (:attr:`X`): the epoch's cached
            predictions; any other rows: the estimator's ``predict(X)`` with the
            current weights.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        if not self._own_rows(X):
            return self._estimator.predict(X)
        if "predict" not in self._cache:
            est = self._estimator
            self._cache["predict"] = est._targets_.predict(
                self.output, est._output_dtype()
            )
        return self._cache["predict"]

    @available_if(lambda self: hasattr(self._estimator._targets_, "predict_proba"))
    def predict_proba(self, X: Any = None) -> np.ndarray:
        """The class probabilities of the validation rows, or of ``X``.

        Parameters
        ----------
        X : array-like or None, default=None
            ``None`` or the validation rows (:attr:`X`): the epoch's cached
            probabilities; any other rows: the estimator's ``predict_proba(X)``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if not self._own_rows(X):
            return self._estimator.predict_proba(X)
        if "proba" not in self._cache:
            est = self._estimator
            self._cache["proba"] = est._targets_.predict_proba(
                self.output, est._output_dtype()
            )
        return self._cache["proba"]

    def score(self, scoring: str | Callable) -> float:
        """A scikit-learn scorer's value on the validation rows (weighted where
        they are).

        Parameters
        ----------
        scoring : str or callable
            A scorer name (:func:`sklearn.metrics.get_scorer_names`) or a callable
            ``scorer(estimator, X, y)``; it receives this object as ``estimator``
            and the validation rows :attr:`X` (``None`` where they were not kept).

        Returns
        -------
        float
            Greater is better, as for every scikit-learn scorer.
        """
        scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
        kwargs = (
            {} if self.sample_weight is None else {"sample_weight": self.sample_weight}
        )
        return float(scorer(self, self.X, self.y_true, **kwargs))

    def __sklearn_tags__(self):
        return self._estimator.__sklearn_tags__()


def check_scoring(scoring: Any) -> dict[str, Any]:
    """The scorers that ``scoring`` asks for, keyed by the record name they fill.

    A single scorer (a name or a callable) becomes ``valid_score`` (what
    ``early_stopping`` and ``validation_scores_`` follow); a name is recorded as
    ``valid_<name>`` too. Several (a list or tuple of names, or a dict of names to
    names or callables) are each recorded as ``valid_<name>``. ``None`` and
    ``"loss"`` ask for none (``"loss"`` is handled on the device).

    Raises
    ------
    ValueError
        For an unknown scorer name or a malformed collection.

    Examples
    --------
    >>> from sknn.scoring import check_scoring
    >>> sorted(check_scoring("f1_macro"))
    ['valid_f1_macro', 'valid_score']
    >>> sorted(check_scoring(["accuracy", "roc_auc"]))
    ['valid_accuracy', 'valid_roc_auc']
    """
    if scoring is None or (isinstance(scoring, str) and scoring == "loss"):
        return {}
    if isinstance(scoring, str):
        scorer = get_scorer(scoring)
        return {"valid_score": scorer, f"valid_{scoring}": scorer}
    if callable(scoring):
        return {"valid_score": scoring}
    if isinstance(scoring, (list, tuple)):
        if not all(isinstance(s, str) for s in scoring) or len(set(scoring)) != len(
            scoring
        ):
            raise ValueError(
                "scoring as a list or tuple must hold unique scorer names; got "
                f"{scoring!r}."
            )
        scoring = {name: name for name in scoring}
    if isinstance(scoring, dict) and scoring:
        out = {}
        for name, scorer in scoring.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(
                    "scoring's keys name the recorded metrics (valid_<name>) and must "
                    f"be identifiers; got {name!r}."
                )
            if name in ("score", "loss"):
                raise ValueError(
                    f"scoring may not name a metric {name!r}: valid_{name} is "
                    "recorded already."
                )
            if isinstance(scorer, str):
                scorer = get_scorer(scorer)
            elif not callable(scorer):
                raise ValueError(
                    f"scoring[{name!r}] must be a scorer name or a callable "
                    f"scorer(estimator, X, y); got {type(scorer).__name__}."
                )
            out[f"valid_{name}"] = scorer
        return out
    raise ValueError(
        "scoring must be None, 'loss', a scorer name, a callable, or a list, tuple "
        f"or dict of them; got {scoring!r}."
    )


def wants_rows(scoring: Any, *, held: bool = True) -> bool:
    """Whether ``scoring`` holds a callable, which receives the validation rows as
    ``X``.

    Scorer names read only the cached predictions, so the rows are kept only for
    callables, which may compute anything from them.

    Parameters
    ----------
    scoring : str, callable, list, tuple, dict or None
        The estimator's ``scoring``.
    held : bool, default=True
        Whether the rows given to ``fit`` can be taken (``False`` for a Dataset
        streamed batch by batch).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        When a callable asks for rows that ``fit`` does not hold.

    Examples
    --------
    >>> from sknn.scoring import wants_rows
    >>> wants_rows("accuracy"), wants_rows({"mine": lambda est, X, y: 0.0})
    (False, True)
    """
    values = scoring.values() if isinstance(scoring, dict) else [scoring]
    if not any(callable(v) for v in values):
        return False
    if not held:
        raise ValueError(
            "A callable in scoring receives the validation rows as X, and a Dataset "
            "streamed batch by batch keeps no rows in memory. Use scorer names "
            "(they read the validation predictions), pass the rows as arrays, or "
            "set data_placement='device'."
        )
    return True


def validation_metrics(
    scorers: dict[str, Any],
) -> Callable[[ValidationPredictions], dict[str, float]]:
    """The per-epoch metrics of :func:`check_scoring`'s scorers (each scorer is
    evaluated once, whatever the number of names it fills).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn import MLPRegressor
    >>> from sknn.scoring import (
    ...     ValidationPredictions, check_scoring, validation_metrics)
    >>> reg = MLPRegressor(max_iter=2, random_state=0).fit([[0.0], [1.0]], [0.0, 1.0])
    >>> view = ValidationPredictions(reg, torch.zeros(2, 1), np.array([0.0, 2.0]))
    >>> validation_metrics(check_scoring("neg_mean_absolute_error"))(view)["valid_score"]
    -1.0
    """

    def metrics(view: ValidationPredictions) -> dict[str, float]:
        values: dict[int, float] = {}
        out = {}
        for name, scorer in scorers.items():
            if id(scorer) not in values:
                values[id(scorer)] = view.score(scorer)
            out[name] = values[id(scorer)]
        return out

    return metrics
