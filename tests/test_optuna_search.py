"""OptunaSearchCV: the sklearn contract, default spaces, bad input, pruning, no leakage."""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

import joblib
import numpy as np
import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    RNNClassifier,
    RNNRegressor,
)
from sknn.callbacks import Callback
from sknn.model_selection import (
    OptunaSearchCV,
    decode_params,
    default_search_space,
)
from sknn.model_selection._study import _WAIT, SURPLUS_ATTR, ClaimLock

FAST = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0, device="cpu")
LR = {"learning_rate_init": FloatDistribution(1e-3, 1e-1, log=True)}
LR01 = {"learning_rate_init": FloatDistribution(0.03, 0.031)}

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=4, random_state=0
    )
    return X.astype(np.float32), y


class RecordingMLP(MLPClassifier):
    """Records what each fit trains on and is scored on (every fit, alone or in a
    stacked pass, is prepared by ``_setup_fit``)."""

    calls: list = []

    def _setup_fit(self, X, y, *, sample_weight=None, eval_set=None, **kwargs):
        RecordingMLP.calls.append(
            (
                np.asarray(X).copy(),
                sample_weight,
                None if eval_set is None else np.asarray(eval_set[0]).copy(),
            )
        )
        return super()._setup_fit(
            X, y, sample_weight=sample_weight, eval_set=eval_set, **kwargs
        )


class FailingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; raises in fit when ``fail`` is true."""

    def __init__(self, fail=False):
        self.fail = fail

    def fit(self, X, y):
        if self.fail:
            raise ValueError("failing on purpose")
        self.dummy_ = DummyClassifier().fit(X, y)
        self.classes_ = self.dummy_.classes_
        return self

    def predict(self, X):
        return self.dummy_.predict(X)


# ---------------------------------------------------------------- sklearn contract
# Small nets that still pass the checks' accuracy thresholds; one trial, two folds.
CHECK_FAST = dict(hidden_layer_sizes=(16,), max_iter=40, random_state=0, device="cpu")


# error_score="raise": the checks expect the estimator's own errors on bad input,
# which the default error_score=nan records as failed trials (as sklearn's searches).
@parametrize_with_checks(
    [
        OptunaSearchCV(
            MLPClassifier(**CHECK_FAST),
            LR01,
            n_trials=1,
            cv=2,
            random_state=0,
            error_score="raise",
        ),
        OptunaSearchCV(
            MLPRegressor(**CHECK_FAST),
            LR01,
            n_trials=1,
            cv=2,
            random_state=0,
            error_score="raise",
        ),
    ]
)
def test_sklearn_compatible_search(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        check(estimator)


def test_cv_results_match_sklearn_keys(data):
    X, y = data
    cv = StratifiedKFold(3)
    est = MLPClassifier(**FAST)
    space = {"alpha": CategoricalDistribution([1e-4, 1e-2])}
    search = OptunaSearchCV(
        est,
        space,
        n_trials=3,
        cv=cv,
        return_train_score=True,
        scoring=["accuracy", "balanced_accuracy"],
        refit="accuracy",
        random_state=0,
    ).fit(X, y)
    grid = GridSearchCV(
        est,
        {"alpha": [1e-4, 1e-2]},
        cv=cv,
        return_train_score=True,
        scoring=["accuracy", "balanced_accuracy"],
        refit="accuracy",
    ).fit(X, y)
    assert set(search.cv_results_) == set(grid.cv_results_) | {"trial_number", "state"}
    assert search.cv_results_["state"].tolist() == ["COMPLETE"] * 3
    # The same parameters give the same fold scores as sklearn's search.
    for i, params in enumerate(search.cv_results_["params"]):
        j = grid.cv_results_["params"].index(params)
        for k in range(3):
            key = f"split{k}_test_accuracy"
            assert search.cv_results_[key][i] == pytest.approx(grid.cv_results_[key][j])
    best = search.best_index_
    assert search.best_score_ == search.cv_results_["mean_test_accuracy"][best]
    assert search.cv_results_["rank_test_accuracy"][best] == 1
    assert search.best_params_ == search.cv_results_["params"][best]
    assert search.best_score_ == pytest.approx(search.study_.best_value)
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    assert search.score(X, y) == search.best_estimator_.score(X, y)
    assert list(search.classes_) == [0, 1]


# ---------------------------------------------------------------- default spaces
def test_default_space_runs_and_best_params_are_estimator_params(data):
    X, y = data
    search = OptunaSearchCV(
        MLPClassifier(max_iter=5, random_state=0, device="cpu"),
        n_trials=2,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert set(search.best_params_) == set(default_search_space(MLPClassifier()))
    assert isinstance(search.best_params_["hidden_layer_sizes"], tuple)
    MLPClassifier().set_params(**search.best_params_)._validate_params()
    assert (
        search.best_estimator_.hidden_layer_sizes
        == (search.best_params_["hidden_layer_sizes"])
    )


def test_default_space_proposes_no_batch_larger_than_a_fold(data):
    """The default batch sizes are capped to the rows a fold's fit trains on, so no
    trial warns "Got `batch_size` ... larger than sample size"."""
    X, y = data  # 120 rows: 80 per training fold with cv=3
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*batch_size", category=UserWarning)
        search = OptunaSearchCV(
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
            n_trials=4,
            cv=3,
            refit=False,
            random_state=0,
        ).fit(X, y)
    (trial, *_) = search.study_.trials
    assert trial.distributions["batch_size"].choices == (32, 64, 80)
    assert all(t.params["batch_size"] <= 80 for t in search.study_.trials)
    # The rows a fit trains on: less early stopping's validation split (10 %).
    space = default_search_space(MLPClassifier(early_stopping=True), n_samples=80)
    assert space["batch_size"].choices == (32, 64, 72)
    space = default_search_space(
        MLPClassifier(solver="lbfgs", early_stopping=True), n_samples=80
    )
    assert space["batch_size"].choices == (32, 64, 80)
    assert default_search_space(MLPClassifier(), n_samples=20)[
        "batch_size"
    ].choices == (20,)
    assert default_search_space(MLPClassifier())["batch_size"].choices == (
        32,
        64,
        128,
        256,
    )


def test_default_space_pipeline_prefix_and_unknown_estimator():
    pipe = make_pipeline(StandardScaler(), MLPRegressor())
    space = default_search_space(pipe)
    assert "mlpregressor__learning_rate_init" in space
    assert all(name.startswith("mlpregressor__") for name in space)
    with pytest.raises(ValueError, match="no default search space for Logistic"):
        default_search_space(LogisticRegression())
    with pytest.raises(ValueError, match="no default search space"):
        OptunaSearchCV(LogisticRegression()).fit([[0.0], [1.0]] * 5, [0, 1] * 5)


@pytest.mark.parametrize(
    "estimator",
    [MLPClassifier(), MLPRegressor(), CNNClassifier(), CNNRegressor(), RNNClassifier(),
     RNNRegressor()],
    ids=lambda est: type(est).__name__,
)  # fmt: skip
def test_every_choice_of_each_default_space_is_a_valid_parameter(estimator):
    space = default_search_space(estimator)
    assert "learning_rate_init" in space
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values = dist.choices
        else:
            values = (dist.low, dist.high)
        for value in values:
            params = decode_params({name: value})
            clone(estimator).set_params(**params)._validate_params()


def test_decode_params_only_decodes_integer_tuples():
    out = decode_params({"a": "(3,)", "b": "(2, 4)", "c": "relu", "d": "(x,)"})
    assert out == {"a": (3,), "b": (2, 4), "c": "relu", "d": "(x,)"}


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "space, match",
    [
        ({"no_such": FloatDistribution(0, 1)}, "Invalid parameter 'no_such'"),
        ({"alpha": [0.1, 0.2]}, "must be an Optuna distribution"),
        ({"hidden_layer_sizes": FloatDistribution(1, 5)}, "cannot apply"),
        ({"alpha": FloatDistribution(-1, 1)}, "cannot apply"),
        ({"activation": CategoricalDistribution(["relu", "nope"])}, "cannot apply"),
    ],
)
def test_bad_space_fails_before_any_trial(data, space, match):
    X, y = data
    search = OptunaSearchCV(MLPClassifier(**FAST), space, n_trials=2, cv=2)
    with pytest.raises(ValueError, match=match):
        search.fit(X, y)
    assert not hasattr(search, "study_")


def test_unreachable_storage_and_wrong_direction(data, tmp_path):
    X, y = data
    unreachable = "postgresql+psycopg2://nobody:x@127.0.0.1:1/none"
    for storage in (unreachable, str(tmp_path / "missing" / "journal.log")):
        with pytest.raises(ValueError, match="Cannot open the Optuna storage"):
            OptunaSearchCV(MLPClassifier(**FAST), LR, storage=storage).fit(X, y)
    url = f"sqlite:///{tmp_path / 'min.db'}"
    optuna.create_study(storage=url, study_name="s", direction="minimize")
    search = OptunaSearchCV(
        MLPClassifier(**FAST), LR, storage=url, study_name="s", load_if_exists=True
    )
    with pytest.raises(ValueError, match="direction 'maximize'"):
        search.fit(X, y)
    with pytest.raises(ValueError, match="load_if_exists=True"):
        OptunaSearchCV(MLPClassifier(**FAST), LR, storage=url, study_name="s").fit(X, y)
    with pytest.raises(ValueError, match="n_trials or timeout"):
        OptunaSearchCV(MLPClassifier(**FAST), LR, n_trials=None).fit(X, y)


def test_multimetric_needs_refit_name(data):
    X, y = data
    search = OptunaSearchCV(
        MLPClassifier(**FAST), LR, n_trials=2, cv=2, scoring=["accuracy", "f1"]
    )
    with pytest.raises(ValueError, match="refit must be set to a scorer key"):
        search.fit(X, y)


def test_failing_trials_recorded_with_error_score_and_search_goes_on(data):
    X, y = data
    space = {"fail": CategoricalDistribution([True, False])}

    def search(**kwargs):
        return OptunaSearchCV(
            FailingClassifier(),
            space,
            n_trials=6,
            cv=2,
            sampler=optuna.samplers.RandomSampler(seed=0),
            **kwargs,
        ).fit(X, y)

    with pytest.warns(FitFailedWarning):
        nan_search = search()
    failed = np.array([p["fail"] for p in nan_search.cv_results_["params"]])
    assert failed.any() and not failed.all()
    scores = nan_search.cv_results_["mean_test_score"]
    assert np.isnan(scores[failed]).all() and np.isfinite(scores[~failed]).all()
    assert nan_search.best_params_ == {"fail": False}
    for t in nan_search.study_.trials:
        expected = "FAIL" if t.params["fail"] else "COMPLETE"
        assert t.state.name == expected
    # A numeric error_score completes the trial with that value.
    with pytest.warns(FitFailedWarning):
        numeric = search(error_score=-1.0)
    assert (numeric.cv_results_["mean_test_score"][failed] == -1.0).all()
    with pytest.raises(ValueError, match="failing on purpose"):
        search(error_score="raise")


class FailingMLP(MLPClassifier):
    """An MLP whose fit raises with a large ``alpha``."""

    def _setup_fit(self, X, y, **kwargs):
        if self.alpha > 0.5:
            raise ValueError("failing on purpose")
        return super()._setup_fit(X, y, **kwargs)


@pytest.mark.filterwarnings("ignore:A trial's fit failed:UserWarning")
@pytest.mark.filterwarnings("ignore:One or more of the:UserWarning")
@pytest.mark.parametrize("return_train_score", [False, True])
def test_failing_trials_on_the_pruned_path_are_rows(data, return_train_score):
    X, y = data
    with pytest.warns(FitFailedWarning):
        search = OptunaSearchCV(
            FailingMLP(**FAST),
            {"alpha": CategoricalDistribution([1e-4, 1.0])},
            n_trials=4,
            cv=2,
            sampler=optuna.samplers.RandomSampler(seed=1),
            return_train_score=return_train_score,
            refit=False,
        ).fit(X, y)
    results = search.cv_results_
    failed = np.array([p["alpha"] == 1.0 for p in results["params"]])
    assert failed.any() and not failed.all()
    assert results["state"].tolist() == ["FAIL" if f else "COMPLETE" for f in failed]
    assert np.isnan(results["mean_test_score"][failed]).all()
    assert np.isfinite(results["mean_test_score"][~failed]).all()
    assert ("mean_train_score" in results) == return_train_score
    assert search.best_params_ == {"alpha": 1e-4}


# ---------------------------------------------------------------- pruning
def test_folds_train_on_train_rows_and_score_on_test_rows_only(data):
    X, y = data
    cv = KFold(3, shuffle=True, random_state=1)
    sw = np.arange(1, len(y) + 1, dtype=np.float64)
    RecordingMLP.calls = []
    OptunaSearchCV(
        RecordingMLP(**FAST),
        LR,
        n_trials=1,
        cv=cv,
        refit=False,
    ).fit(X, y, sample_weight=sw)
    assert len(RecordingMLP.calls) == 3
    for (X_fit, w_fit, X_eval), (train, test) in zip(
        RecordingMLP.calls, cv.split(X, y)
    ):
        np.testing.assert_array_equal(X_eval, X[test])
        np.testing.assert_array_equal(X_fit, X[train])
        np.testing.assert_array_equal(w_fit, sw[train])
        assert not set(map(bytes, X_eval)) & set(map(bytes, X_fit))


def test_pipeline_fits_transformers_on_training_rows_only(data):
    X, y = data
    cv = KFold(2)
    RecordingMLP.calls = []
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", RecordingMLP(**FAST))])
    search = OptunaSearchCV(
        pipe,
        {"mlp__alpha": FloatDistribution(1e-5, 1e-2, log=True)},
        n_trials=1,
        cv=cv,
        refit=False,
    ).fit(X, y, mlp__sample_weight=np.ones(len(y)))
    assert search.n_epochs_ > 0  # went through the stepwise (prunable) path
    for (X_fit, _, X_eval), (train, test) in zip(RecordingMLP.calls, cv.split(X)):
        scaler = StandardScaler().fit(X[train])
        np.testing.assert_allclose(X_fit, scaler.transform(X[train]), rtol=1e-6)
        np.testing.assert_allclose(X_eval, scaler.transform(X[test]), rtol=1e-6)
    assert "mlp__alpha" in search.cv_results_["params"][0]


def test_pruning_runs_fewer_epochs(data):
    X, y = data
    space = {"learning_rate_init": FloatDistribution(1e-5, 1.0, log=True)}
    est = MLPClassifier(**{**FAST, "max_iter": 12})
    runs = {}
    for name, pruner in [
        ("pruned", optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)),
        ("full", optuna.pruners.NopPruner()),
    ]:
        runs[name] = OptunaSearchCV(
            est,
            space,
            n_trials=8,
            cv=2,
            pruner=pruner,
            refit=False,
            sampler=optuna.samplers.RandomSampler(seed=0),
        ).fit(X, y)
    assert runs["pruned"].n_pruned_trials_ > 0
    assert runs["full"].n_pruned_trials_ == 0
    assert runs["pruned"].n_epochs_ < runs["full"].n_epochs_
    assert runs["full"].n_trials_ == 8
    assert runs["pruned"].n_trials_ == 8 - runs["pruned"].n_pruned_trials_
    pruned = [
        t
        for t in runs["pruned"].study_.trials
        if t.state == optuna.trial.TrialState.PRUNED
    ]
    assert all(len(t.intermediate_values) < 12 for t in pruned)


def test_pruned_trials_are_rows_with_their_state_and_scores(data):
    """Every trial is a row of cv_results_ (as every candidate of scikit-learn's
    successive-halving searches): pruned ones with the scores their folds reached
    and state "PRUNED", ranked after the finished ones, never the best."""
    pd = pytest.importorskip("pandas")
    X, y = data
    search = OptunaSearchCV(
        MLPClassifier(**{**FAST, "max_iter": 12}),
        {"learning_rate_init": FloatDistribution(1e-5, 1.0, log=True)},
        n_trials=8,
        cv=2,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
        sampler=optuna.samplers.RandomSampler(seed=0),
        return_train_score=True,
    ).fit(X, y)
    results = pd.DataFrame(search.cv_results_)
    assert len(results) == len(search.study_.trials) == 8
    assert results["trial_number"].tolist() == list(range(8))
    states = {t.number: t.state.name for t in search.study_.trials}
    assert results["state"].tolist() == [states[n] for n in range(8)]
    pruned = results[results["state"] == "PRUNED"]
    finished = results[results["state"] == "COMPLETE"]
    assert len(pruned) == search.n_pruned_trials_ > 0
    assert len(finished) == search.n_trials_ == 8 - len(pruned)
    # The scores a pruned trial reached: each fold's model up to its last epoch.
    for key in ("split0_test_score", "split1_test_score", "mean_train_score"):
        assert np.isfinite(pruned[key]).all()
    assert (pruned["mean_fit_time"] > 0).all()
    assert results.loc[search.best_index_, "state"] == "COMPLETE"
    assert search.best_score_ == finished["mean_test_score"].max()
    assert search.best_params_ == results.loc[search.best_index_, "params"]
    assert results.loc[search.best_index_, "rank_test_score"] == 1
    assert pruned["rank_test_score"].min() > finished["rank_test_score"].max()


def test_rank_finished_first():
    from sknn.model_selection._records import rank_finished_first

    means = [0.5, 0.9, np.nan, 0.7, 0.5, 0.95]
    pruned = [False, True, False, False, False, True]
    # Finished: 0.7 -> 1, the two 0.5 tie at 2, NaN last (4); pruned after them.
    assert rank_finished_first(means, pruned).tolist() == [2, 6, 4, 1, 2, 5]


def test_other_estimators_run_unpruned(data):
    X, y = data
    search = OptunaSearchCV(
        LogisticRegression(),
        {"C": FloatDistribution(1e-2, 10, log=True)},
        n_trials=3,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert search.n_epochs_ == 0
    assert all(not t.intermediate_values for t in search.study_.trials)
    no_pruning = OptunaSearchCV(
        MLPClassifier(**FAST), LR, n_trials=2, cv=2, pruning=False
    ).fit(X, y)
    assert no_pruning.n_epochs_ == 0


# ---------------------------------------------------------------- running the search
class PidScorer:
    """Accuracy, and a file named after the id of the process that scored."""

    def __init__(self, folder):
        self.folder = folder

    def __call__(self, estimator, X, y):
        (self.folder / str(os.getpid())).touch()
        return float(np.mean(estimator.predict(X) == y))


def _two_job_search(folder, n_trials):
    """A search with two workers whose scorer leaves the ids of its processes (no
    pruning, so that every trial is a row of ``cv_results_``)."""
    return OptunaSearchCV(
        MLPClassifier(**FAST),
        LR,
        n_trials=n_trials,
        cv=2,
        n_jobs=2,
        pruning=False,
        scoring=PidScorer(folder),
        verbose=1,
        random_state=0,
    )


def test_n_jobs_runs_trials_in_worker_processes(data, tmp_path, capsys):
    """joblib's default backend: worker processes share the study (in memory for the
    user, through a temporary journal file), with a progress bar."""
    X, y = data
    search = _two_job_search(tmp_path, n_trials=6).fit(X, y)
    assert search.n_trials_ == 6
    assert [t.state for t in search.study_.trials] == [TrialState.COMPLETE] * 6
    assert isinstance(search.study_._storage, optuna.storages.InMemoryStorage)
    pids = {int(p.name) for p in tmp_path.iterdir()}
    assert pids and os.getpid() not in pids and len(pids) <= 2
    assert "trials" in capsys.readouterr().err
    assert search.best_estimator_.score(X, y) > 0.5


def test_n_jobs_processes_on_a_journal_file(data, tmp_path):
    X, y = data
    path = tmp_path / "study.journal"
    OptunaSearchCV(
        MLPClassifier(**FAST), LR, n_trials=4, cv=2, n_jobs=2, storage=str(path),
        study_name="s", refit=False, random_state=0,
    ).fit(X, y)  # fmt: skip
    stored = optuna.load_study(
        study_name="s",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(path))
        ),
    )
    # The workers of one fit claim trials under a shared lock: none is surplus.
    assert len(stored.trials) == 4


def test_workers_of_one_fit_count_and_claim_trials_under_their_lock(
    tmp_path, monkeypatch
):
    """Every count-and-ask of a worker happens under the lock its ``fit`` shares
    with its other workers; the process lock is a file that exists while held."""

    class SpyLock:
        depth = 0

        def __enter__(self):
            self.depth += 1

        def __exit__(self, *exc):
            self.depth -= 1

    spy, held = SpyLock(), []
    next_trial = OptunaSearchCV._next_trial

    def checked(self, study, ctx):
        held.append(spy.depth)
        return next_trial(self, study, ctx)

    monkeypatch.setattr(OptunaSearchCV, "_next_trial", checked)
    monkeypatch.setattr(
        OptunaSearchCV,
        "_run_trial",
        lambda self, study, trial, ctx: study.tell(trial, 1.0),
    )
    study = optuna.create_study(direction="maximize")
    search = OptunaSearchCV(MLPClassifier(**FAST), LR, n_trials=3)
    search._work(study, SimpleNamespace(space=LR), None, None, spy)
    assert held == [1, 1, 1, 1] and len(study.trials) == 3
    with ClaimLock(str(tmp_path / "claim")):
        assert len(list(tmp_path.iterdir())) == 1
    assert not list(tmp_path.iterdir())


def test_worker_of_another_fit_racing_for_the_last_trial_fails_it_unrun():
    """Without a shared lock (separate ``fit`` calls, e.g. on other machines), a
    worker whose new trial is numbered after the last one of the budget fails it,
    marked, and waits instead of running one trial too many."""
    study = optuna.create_study(direction="maximize")
    ask = study.ask

    def racing_ask(space):
        ask(space)  # another machine claims the last trial first
        return ask(space)

    study.ask = racing_ask
    search = OptunaSearchCV(MLPClassifier(**FAST), LR, n_trials=1)
    assert search._next_trial(study, SimpleNamespace(space=LR)) is _WAIT
    other, mine = study.get_trials()
    assert other.state == TrialState.RUNNING
    assert mine.state == TrialState.FAIL and mine.user_attrs[SURPLUS_ATTR]


class FailRunningTrial(Callback):
    """Plays another worker that finds the running trial's heartbeat late and fails
    it (once, after ``epoch`` epochs of a fit)."""

    storage = None
    epoch = 1

    def on_epoch_end(self, trainer, record):
        storage, FailRunningTrial.storage = FailRunningTrial.storage, None
        if storage is not None and record["epoch"] >= FailRunningTrial.epoch:
            (study,) = storage.get_all_studies()
            for t in storage.get_all_trials(study._study_id, deepcopy=False):
                if t.state == TrialState.RUNNING:
                    storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        elif storage is not None:
            FailRunningTrial.storage = storage


@pytest.mark.parametrize("pruning", [True, False])
def test_a_trial_failed_by_another_worker_while_running_is_dropped(data, pruning):
    """A worker whose running trial another worker failed (late heartbeat) warns,
    drops that result and goes on; the trial is neither counted nor a row."""
    X, y = data
    storage = optuna.storages.InMemoryStorage()
    FailRunningTrial.storage = storage
    FailRunningTrial.epoch = 1 if pruning else FAST["max_iter"]
    with pytest.warns(RuntimeWarning, match="marked failed by another worker"):
        search = OptunaSearchCV(
            MLPClassifier(**FAST, callbacks=[FailRunningTrial()]),
            LR,
            n_trials=3,
            cv=2,
            pruning=pruning,
            storage=storage,
            study_name="taken",
            refit=False,
            random_state=0,
        ).fit(X, y)
    states = [t.state for t in search.study_.trials]
    assert states == [TrialState.FAIL] + [TrialState.COMPLETE] * 3
    assert search.cv_results_["trial_number"].tolist() == [1, 2, 3]
    assert search.n_trials_ == 3


def test_threads_timeout_and_progress_bar(data, tmp_path, capsys):
    X, y = data
    with joblib.parallel_config(backend="threading"):
        search = _two_job_search(tmp_path, n_trials=4).fit(X, y)
    assert len(search.study_.trials) == 4
    assert search.n_trials_ == 4
    assert {int(p.name) for p in tmp_path.iterdir()} == {os.getpid()}
    assert "trials" in capsys.readouterr().err
    timed = OptunaSearchCV(
        MLPClassifier(**FAST), LR, n_trials=None, timeout=0.5, cv=2, refit=False
    ).fit(X, y)
    assert timed.n_trials_ >= 1


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_timeout_shorter_than_a_trial_still_runs_one_trial_per_worker(data, n_jobs):
    """As in ``Study.optimize``: no trial starts after the timeout, but each worker
    runs one, even where starting worker processes outlasts the timeout."""
    X, y = data
    search = OptunaSearchCV(
        MLPClassifier(**FAST), LR, n_trials=None, timeout=1e-3, cv=2, n_jobs=n_jobs,
        pruning=False, refit=False,
    ).fit(X, y)  # fmt: skip
    assert search.n_trials_ == n_jobs
    assert len(search.study_.trials) == n_jobs


def test_int_distribution_and_refit_false(data):
    X, y = data
    search = OptunaSearchCV(
        MLPClassifier(**FAST),
        {"hidden_layer_sizes": IntDistribution(2, 6)},
        n_trials=2,
        cv=2,
        refit=False,
        random_state=0,
    ).fit(X, y)
    assert not hasattr(search, "best_estimator_")
    assert isinstance(search.best_params_["hidden_layer_sizes"], int)


def test_unpruned_trials_train_their_folds_in_one_stacked_pass(data, monkeypatch):
    """Without pruning, the folds of a trial share one stacked pass (issue: train
    many networks at once), with the same fold scores as scikit-learn's search."""
    import sknn.model_selection._vectorized as vectorized

    calls = []
    real = vectorized._fit_many

    def spy(estimators, datasets, **kwargs):
        calls.append(len(estimators))
        return real(estimators, datasets, **kwargs)

    monkeypatch.setattr(vectorized, "_fit_many", spy)
    X, y = data
    cv = StratifiedKFold(3)
    est = MLPClassifier(**FAST)
    search = OptunaSearchCV(
        est,
        {"alpha": CategoricalDistribution([1e-4, 1e-2])},
        n_trials=2,
        cv=cv,
        pruning=False,
        random_state=0,
    ).fit(X, y)
    assert calls == [3, 3]
    grid = GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=cv).fit(X, y)
    for i, params in enumerate(search.cv_results_["params"]):
        j = grid.cv_results_["params"].index(params)
        for k in range(3):
            key = f"split{k}_test_score"
            assert search.cv_results_[key][i] == pytest.approx(grid.cv_results_[key][j])


def test_pruned_search_trains_the_folds_of_a_trial_in_one_stacked_pass(
    data, monkeypatch
):
    """With pruning, the folds of a trial advance together in one stacked pass, epoch
    by epoch, and give the fold scores (and reported means) of fitting them one by
    one."""
    from sklearn.metrics import get_scorer

    import sknn.model_selection._pruning as pruning
    from sknn.training.stacked import StackedTrainer

    X, y = data
    splits = list(StratifiedKFold(3).split(X, y))
    est = MLPClassifier(**{**FAST, "max_iter": 6})

    def run():
        study = optuna.create_study(
            direction="maximize", pruner=optuna.pruners.NopPruner()
        )
        trial = study.ask()
        outs, epochs = pruning.cross_validate_pruned(
            est, X, y, splits, trial, scorer=get_scorer("accuracy"), fit_params={},
            score_params={}, return_train_score=False, error_score="raise",
        )  # fmt: skip
        reported = dict(trial.storage.get_trial(trial._trial_id).intermediate_values)
        return [o["test_scores"] for o in outs], epochs, reported

    passes = []
    real_begin = StackedTrainer.begin

    def spy(self):
        passes.append(len(self.trainers))
        return real_begin(self)

    monkeypatch.setattr(StackedTrainer, "begin", spy)
    stacked = run()
    assert passes == [3]
    monkeypatch.setattr(pruning._StackedFolds, "create", classmethod(lambda c, f: None))
    alone = run()
    assert passes == [3]
    assert stacked[1] == alone[1] == 18
    np.testing.assert_allclose(stacked[0], alone[0])
    assert stacked[2].keys() == alone[2].keys()
    np.testing.assert_allclose(list(stacked[2].values()), list(alone[2].values()))
