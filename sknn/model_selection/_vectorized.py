"""Cross-validation and hyper-parameter search that train many networks in one pass.

Drop-ins for scikit-learn's :func:`~sklearn.model_selection.cross_validate`,
:func:`~sklearn.model_selection.cross_val_score`,
:class:`~sklearn.model_selection.GridSearchCV` and
:class:`~sklearn.model_selection.RandomizedSearchCV`: same signatures, same folds, same
results and ``cv_results_``. The (candidate, fold) fits whose final step is an sknn
network that :func:`fit_stacked` can stack are trained together
(:class:`~sknn.training.stacked.StackedTrainer`); every other fit, and any fit that
fails, goes through scikit-learn's own ``_fit_and_score``.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from inspect import signature
from itertools import product

import numpy as np
from sklearn import model_selection as _skms
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import indexable
from sklearn.utils.parallel import Parallel, delayed

from sknn.model_selection._stacking import _fit_many, _network
from sknn.utils._compat import (
    _aggregate_score_dicts,
    _check_method_params,
    _fit_and_score,
    _fit_context,
    _insert_error_scores,
    _normalize_score_results,
    _num_samples,
    _routing_enabled,
    _safe_split,
    _score,
    _warn_or_raise_about_fit_failures,
)


# ---------------------------------------------------------------------- evaluation
def _evaluate(base, candidates, splits, X, y, *, scorer, fit_params, score_params,
              return_train_score, return_estimator, return_parameters, error_score,
              n_jobs, verbose, pre_dispatch="2*n_jobs"):  # fmt: skip
    """``_fit_and_score`` for every (candidate, split), stacking what can be stacked.

    Returns the list of result dicts in scikit-learn's order (candidate-major).
    """
    tasks = list(product(candidates, splits))
    fit_params = fit_params or {}
    stackable = set(fit_params) <= {"sample_weight"} and not isinstance(base, Pipeline)
    stackable = stackable or (isinstance(base, Pipeline) and not fit_params)
    out: list = [None] * len(tasks)
    ests, datasets, prefit_times, stacked = [], [], [], []
    cache: dict = {}
    for i, (params, (train, _test)) in enumerate(tasks):
        est = clone(base)
        if params is not None:
            est.set_params(**clone(params, safe=False))
        if not stackable or _network(est) is None:
            continue
        X_train, y_train = _safe_split(est, X, y, train)
        tic = time.perf_counter()
        net = est
        if isinstance(est, Pipeline):
            pre, net = est[:-1], est.steps[-1][1]
            key = (id(train), repr(pre.get_params()))
            try:
                if key not in cache:
                    pre_fit = clone(pre)
                    cache[key] = (pre_fit, pre_fit.fit_transform(X_train, y_train))
            except Exception:
                continue
            pre_fit, X_train = cache[key]
            est.steps[:-1] = copy.deepcopy(pre_fit.steps)
        sw = _check_method_params(X, params=fit_params, indices=train).get(
            "sample_weight"
        )
        ests.append(net)
        datasets.append((X_train, y_train, sw))
        prefit_times.append(time.perf_counter() - tic)
        stacked.append((i, est))
    fits = _fit_many(ests, datasets, verbose=verbose)
    for (i, est), (err, seconds), pre_t in zip(stacked, fits, prefit_times):
        if err is not None:
            continue  # refitted below by scikit-learn, which reports the error
        params, (train, test) = tasks[i]
        out[i] = _score_fitted(
            est, X, y, train, test, scorer, score_params, return_train_score,
            return_estimator, error_score, seconds + pre_t,
        )  # fmt: skip
        if return_parameters:
            out[i]["parameters"] = params
    rest = [i for i, r in enumerate(out) if r is None]
    if rest:
        parallel = Parallel(n_jobs=n_jobs, pre_dispatch=pre_dispatch)
        done = parallel(
            delayed(_fit_and_score)(
                clone(base),
                X,
                y,
                scorer=scorer,
                train=tasks[i][1][0],
                test=tasks[i][1][1],
                verbose=verbose,
                parameters=tasks[i][0],
                fit_params=fit_params,
                score_params=score_params,
                return_train_score=return_train_score,
                return_n_test_samples=True,
                return_times=True,
                return_parameters=return_parameters,
                return_estimator=return_estimator,
                error_score=error_score,
            )
            for i in rest
        )
        for i, r in zip(rest, done):
            out[i] = r
    return out


def _score_fitted(est, X, y, train, test, scorer, score_params, return_train_score,
                  return_estimator, error_score, fit_time) -> dict:  # fmt: skip
    """The result dict of ``_fit_and_score`` for an estimator fitted elsewhere."""
    score_params = score_params or {}
    X_train, y_train = _safe_split(est, X, y, train)
    X_test, y_test = _safe_split(est, X, y, test, train)
    tic = time.perf_counter()
    sp_test = _check_method_params(X, params=score_params, indices=test)
    result = {
        "fit_error": None,
        "test_scores": _score(est, X_test, y_test, scorer, sp_test, error_score),
    }
    score_time = time.perf_counter() - tic
    if return_train_score:
        sp_train = _check_method_params(X, params=score_params, indices=train)
        result["train_scores"] = _score(
            est, X_train, y_train, scorer, sp_train, error_score
        )
    result["n_test_samples"] = _num_samples(X_test)
    result["fit_time"] = fit_time
    result["score_time"] = score_time
    if return_estimator:
        result["estimator"] = est
    return result


# ---------------------------------------------------------------------- cross-validation
def cross_validate(
    estimator,
    X,
    y=None,
    *,
    groups=None,
    scoring=None,
    cv=None,
    n_jobs=None,
    verbose=0,
    params=None,
    pre_dispatch="2*n_jobs",
    return_train_score=False,
    return_estimator=False,
    return_indices=False,
    error_score=np.nan,
) -> dict:
    """Evaluate metric(s) by cross-validation, training the folds in one pass.

    Same signature and result as :func:`sklearn.model_selection.cross_validate`.
    When the estimator (or a Pipeline's last step) is an sknn network that can be
    stacked, the fold models are trained together; otherwise, and whenever metadata
    routing is enabled, this is scikit-learn's function. ``fit_time`` of a stacked
    fold is its share of the pass.

    Parameters
    ----------
    estimator, X, y, groups, scoring, cv, n_jobs, verbose, params, pre_dispatch, \
return_train_score, return_estimator, return_indices, error_score
        As in :func:`sklearn.model_selection.cross_validate`.

    Returns
    -------
    dict
        ``test_score`` (or ``test_<name>``), ``fit_time``, ``score_time``, and on
        request ``train_*``, ``estimator``, ``indices``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import cross_validate
    >>> X, y = load_iris(return_X_y=True)
    >>> res = cross_validate(MLPClassifier((16,), max_iter=100, random_state=0), X, y, cv=3)
    >>> sorted(res), len(res["test_score"])
    (['fit_time', 'score_time', 'test_score'], 3)
    """
    if _network(estimator) is None or _routing_enabled():
        return _skms.cross_validate(
            estimator, X, y, groups=groups, scoring=scoring, cv=cv, n_jobs=n_jobs,
            verbose=verbose, params=params, pre_dispatch=pre_dispatch,
            return_train_score=return_train_score, return_estimator=return_estimator,
            return_indices=return_indices, error_score=error_score,
        )  # fmt: skip
    X, y = indexable(X, y)
    params = _check_method_params(X, params=params or {})
    cv = check_cv(cv, y, classifier=is_classifier(estimator))
    scorers = check_scoring(
        estimator, scoring=scoring, raise_exc=(error_score == "raise")
    )
    indices = list(cv.split(X, y, groups))
    results = _evaluate(
        clone(estimator), [None], indices, X, y, scorer=scorers, fit_params=params,
        score_params={}, return_train_score=return_train_score,
        return_estimator=return_estimator, return_parameters=False,
        error_score=error_score, n_jobs=n_jobs, verbose=verbose,
        pre_dispatch=pre_dispatch,
    )  # fmt: skip
    _warn_or_raise_about_fit_failures(results, error_score)
    if callable(scoring):
        _insert_error_scores(results, error_score)
    results = _aggregate_score_dicts(results)
    ret = {"fit_time": results["fit_time"], "score_time": results["score_time"]}
    if return_estimator:
        ret["estimator"] = results["estimator"]
    if return_indices:
        ret["indices"] = {}
        ret["indices"]["train"], ret["indices"]["test"] = zip(*indices)
    test = _normalize_score_results(results["test_scores"])
    train = (
        _normalize_score_results(results["train_scores"]) if return_train_score else {}
    )
    for name in test:
        ret[f"test_{name}"] = test[name]
        if return_train_score:
            ret[f"train_{name}"] = train[name]
    return ret


def cross_val_score(
    estimator,
    X,
    y=None,
    *,
    groups=None,
    scoring=None,
    cv=None,
    n_jobs=None,
    verbose=0,
    params=None,
    pre_dispatch="2*n_jobs",
    error_score=np.nan,
) -> np.ndarray:
    """Score by cross-validation, training the folds in one pass.

    Same signature and result as :func:`sklearn.model_selection.cross_val_score`; see
    :func:`cross_validate`.

    Parameters
    ----------
    estimator, X, y, groups, scoring, cv, n_jobs, verbose, params, pre_dispatch, \
error_score
        As in :func:`sklearn.model_selection.cross_val_score`.

    Returns
    -------
    ndarray of shape (n_splits,)
        The score of each fold.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import cross_val_score
    >>> X, y = load_iris(return_X_y=True)
    >>> cross_val_score(MLPClassifier((16,), max_iter=100, random_state=0), X, y, cv=3).shape
    (3,)
    """
    scorer = check_scoring(estimator, scoring=scoring)
    res = cross_validate(
        estimator, X, y, groups=groups, scoring={"score": scorer}, cv=cv, n_jobs=n_jobs,
        verbose=verbose, params=params, pre_dispatch=pre_dispatch, error_score=error_score,
    )  # fmt: skip
    return res["test_score"]


# ---------------------------------------------------------------------- searches
class _StackedSearchMixin:
    """``fit`` of scikit-learn's searches, with the (candidate, fold) fits stacked."""

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters, stacking the networks' fits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets.
        **params : dict of str -> object
            Passed to the estimator's ``fit`` (split with the rows), as in
            scikit-learn.

        Returns
        -------
        self : object
            The fitted search.
        """
        if _network(self.estimator) is None or _routing_enabled():
            return super().fit.__wrapped__(self, X, y, **params)
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = cv_orig.get_n_splits(X, y, **routed.splitter.split)
        base = clone(self.estimator)
        all_params, all_out, all_more = [], [], defaultdict(list)
        results: dict = {}

        def evaluate_candidates(candidate_params, cv=None, more_results=None, **_):
            nonlocal results
            candidate_params = list(candidate_params)
            splits = list((cv or cv_orig).split(X, y, **routed.splitter.split))
            if len(splits) != self.n_splits_:
                raise ValueError(
                    "cv.split and cv.get_n_splits return inconsistent results. "
                    f"Expected {self.n_splits_} splits, got {len(splits)}"
                )
            if self.verbose > 0:
                print(
                    f"Fitting {self.n_splits_} folds for each of {len(candidate_params)}"
                    f" candidates, totalling {self.n_splits_ * len(candidate_params)} fits"
                )
            out = _evaluate(
                base, candidate_params, splits, X, y, scorer=scorers,
                fit_params=routed.estimator.fit, score_params=routed.scorer.score,
                return_train_score=self.return_train_score, return_estimator=False,
                return_parameters=False, error_score=self.error_score,
                n_jobs=self.n_jobs, verbose=self.verbose, pre_dispatch=self.pre_dispatch,
            )  # fmt: skip
            if len(out) < 1:
                raise ValueError(
                    "No fits were performed. Was the CV iterator empty? "
                    "Were there no candidates?"
                )
            _warn_or_raise_about_fit_failures(out, self.error_score)
            if callable(self.scoring):
                _insert_error_scores(out, self.error_score)
            all_params.extend(candidate_params)
            all_out.extend(out)
            for key, value in (more_results or {}).items():
                all_more[key].extend(value)
            results = self._format_results(
                all_params, self.n_splits_, all_out, all_more
            )
            return results

        root = None
        if hasattr(self, "_init_callback_context"):  # scikit-learn >= 1.9
            root = self._init_callback_context(
                max_subtasks=1 + (self.refit is not False)
            )
            root = root.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=None)
        if "callback_ctx" in signature(self._run_search).parameters:
            self._run_search(evaluate_candidates, callback_ctx=root)
        else:
            self._run_search(evaluate_candidates)
        first_test_score = all_out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(
                self.refit, refit_metric, results
            )
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][
                    self.best_index_
                ]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base).set_params(
                **clone(self.best_params_, safe=False)
            )
            tic = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y, **routed.estimator.fit)
            else:
                self.best_estimator_.fit(X, **routed.estimator.fit)
            self.refit_time_ = time.time() - tic
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = getattr(scorers, "_scorers", scorers)
        self.cv_results_ = results
        if root is not None:
            root.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=None)
        return self


class GridSearchCV(_StackedSearchMixin, _skms.GridSearchCV):
    """Exhaustive search over a parameter grid, training networks in stacked passes.

    A drop-in for :class:`sklearn.model_selection.GridSearchCV`: same parameters,
    ``cv_results_``, ``best_params_``, ``best_estimator_`` and refit. The
    (candidate, fold) fits of an sknn network (alone or last in a Pipeline, whose
    transformers are fitted per fold) are grouped by architecture and trained
    together; the rest run through scikit-learn's ``_fit_and_score``.

    Parameters
    ----------
    estimator, param_grid, scoring, n_jobs, refit, cv
        As in :class:`sklearn.model_selection.GridSearchCV`, and so are
        ``verbose``, ``pre_dispatch``, ``error_score`` and ``return_train_score``.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_
        As in :class:`sklearn.model_selection.GridSearchCV`, and so are ``scorer_``,
        ``n_splits_``, ``refit_time_`` and ``multimetric_``.

    See Also
    --------
    RandomizedSearchCV : Random candidates, stacked the same way.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import GridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> net = MLPClassifier((16,), max_iter=20, random_state=0)
    >>> search = GridSearchCV(net, {"learning_rate_init": [0.001, 0.01]}, cv=3)
    >>> search.fit(X, y).best_params_
    {'learning_rate_init': 0.01}
    """


class RandomizedSearchCV(_StackedSearchMixin, _skms.RandomizedSearchCV):
    """Randomized search over parameters, training networks in stacked passes.

    A drop-in for :class:`sklearn.model_selection.RandomizedSearchCV` (same
    parameters, sampled candidates and ``cv_results_``); see :class:`GridSearchCV`
    for what is stacked.

    Parameters
    ----------
    estimator, param_distributions, n_iter, scoring, n_jobs, refit, cv
        As in :class:`sklearn.model_selection.RandomizedSearchCV`, and so are
        ``verbose``, ``pre_dispatch``, ``random_state``, ``error_score`` and
        ``return_train_score``.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_
        As in :class:`sklearn.model_selection.RandomizedSearchCV`, and so are
        ``scorer_``, ``n_splits_``, ``refit_time_`` and ``multimetric_``.

    See Also
    --------
    GridSearchCV : Every combination of a grid.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import RandomizedSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> net = MLPClassifier((16,), max_iter=60, random_state=0)
    >>> space = {"alpha": loguniform(1e-5, 1e-1)}
    >>> search = RandomizedSearchCV(net, space, n_iter=3, cv=3, random_state=0)
    >>> len(search.fit(X, y).cv_results_["params"])
    3
    """
