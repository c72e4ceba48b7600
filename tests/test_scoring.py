"""Validation metrics: the ``scoring`` parameter, ``trainer.validation`` in callbacks,
and early stopping on any scikit-learn scorer."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score, fbeta_score, make_scorer, mean_absolute_error
from sklearn.utils import check_random_state

import sknn
from sknn import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
    RNNClassifier,
    RNNRegressor,
)
from sknn.callbacks import Callback, EarlyStopping
from sknn.data.split import validation_split
from sknn.targets import ClassTargets
from sknn.training.stack_plan import stack_reason

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=8, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def data():
    return make_classification(300, 8, random_state=0)


def _held_out(y, stratify=True):
    """The rows the estimators hold out (the same seeded split, stratified for
    classifiers)."""
    _, va = validation_split(
        len(y),
        0.1,
        stratify=y if stratify else None,
        random_state=check_random_state(0),
    )
    return va


class _Sees(Callback):
    """Keeps what callbacks see of the validation rows at each epoch's end."""

    requires_validation = True

    def on_train_begin(self, trainer):
        self.seen = []

    def on_epoch_end(self, trainer, record):
        v = trainer.validation
        self.seen.append((v.y_true, v.predict(), v.predict_proba(), dict(record)))


def test_callbacks_see_the_validation_targets_and_predictions(data):
    X, y = data
    clf = MLPClassifier(**FAST, callbacks=[_Sees()]).fit(X, y)
    seen = clf.callbacks_[0].seen
    assert len(seen) == clf.n_iter_
    va = _held_out(y)
    y_true, pred, proba, record = seen[-1]  # the final weights' predictions
    np.testing.assert_array_equal(y_true, y[va])
    np.testing.assert_array_equal(pred, clf.predict(X[va]))
    np.testing.assert_allclose(proba, clf.predict_proba(X[va]))
    assert record["valid_score"] == pytest.approx((pred == y_true).mean())


def test_early_stopping_on_a_scorer_name(data):
    X, y = data
    sees = _Sees()
    stop = EarlyStopping("valid_f1", patience=2, restore_best_weights=False)
    clf = MLPClassifier(**{**FAST, "max_iter": 60}, callbacks=[sees, stop]).fit(X, y)
    assert clf.n_iter_ < 60 and clf.callbacks_[1].stopped_epoch_ == clf.n_iter_
    for (y_true, pred, _, _), record in zip(clf.callbacks_[0].seen, clf.history_):
        assert record["valid_f1"] == pytest.approx(f1_score(y_true, pred))


def test_scoring_name_is_the_validation_score(data):
    X, y = data
    clf = MLPClassifier(**FAST, early_stopping=True, scoring="f1", callbacks=[_Sees()])
    clf.fit(X, y)
    f1 = [f1_score(t, p) for t, p, _, _ in clf.callbacks_[0].seen]
    np.testing.assert_allclose(clf.validation_scores_, f1)
    np.testing.assert_allclose([r["valid_f1"] for r in clf.history_], f1)
    assert clf.best_validation_score_ == max(f1)


def test_several_scorers_are_recorded_and_the_default_score_stays(data):
    X, y = data
    plain = MLPClassifier(**FAST, early_stopping=True).fit(X, y)
    clf = MLPClassifier(
        **FAST, early_stopping=True, scoring={"f1": "f1", "ll": "neg_log_loss"}
    ).fit(X, y)
    assert clf.validation_scores_ == plain.validation_scores_  # still accuracy
    for record in clf.history_:
        assert record["valid_ll"] == pytest.approx(-record["valid_loss"])
        assert 0 <= record["valid_f1"] <= 1


def test_scoring_loss_and_a_callable(data):
    X, y = data
    by_loss = MLPClassifier(**FAST, early_stopping=True, scoring="loss").fit(X, y)
    assert by_loss.validation_scores_ == [-r["valid_loss"] for r in by_loss.history_]
    f2 = make_scorer(fbeta_score, beta=2)
    clf = MLPClassifier(**FAST, early_stopping=True, scoring=f2, callbacks=[_Sees()])
    clf.fit(X, y)
    expected = [fbeta_score(t, p, beta=2) for t, p, _, _ in clf.callbacks_[0].seen]
    np.testing.assert_allclose(clf.validation_scores_, expected)


def test_regressor_scoring_on_the_original_scale(diabetes):
    X, y = diabetes
    reg = MLPRegressor(
        **FAST, early_stopping=True, scoring="neg_mean_absolute_error"
    ).fit(X, y)
    va = _held_out(y, stratify=False)
    # The best epoch's weights are restored: its recorded score is theirs.
    assert reg.best_validation_score_ == pytest.approx(
        -mean_absolute_error(y[va], reg.predict(X[va])), rel=1e-6
    )


def test_sample_weights_weigh_the_scorers(data):
    X, y = data
    w = np.random.RandomState(0).uniform(0.1, 3.0, len(y))
    clf = MLPClassifier(**FAST, early_stopping=True, scoring="accuracy")
    clf.set_params(callbacks=[_Sees()]).fit(X, y, sample_weight=w)
    va = _held_out(y)
    t, p, _, _ = clf.callbacks_[0].seen[0]
    expected = np.average(t == p, weights=w[va])
    assert clf.validation_scores_[0] == pytest.approx(expected)


def test_early_stopping_mode_treats_negated_losses_as_scores(data):
    X, y = data
    stop = EarlyStopping("valid_neg_log_loss", patience=100)
    clf = MLPClassifier(**FAST, callbacks=[stop]).fit(X, y)
    best = max(r["valid_neg_log_loss"] for r in clf.history_)
    assert clf.callbacks_[0].best_value_ == best


@pytest.mark.parametrize(
    "scoring, match",
    [
        ("no_such_scorer", "not a valid scoring value"),
        (["f1", "f1"], "unique scorer names"),
        ({"bad name": "f1"}, "identifiers"),
        ({"score": "f1"}, "valid_score is recorded already"),
        ({"f1": 3}, "must be a scorer name or a callable"),
    ],
)
def test_bad_scoring_is_refused_at_fit(data, scoring, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**FAST, scoring=scoring).fit(X, y)


def test_unknown_monitored_metric_says_what_is_computed(data):
    X, y = data
    with pytest.raises(ValueError, match="any scikit-learn scorer name"):
        MLPClassifier(**FAST, callbacks=[EarlyStopping("valid_nope")]).fit(X, y)


ALL = (MLPClassifier, MLPRegressor, CNNClassifier, CNNRegressor, RNNClassifier,
       RNNRegressor, NeuralNetClassifier, NeuralNetRegressor)  # fmt: skip


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_estimator_takes_scoring(cls):
    assert inspect.signature(cls).parameters["scoring"].default is None
    assert "scoring : str, callable, list, tuple, dict or None" in cls.__doc__
    est = cls(scoring=["f1", "roc_auc"])
    assert clone(est).get_params()["scoring"] == ["f1", "roc_auc"]
    est.set_params(scoring="loss")._validate_params()


@pytest.mark.parametrize("cls", [CNNClassifier, RNNClassifier, NeuralNetClassifier])
def test_scoring_in_the_other_families(data, cls):
    X, y = data
    est = cls(max_iter=3, random_state=0, device="cpu", early_stopping=True)
    est.set_params(scoring="balanced_accuracy").fit(X.astype(np.float32), y)
    assert [r["valid_balanced_accuracy"] for r in est.history_] == (
        est.validation_scores_
    )


@pytest.mark.parametrize("scoring", ["f1", ["f1", "accuracy"], {"ll": "neg_log_loss"}])
def test_scoring_survives_save_and_load(data, tmp_path, scoring):
    X, y = data
    clf = MLPClassifier(**FAST, scoring=scoring).fit(X, y)
    sknn.save(clf, tmp_path / "m.sknn")
    assert sknn.load(tmp_path / "m.sknn").get_params()["scoring"] == scoring


def test_a_callable_scoring_is_not_saved(data, tmp_path):
    X, y = data
    clf = MLPClassifier(**FAST, scoring=make_scorer(f1_score)).fit(X, y)
    with pytest.raises(TypeError, match="cannot store parameter 'scoring'"):
        sknn.save(clf, tmp_path / "m.sknn")


def test_host_scorers_are_not_stacked(data):
    X, y = data
    for scoring, stacked in ((None, True), ("loss", True), ("f1", False)):
        est = MLPClassifier(**FAST, early_stopping=True, scoring=scoring)
        run = est._setup_fit(X, y)
        assert (stack_reason(run.trainer, run.train) is None) is stacked


def test_default_epoch_reads_no_predictions(data, monkeypatch):
    # No scoring: the validation predictions are never decoded on the host.
    X, y = data
    calls = []
    original = ClassTargets.predict

    def spy(self, out, dtype):
        calls.append(1)
        return original(self, out, dtype)

    monkeypatch.setattr(ClassTargets, "predict", spy)
    MLPClassifier(**FAST, early_stopping=True).fit(X, y)
    assert not calls
    MLPClassifier(**FAST, early_stopping=True, scoring="f1").fit(X, y)
    assert len(calls) == 8  # once per epoch, when asked


def test_a_callable_scorer_gets_the_validation_rows(data):
    X, y = data
    seen = []

    def scorer(est, X_valid, y_valid):
        # Other rows are predicted by the network, the validation rows are the
        # epoch's predictions whatever object holds them.
        seen.append((X_valid, est.predict(X[:10]), est.predict_proba(X[:7])))
        return float(np.mean(est.predict(X_valid.copy()) == y_valid))

    clf = MLPClassifier(**FAST, early_stopping=True, scoring=scorer).fit(X, y)
    by_name = MLPClassifier(**FAST, early_stopping=True, scoring="accuracy").fit(X, y)
    assert clf.validation_scores_ == by_name.validation_scores_
    assert len(seen) == clf.n_iter_
    for X_valid, ten, seven in seen:
        np.testing.assert_array_equal(X_valid, X[_held_out(y)])
        assert ten.shape == (10,) and set(ten) <= set(clf.classes_)
        assert seven.shape == (7, 2)


def test_a_callable_scorer_refuses_a_streamed_dataset(data):
    torch = pytest.importorskip("torch")
    from torch.utils.data import TensorDataset

    X, y = data
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    clf = MLPClassifier(
        **FAST,
        early_stopping=True,
        scoring=lambda est, X, y: 0.0,
        data_placement="stream",
    )
    with pytest.raises(ValueError, match="keeps no rows in memory"):
        clf.fit(ds)
    # Scorer names need no rows: the same fit runs.
    clf.set_params(scoring="accuracy").fit(ds)
