"""OptunaSearchCV: a scikit-learn search driven by Optuna, from a laptop to a cluster."""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import optuna
from joblib import Parallel, delayed, effective_n_jobs
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import check_cv
from sklearn.utils import indexable
from tqdm.auto import tqdm

from sknn.model_selection._pruning import (
    EPOCHS_ATTR,
    PrunedWithScores,
    cross_validate_pruned,
    supports_pruning,
)
from sknn.model_selection._records import (
    CV_ATTR,
    FAILED_KEY,
    PRUNED_KEY,
    from_record,
    rank_finished_first,
    to_record,
)
from sknn.model_selection._spaces import (
    check_search_space,
    decode_params,
    default_search_space,
)
from sknn.model_selection._study import StudyWorkersMixin, is_scored
from sknn.model_selection._vectorized import _evaluate
from sknn.utils._compat import (
    BaseSearchCV,
    Interval,
    _check_method_params,
    _MultimetricScorer,
    _warn_or_raise_about_fit_failures,
)


class OptunaSearchCV(StudyWorkersMixin, BaseSearchCV):
    """Hyper-parameter search with Optuna: smarter than a grid, pruned, distributable.

    Each Optuna trial samples parameters, cross-validates the estimator with them and
    reports the mean test score; Optuna's sampler proposes the next trial from the
    ones before. Works for any scikit-learn estimator or Pipeline; for sknn
    estimators (alone or as the last step of a Pipeline) every fold reports its
    validation score after every epoch and ``pruner`` stops hopeless trials early.
    With ``storage``, several processes or machines calling ``fit`` on the same
    study share the ``n_trials`` between them.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune (cloned for every fit).
    param_distributions : dict of str to optuna.distributions.BaseDistribution, \
            default=None
        Parameter names (``step__param`` in Pipelines) and Optuna distributions. A
        categorical choice written as a tuple string, ``"(64, 32)"``, reaches the
        estimator as the tuple (see :func:`decode_params`). ``None`` uses
        :func:`default_search_space` of an sknn estimator, its batch sizes capped
        to the rows of the smallest training fold.
    n_trials : int or None, default=10
        Number of finished trials the study should hold (completed, pruned, or
        failed with ``error_score``), shared by every worker of the study; a study
        that already holds them runs no more. ``None`` runs until ``timeout``.
    timeout : float or None, default=None
        Seconds after which this call starts no new trial. As in
        :meth:`optuna.study.Study.optimize`, a trial that has started runs to its
        end, and each worker runs at least one trial, so a short timeout on worker
        processes that are slow to start still gives results.
    sampler : optuna.samplers.BaseSampler, default=None
        Copied at each fit. ``None`` is a ``TPESampler`` seeded by ``random_state``.
    pruner : optuna.pruners.BasePruner, default=None
        ``None`` is ``MedianPruner(n_startup_trials=5, n_warmup_steps=5)``.
    pruning : bool, default=True
        Fit sknn estimators epoch by epoch and let ``pruner`` stop trials. Pruning
        judges the estimator's own validation score on each fold's test rows
        (accuracy for classifiers, R2 for regressors), the mean over folds after
        every epoch; trials are ranked by ``scoring``. An estimator with
        ``early_stopping=True`` reports the score on its own validation split of
        the fold's training rows instead. Other estimators are never pruned.
    cv : int, cross-validation generator or iterable, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV` (5-fold by default).
        Workers sharing a study must split the same way (a deterministic ``cv``).
    scoring : str, callable, list, tuple or dict, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV`; with several
        metrics, ``refit`` names the one that is optimised.
    refit : bool, str or callable, default=True
        Refit the best parameters on the whole data (``best_estimator_``).
    n_jobs : int, default=None
        Trials run at once. Under joblib's default (process-based) backend, in as
        many worker processes of this machine sharing the study through its storage
        (an in-memory study goes through a temporary journal file and comes back
        in memory); under ``joblib.parallel_config(backend="threading")``, other
        joblib backends, or with a storage object, in threads of this process.
        ``-1`` means all cores.
    random_state : int, RandomState instance or None, default=None
        Seeds the default sampler. With a shared ``storage`` the seed is mixed with
        the process id, so that workers do not propose the same points.
    error_score : "raise" or float, default=np.nan
        Score of a trial whose fit raises; the search goes on. A ``NaN`` score
        leaves the Optuna trial FAIL, a number completes it with that value.
    return_train_score : bool, default=False
        Also score the training rows of each fold.
    verbose : int, default=0
        ``>= 1`` shows a progress bar over the trials; ``>= 2`` also Optuna's log.
    storage : str, optuna.storages.BaseStorage or None, default=None
        ``None`` keeps the study in memory. A database URL (``"sqlite:///f.db"``,
        ``"postgresql+psycopg2://..."``) opens an ``RDBStorage`` with a heartbeat,
        so that a trial whose worker died is failed and retried; a path with no
        URL scheme is a journal file (``JournalStorage``). Any storage object is
        used as it is.
    study_name : str or None, default=None
        Name of the study in ``storage``.
    load_if_exists : bool, default=False
        Join an existing study of that name (how several workers share one).
    heartbeat_interval : int, default=60
        Seconds between heartbeats of a running trial (database URLs).
    grace_period : int or None, default=None
        Seconds without heartbeat after which a trial counts as dead
        (``None``: twice ``heartbeat_interval``).
    max_retry : int or None, default=3
        Times a dead trial is retried with the same parameters.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As in scikit-learn's searches (``params``, ``param_<name>``,
        ``split<k>_test_<score>``, ``mean_test_<score>``, ``std_test_<score>``,
        ``rank_test_<score>``, ``mean_fit_time``, ..., train scores with
        ``return_train_score``), one row per scored trial of the study in trial
        order, plus ``trial_number`` and ``state``: ``"COMPLETE"``, ``"FAIL"``
        (the fit raised: ``error_score``) or ``"PRUNED"``. A pruned trial's
        scores are those its fold models reached by the epoch it was stopped at
        (as the early rounds of scikit-learn's successive-halving searches); its
        ``rank_test_<score>`` comes after every trial that finished, and
        ``best_index_`` is never a pruned trial (a callable ``refit`` sees every
        row). Trials never run (a worker's surplus) or retried after their
        worker died are not rows; ``study_`` holds them.
    best_estimator_ : estimator
        The estimator refitted with the best parameters (``refit``).
    best_score_ : float
        Mean cross-validated score of the best trial.
    best_params_ : dict
        Parameters of the best trial, as ``set_params`` takes them.
    best_index_ : int
        Row of the best trial in ``cv_results_``.
    scorer_ : callable or dict
        The scorer(s) used.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds taken by the refit.
    multimetric_ : bool
        Whether several metrics were scored.
    study_ : optuna.study.Study
        The study: Optuna's plots and optuna-dashboard work on it.
    n_trials_ : int
        Trials that finished (rows of ``cv_results_`` not pruned).
    n_pruned_trials_ : int
        Trials the pruner stopped.
    n_epochs_ : int
        Epochs run over all folds of this call's pruned-path trials.
    classes_, n_features_in_
        As in scikit-learn's searches: the class labels of ``best_estimator_``
        (classifiers) and the number of features seen in ``fit``.

    See Also
    --------
    default_search_space : The default spaces of sknn estimators.
    sklearn.model_selection.RandomizedSearchCV : Random search.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import OptunaSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = OptunaSearchCV(
    ...     MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0),
    ...     {"learning_rate_init": FloatDistribution(1e-3, 1e-1, log=True)},
    ...     n_trials=3, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> len(search.cv_results_["params"]), sorted(search.best_params_)
    (3, ['learning_rate_init'])
    """

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in BaseSearchCV._parameter_constraints.items()
            if k != "pre_dispatch"
        },
        "param_distributions": [dict, None],
        "n_trials": [Interval(Integral, 1, None, closed="left"), None],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "sampler": [optuna.samplers.BaseSampler, None],
        "pruner": [optuna.pruners.BasePruner, None],
        "pruning": ["boolean"],
        "random_state": ["random_state"],
        "storage": [str, os.PathLike, BaseStorage, None],
        "study_name": [str, None],
        "load_if_exists": ["boolean"],
        "heartbeat_interval": [Interval(Integral, 1, None, closed="left")],
        "grace_period": [Interval(Integral, 1, None, closed="left"), None],
        "max_retry": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator,
        param_distributions: dict[str, BaseDistribution] | None = None,
        *,
        n_trials: int | None = 10,
        timeout: float | None = None,
        sampler: optuna.samplers.BaseSampler | None = None,
        pruner: optuna.pruners.BasePruner | None = None,
        pruning: bool = True,
        cv=None,
        scoring=None,
        refit=True,
        n_jobs: int | None = None,
        random_state=None,
        error_score=np.nan,
        return_train_score: bool = False,
        verbose: int = 0,
        storage: str | BaseStorage | None = None,
        study_name: str | None = None,
        load_if_exists: bool = False,
        heartbeat_interval: int = 60,
        grace_period: int | None = None,
        max_retry: int | None = 3,
    ):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.timeout = timeout
        self.sampler = sampler
        self.pruner = pruner
        self.pruning = pruning
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.verbose = verbose
        self.storage = storage
        self.study_name = study_name
        self.load_if_exists = load_if_exists
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.max_retry = max_retry

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, **params):
        """Run the trials, then refit the best parameters on the whole data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets.
        **params : dict
            Fit parameters of the estimator (``sample_weight``, sliced per fold),
            of the scorer, and ``groups`` for the splitter.

        Returns
        -------
        self : OptunaSearchCV
            The fitted search.
        """
        self._validate_params()
        if self.n_trials is None and self.timeout is None:
            raise ValueError("Set n_trials or timeout (or both); both are None.")
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, **routed.splitter.split))
        self.n_splits_ = len(splits)
        base = clone(self.estimator)
        space = self._check_space(base, min(len(train) for train, _ in splits))
        fit_params = routed.estimator.fit
        names = (
            list(scorers._scorers) if isinstance(scorers, _MultimetricScorer) else None
        )
        ctx = SimpleNamespace(
            X=X,
            y=y,
            base=base,
            space=space,
            splits=splits,
            scorers=scorers,
            names=names,
            objective=refit_metric if names else "score",
            fit_params=fit_params,
            score_params=routed.scorer.score,
            prune=self.pruning and supports_pruning(base, fit_params),
            epochs=[],
        )
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        n_workers = max(1, effective_n_jobs(self.n_jobs))
        optuna_logger = optuna.logging.get_logger("optuna")
        level = optuna_logger.level
        if self.verbose < 2:
            optuna.logging.set_verbosity(logging.WARNING)
        try:
            if self._in_processes(n_workers):
                self.study_ = self._run_in_processes(ctx, deadline, n_workers)
            else:
                self.study_ = self._make_study()
                with tqdm(
                    total=self.n_trials, disable=not self.verbose, desc="trials"
                ) as bar:
                    claim = threading.Lock()
                    Parallel(n_jobs=n_workers, backend="threading")(
                        delayed(self._work)(self.study_, ctx, deadline, bar, claim)
                        for _ in range(n_workers)
                    )
        finally:
            optuna_logger.setLevel(level)
        self.n_epochs_ = int(sum(ctx.epochs))
        self._set_results(self.study_, ctx, refit_metric)
        if self.refit:
            self.best_estimator_ = clone(base).set_params(
                **clone(self.best_params_, safe=False)
            )
            tic = time.perf_counter()
            if y is not None:
                self.best_estimator_.fit(X, y, **fit_params)
            else:
                self.best_estimator_.fit(X, **fit_params)
            self.refit_time_ = time.perf_counter() - tic
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = (
            scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        )
        return self

    # ------------------------------------------------------------------ checks
    def _check_space(
        self, base: BaseEstimator, n_train: int
    ) -> dict[str, BaseDistribution]:
        """The search space, checked against the estimator before any trial (the
        default space's batch sizes capped to the ``n_train`` rows of a fold)."""
        if self.param_distributions is None:
            space = default_search_space(base, n_samples=n_train)
            return check_search_space(base, space)
        return check_search_space(base, self.param_distributions)

    def _run_trial(self, study: optuna.Study, trial: optuna.Trial, ctx) -> None:
        params = decode_params(trial.params)
        estimator = clone(ctx.base).set_params(**params)
        try:
            if ctx.prune:
                outs, epochs = cross_validate_pruned(
                    estimator,
                    ctx.X,
                    ctx.y,
                    ctx.splits,
                    trial,
                    scorer=ctx.scorers,
                    fit_params=ctx.fit_params,
                    score_params=ctx.score_params,
                    return_train_score=self.return_train_score,
                    error_score=self.error_score,
                )
                ctx.epochs.append(epochs)
            else:
                # The folds of a trial share one stacked pass when they can
                # (sknn networks with vectorisable settings); others are fitted
                # one by one, exactly as scikit-learn's _fit_and_score does.
                outs = _evaluate(
                    estimator,
                    [None],
                    ctx.splits,
                    ctx.X,
                    ctx.y,
                    scorer=ctx.scorers,
                    fit_params=ctx.fit_params,
                    score_params=ctx.score_params,
                    return_train_score=self.return_train_score,
                    return_estimator=False,
                    return_parameters=False,
                    error_score=self.error_score,
                    n_jobs=None,
                    verbose=0,
                )
            record = to_record(outs, ctx.names)
            value = float(np.mean(record["test"][self._objective_key(record, ctx)]))
            record[FAILED_KEY] = not np.isfinite(value)
            trial.set_user_attr(CV_ATTR, record)
        except optuna.TrialPruned as exc:
            ctx.epochs.append(trial.user_attrs.get(EPOCHS_ATTR, 0))
            if isinstance(exc, PrunedWithScores):  # a row of cv_results_ too
                record = to_record(exc.outs, ctx.names)
                record[PRUNED_KEY], record[FAILED_KEY] = True, False
                try:
                    trial.set_user_attr(CV_ATTR, record)
                except optuna.exceptions.UpdateFinishedTrialError:
                    _warn_taken(trial)
                    return
            _tell(study, trial, state=TrialState.PRUNED)
            return
        except optuna.exceptions.UpdateFinishedTrialError:
            _warn_taken(trial)
            return
        except BaseException:
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        if any(e is not None for e in record["fit_error"]):
            warnings.warn(
                f"Trial {trial.number} failed to fit on "
                f"{sum(e is not None for e in record['fit_error'])} fold(s); its "
                f"score is error_score={self.error_score}.",
                FitFailedWarning,
                stacklevel=2,
            )
        if np.isfinite(value):
            _tell(study, trial, value)
        else:
            _tell(study, trial, state=TrialState.FAIL)

    def _objective_key(self, record: dict, ctx) -> str:
        if list(record["test"]) == ["score"] and ctx.names is None:
            return "score"
        if isinstance(self.refit, str) and self.refit in record["test"]:
            return self.refit
        raise ValueError(
            "With several metrics, refit must name the one to optimise (one of "
            f"{sorted(record['test'])}); got refit={self.refit!r}."
        )

    # ------------------------------------------------------------------ results
    def _set_results(self, study: optuna.Study, ctx, refit_metric) -> None:
        trials = sorted(
            (t for t in study.get_trials(deepcopy=False) if is_scored(t)),
            key=lambda t: t.number,
        )
        self.n_pruned_trials_ = sum(
            t.state == TrialState.PRUNED for t in study.get_trials(deepcopy=False)
        )
        pruned = np.array(
            [bool(t.user_attrs[CV_ATTR].get(PRUNED_KEY)) for t in trials], dtype=bool
        )
        if pruned.all():
            raise ValueError(
                f"No trial finished on every fold (pruned: {self.n_pruned_trials_}); "
                "raise n_trials or timeout, or relax the pruner."
            )
        outs = []
        for t in trials:
            outs.extend(from_record(t.user_attrs[CV_ATTR], self.n_splits_, t.number))
        _warn_or_raise_about_fit_failures(outs, self.error_score)
        params = [decode_params(t.params) for t in trials]
        states = [
            "PRUNED" if p else ("FAIL" if t.state == TrialState.FAIL else "COMPLETE")
            for t, p in zip(trials, pruned)
        ]
        results = self._format_results(
            params,
            self.n_splits_,
            outs,
            {
                "trial_number": [t.number for t in trials],
                "state": np.array(states, dtype=object),
            },
        )
        # Pruned trials rank after every finished one: their scores were reached
        # with fewer epochs (as the earlier rounds of a successive-halving search).
        for key in [k for k in results if k.startswith("rank_test_")]:
            results[key] = rank_finished_first(
                results["mean_test_" + key[len("rank_test_") :]], pruned
            )
        first = trials[int(np.flatnonzero(~pruned)[0])].user_attrs[CV_ATTR]
        self.multimetric_ = list(first["test"]) != ["score"]
        if self.multimetric_ and callable(self.scoring):
            self._check_refit_for_multimetric(first["test"])
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = int(
                self._select_best_index(self.refit, refit_metric, results)
            )
            if not callable(self.refit):
                self.best_score_ = float(
                    results[f"mean_test_{refit_metric}"][self.best_index_]
                )
            self.best_params_ = results["params"][self.best_index_]
        self.n_trials_ = int((~pruned).sum())
        self.cv_results_ = results


def _warn_taken(trial: optuna.Trial) -> None:
    warnings.warn(
        f"Trial {trial.number} was marked failed by another worker while it ran (its "
        "heartbeat came too late: raise grace_period); its result is dropped and "
        "the study retries its parameters.",
        RuntimeWarning,
        stacklevel=3,
    )


def _tell(study: optuna.Study, trial: optuna.Trial, *args, **kwargs) -> None:
    """``study.tell``, unless another worker has already failed the trial."""
    frozen = study.tell(trial, *args, skip_if_finished=True, **kwargs)
    if frozen.state == TrialState.FAIL and kwargs.get("state") != TrialState.FAIL:
        _warn_taken(trial)
