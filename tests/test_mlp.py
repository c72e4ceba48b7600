"""Behaviour of MLPClassifier / MLPRegressor that users of scikit-learn's MLP rely on."""

from __future__ import annotations

import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknn
from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import Callback, EarlyStopping

CPU = dict(device="cpu", random_state=0)


# --------------------------------------------------------------------- real data
def test_breast_cancer_pipeline_accuracy(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**CPU))
    assert cross_val_score(pipe, X, y, cv=5).mean() >= 0.96


def test_diabetes_r2_with_defaults(diabetes):
    X, y = diabetes
    pipe = make_pipeline(StandardScaler(), MLPRegressor(**CPU))
    assert cross_val_score(pipe, X, y, cv=5, scoring="r2").mean() >= 0.45


def test_digits_held_out_accuracy(digits):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    clf = MLPClassifier(**CPU).fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) >= 0.95


def test_target_scaling_trains_raw_targets(diabetes):
    """Raw targets in the hundreds train well without a TransformedTargetRegressor."""
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    params = dict(**CPU, max_iter=50)
    scaled = MLPRegressor(**params).fit(X_tr, y_tr).score(X_te, y_te)
    raw = MLPRegressor(**params, scale_target=False).fit(X_tr, y_tr).score(X_te, y_te)
    # Unscaled (scikit-learn's behaviour) has not even reached the mean predictor yet.
    assert raw < 0
    assert scaled > 0.25


# --------------------------------------------------------------------- labels and outputs
@pytest.mark.parametrize(
    "labels", [np.array(["cat", "dog", "emu"]), np.array([10, 20, 30]), None]
)
def test_labels_come_back_in_their_type(iris, labels):
    X, y = iris
    if labels is None:  # booleans: binary
        y_lab = y > 0
    else:
        y_lab = labels[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, **CPU).fit(X, y_lab)
    pred = clf.predict(X)
    assert pred.ndim == 1
    assert pred.dtype == np.asarray(y_lab).dtype
    assert set(pred) <= set(y_lab)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6)


def test_binary_has_one_logistic_output(breast_cancer):
    X, y = breast_cancer
    clf = MLPClassifier(hidden_layer_sizes=(8, 4), max_iter=5, **CPU).fit(X, y)
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 1
    assert [c.shape for c in clf.coefs_] == [(30, 8), (8, 4), (4, 1)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (4,), (1,)]
    assert clf.n_layers_ == 4


def test_multilabel_classification():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    clf = MLPClassifier(max_iter=200, **CPU).fit(X, Y)
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    assert clf.score(X, Y) > 0.5
    assert clf.predict_proba(X).shape == Y.shape


def test_multioutput_regression():
    from sklearn.datasets import load_linnerud

    X, Y = load_linnerud(return_X_y=True)
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, **CPU).fit(X, Y)
    assert reg.predict(X).shape == Y.shape
    assert reg.n_outputs_ == 3


@pytest.mark.parametrize(
    "loss", ["squared_error", "absolute_error", "huber", "poisson"]
)
def test_regression_losses_train(diabetes, loss):
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    reg = MLPRegressor(hidden_layer_sizes=(32,), loss=loss, max_iter=80, **CPU)
    assert reg.fit(X, y).score(X, y) > 0.4
    if loss == "poisson":
        assert reg.out_activation_ == "exp"
        assert np.all(reg.predict(X) > 0)
        with pytest.raises(ValueError, match="negative"):
            clone(reg).fit(X, y - 200)


# --------------------------------------------------------------------- inputs
def test_inputs_of_any_numeric_dtype_and_container(iris):
    X, y = iris
    base = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, **CPU)
    ref = clone(base).fit(X.astype(np.float32), y).predict_proba(X)
    for X_in in (X, X.astype(np.float16), (X * 10).astype(np.int64), X.tolist()):
        np.testing.assert_allclose(
            clone(base).fit(X_in, y).predict_proba(X), ref, atol=0.05
        )


def test_sparse_input_matches_dense():
    rng = np.random.RandomState(0)
    X = sp.random(300, 40, density=0.2, format="csr", random_state=rng)
    y = rng.randint(0, 3, 300)
    params = dict(hidden_layer_sizes=(16,), max_iter=20, **CPU)
    dense = MLPClassifier(**params).fit(X.toarray(), y).predict_proba(X.toarray())
    sparse = MLPClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(sparse, dense, atol=1e-5)


def test_sparse_input_is_densified_one_batch_at_a_time(monkeypatch):
    from sknn.training.data import TensorData

    rows = []
    real = TensorData._dense

    def spy(self, x, sl):
        block = real(self, x, sl)
        rows.append(block.shape[0])
        return block

    monkeypatch.setattr(TensorData, "_dense", spy)
    rng = np.random.RandomState(0)
    X = sp.random(5000, 40, density=0.05, format="csr", random_state=rng)
    y = rng.randint(0, 2, 5000)
    clf = MLPClassifier((8,), batch_size=32, max_iter=1, **CPU).fit(X, y)
    # Training batches of 32 rows, then the end-of-fit check that the outputs on the
    # first training rows are finite (one small block): never the whole matrix.
    from sknn.training.engine import _CHECKED_ROWS

    assert rows.count(32) == 5000 // 32
    assert max(rows) <= _CHECKED_ROWS < 5000
    rows.clear()
    # Prediction converts one chunk at a time (sknn.training.inference).
    from sknn.training import inference

    real_chunk = inference.to_device_chunk

    def chunk_spy(x, start, stop, *args):
        block = real_chunk(x, start, stop, *args)
        if sp.issparse(x):
            rows.append(block.shape[0])
        return block

    monkeypatch.setattr(inference, "to_device_chunk", chunk_spy)
    assert clf.predict(X).shape == (5000,)
    assert sum(rows) == 5000 and max(rows) < 5000


def test_pandas_feature_names_are_kept_and_checked(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, **CPU).fit(df, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"a": "z"}))


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X_bad, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0], [0.0, 1.0]]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0], [0.0, 1.0]]), "infinity"),
        (np.empty((0, 2)), "0 sample"),
    ],
)
def test_bad_X_gets_a_clear_error(X_bad, match):
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**CPU).fit(X_bad, np.arange(len(X_bad)) % 2)


def test_single_class_fits_and_predicts_it(iris):
    """scikit-learn's MLP fits a one-class y (it used to raise here)."""
    X, _ = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, **CPU)
    clf.fit(X, np.full(len(X), "only"))
    assert list(clf.classes_) == ["only"]
    assert set(clf.predict(X)) == {"only"}
    np.testing.assert_array_equal(clf.predict_proba(X[:3]), np.ones((3, 1)))
    assert clf.score(X, np.full(len(X), "only")) == 1.0


def test_feature_count_error(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, **CPU).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "newton"},
        {"activation": "swish2"},
        {"alpha": -1.0},
        {"learning_rate_init": 0.0},
        {"dropout": 1.0},
        {"validation_fraction": 1.5},
        {"dtype": "float16"},
    ],
)
def test_bad_parameters_are_rejected_before_training(iris, params):
    X, y = iris
    with pytest.raises(ValueError, match=next(iter(params))):
        MLPClassifier(**CPU, **params).fit(X, y)


def test_unavailable_device_is_a_clear_error(iris):
    X, y = iris
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        MLPClassifier(device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="not a valid device"):
        MLPClassifier(device="gpu0").fit(X, y)


def test_diverging_loss_keeps_last_good_weights(diabetes):
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    reg = MLPRegressor(
        solver="sgd", learning_rate_init=2.0, momentum=0.0, max_iter=20, **CPU
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert reg.stop_reason_ == "diverged"
    assert np.all(np.isfinite(reg.predict(X)))


class _InterruptAt(Callback):
    def __init__(self, epoch=3):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_leaves_a_usable_estimator(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=50, callbacks=[_InterruptAt(3)], **CPU)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.stop_reason_ == "interrupted"
    assert clf.n_iter_ == 3
    assert clf.predict(X).shape == (len(X),)


# --------------------------------------------------------------------- training behaviour
def test_same_seed_same_model_even_with_dropout(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(32,), dropout=0.3, max_iter=20, **CPU)
    a = MLPClassifier(**params).fit(X, y).predict_proba(X)
    b = MLPClassifier(**params).fit(X, y).predict_proba(X)
    c = MLPClassifier(**{**params, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_does_not_touch_the_global_torch_stream(iris):
    X, y = iris
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, dropout=0.2, **CPU).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_convergence_warning_when_max_iter_is_reached(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(max_iter=3, **CPU).fit(X, y)


def test_training_loss_plateau_stops_early(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(max_iter=2000, tol=1e-2, **CPU).fit(X, y)
    assert clf.n_iter_ < 2000
    assert "Training loss did not improve" in clf.stop_reason_
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_early_stopping_restores_best_validation_weights(digits):
    X, y = digits
    clf = MLPClassifier(early_stopping=True, n_iter_no_change=3, max_iter=100, **CPU)
    clf.fit(X, y)
    assert clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert set(clf.history_.keys()) >= {"train_loss", "valid_loss", "valid_score", "lr"}
    # The kept weights are the best epoch's: rescoring the (seeded, stratified)
    # validation split gives the best validation score.
    from sknn.data import validation_split

    _, va = validation_split(
        len(X), 0.1, stratify=y, random_state=np.random.RandomState(0)
    )
    assert clf.score(X[va], y[va]) == pytest.approx(clf.best_validation_score_)


def test_early_stopping_callback_monitors_validation_loss(digits):
    X, y = digits
    cb = EarlyStopping(monitor="valid_loss", patience=2)
    clf = MLPClassifier(max_iter=200, callbacks=[cb], **CPU).fit(X, y)
    fitted = clf.callbacks_[0]
    assert cb is not fitted and not hasattr(cb, "best_epoch_")
    assert fitted.stopped_epoch_ == clf.n_iter_
    assert fitted.best_value_ == min(clf.history_["valid_loss"])


def test_partial_fit_runs_one_epoch_per_call(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(16,), **CPU)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and clf.t_ == 50
    for _ in range(4):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5
    assert list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y + 5)


def test_partial_fit_is_absent_for_lbfgs(iris):
    clf = MLPClassifier(solver="lbfgs")
    assert not hasattr(clf, "partial_fit")
    X, y = iris
    assert clf.set_params(max_iter=50, **CPU).fit(X, y).score(X, y) > 0.9


def test_warm_start_continues_training(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, warm_start=True, **CPU)
    clf.fit(X, y)
    first = clf.coefs_[0].copy()
    clf.fit(X, y)
    # n_iter_ counts this fit's epochs, as in scikit-learn; the history goes on.
    assert clf.n_iter_ == 5 and len(clf.history_) == 10 and clf.t_ == 10 * len(X)
    assert not np.allclose(first, clf.coefs_[0])
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(X[y < 2], y[y < 2])


@pytest.mark.parametrize(
    "solver", ["adam", "adamw", "nadam", "radam", "sgd", "rmsprop", "adagrad"]
)
def test_every_solver_learns(iris, solver):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    lr = 0.1 if solver in ("sgd", "adagrad") else 0.01
    clf = MLPClassifier(solver=solver, learning_rate_init=lr, max_iter=100, **CPU)
    assert clf.fit(X, y).score(X, y) > 0.9


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_learning_rate_schedules(iris, schedule):
    X, y = iris
    clf = MLPClassifier(
        solver="sgd",
        learning_rate=schedule,
        learning_rate_init=0.5,
        max_iter=300,
        n_iter_no_change=2,
        tol=1e-3,
        **CPU,
    ).fit(StandardScaler().fit_transform(X), y)
    lrs = clf.history_["lr"]
    assert lrs[-1] < lrs[0]
    if schedule == "invscaling":
        assert lrs[1] == pytest.approx(0.5 / (len(X) + 1) ** 0.5)


@pytest.mark.parametrize(
    "activation",
    [
        "identity",
        "logistic",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "mish",
        "softplus",
    ],
)
def test_every_activation_trains(iris, activation):
    X, y = iris
    clf = MLPClassifier(activation=activation, max_iter=30, **CPU).fit(X, y)
    assert clf.score(X, y) > 0.6


def test_dropout_and_batch_norm_are_in_the_module(iris):
    X, y = iris
    clf = MLPClassifier(dropout=0.2, batch_norm=True, max_iter=20, **CPU).fit(X, y)
    kinds = {type(m).__name__ for m in clf.module_.modules()}
    assert {"Dropout", "BatchNorm1d"} <= kinds
    # predictions are deterministic (eval mode) despite dropout
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def test_class_weight_balanced_helps_the_minority_class():
    from sklearn.datasets import make_classification
    from sklearn.metrics import recall_score

    X, y = make_classification(
        n_samples=600, weights=[0.95], flip_y=0, class_sep=0.5, random_state=0
    )
    params = dict(hidden_layer_sizes=(8,), max_iter=30, **CPU)
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(**params, class_weight="balanced").fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X))


def test_zero_sample_weight_is_like_removing_rows(iris):
    X, y = iris
    w = np.ones(len(X))
    w[::3] = 0
    params = dict(solver="lbfgs", dtype="float64", max_iter=50, **CPU)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
    removed = MLPClassifier(**params).fit(X[w > 0], y[w > 0])
    # L-BFGS's line searches amplify the different summation order a little.
    np.testing.assert_allclose(
        weighted.predict_proba(X), removed.predict_proba(X), atol=1e-5
    )


def test_verbose_prints_scikit_learns_lines(iris, capsys):
    """``Iteration N, loss = ...`` and ``Validation score: ...`` as scikit-learn
    prints them (people parse them), sknn's extras after."""
    import re

    X, y = iris
    clf = MLPClassifier(max_iter=3, verbose=True, early_stopping=True, **CPU)
    clf.fit(X, y)
    out = capsys.readouterr().out.splitlines()
    iters = [ln for ln in out if ln.startswith("Iteration")]
    scores = [ln for ln in out if ln.startswith("Validation score: ")]
    assert len(iters) == len(scores) == 3
    parsed = [re.match(r"Iteration (\d+), loss = ([\d.]+)", ln) for ln in iters]
    assert [int(m.group(1)) for m in parsed] == [1, 2, 3]
    np.testing.assert_allclose([float(m.group(2)) for m in parsed], clf.loss_curve_)
    assert "of 3" in iters[0]
    np.testing.assert_allclose(
        [float(ln.split(": ")[1]) for ln in scores], clf.validation_scores_, atol=1e-6
    )


# --------------------------------------------------------------------- sklearn integration
def test_grid_search_in_parallel_is_reproducible(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=30, learning_rate_init=0.05, **CPU)
    pipe = make_pipeline(StandardScaler(), clf)
    grid = {
        "mlpclassifier__hidden_layer_sizes": [(8,), (16,)],
        "mlpclassifier__alpha": [1e-4, 1e-2],
    }
    a = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    b = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )
    assert a.best_score_ > 0.8


def test_pickle_joblib_and_clone_round_trips(iris, tmp_path):
    X, y = iris
    labels = np.array(["a", "b", "c"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, **CPU).fit(X, labels)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(clf)).predict_proba(X), expected
    )
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert list(loaded.predict(X[:3])) == list(clf.predict(X[:3]))
    # a loaded estimator keeps training (optimizer state travels with it)
    loaded.partial_fit(X, labels)
    assert loaded.n_iter_ == clf.n_iter_ + 1
    fresh = clone(clf)
    assert not hasattr(fresh, "module_")
    assert fresh.get_params() == clf.get_params()


def test_model_saved_from_cuda_loads_without_cuda(iris, monkeypatch):
    """A pickle whose ``device_`` is CUDA loads on a CPU-only machine, on the CPU."""
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, **CPU).fit(X, y)
    state = clf.__getstate__()
    state["device_"] = "cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = MLPClassifier.__new__(MLPClassifier)
    restored.__setstate__(state)
    assert restored.device_ == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


@pytest.mark.cuda
def test_fit_on_cuda_and_predict_after_loading_on_cpu(iris, monkeypatch):
    X, y = iris
    clf = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=5, device="cuda", random_state=0
    )
    clf.fit(X, y)
    assert clf.device_.startswith("cuda")
    blob = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(blob)
    assert loaded.device_ == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    assert next(loaded.module_.parameters()).device.type == "cpu"


@pytest.mark.parametrize(
    "ours, theirs",
    [("MLPClassifier", "MLPClassifier"), ("MLPRegressor", "MLPRegressor")],
)
def test_every_sklearn_parameter_has_the_same_name_and_default(ours, theirs):
    import sklearn.neural_network

    import sknn

    sk_params = getattr(sklearn.neural_network, theirs)().get_params()
    our_params = getattr(sknn, ours)().get_params()
    for name, default in sk_params.items():
        assert name in our_params, name
        assert our_params[name] == default, name


# --------------------------------------------------------------------- scikit-learn's behaviour
# Each test pins one behaviour that differed from scikit-learn's MLP (issue 12); the
# differences that remain are listed in docs/differences.rst.
def _sk_regression():
    from sklearn.datasets import make_regression
    from sklearn.preprocessing import scale

    X, y = make_regression(
        n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7
    )
    return X, scale(y)


def test_lbfgs_stops_by_scikit_learns_rule_and_ignores_early_stopping():
    X, y = _sk_regression()
    params = dict(
        solver="lbfgs", hidden_layer_sizes=50, max_iter=200, tol=1e-3,
        activation="logistic", **CPU,
    )  # fmt: skip
    reg = MLPRegressor(**params).fit(X, y)
    # It used to stop after 24 iterations at R2 0.82 (tol applied to the loss).
    assert reg.n_iter_ > 100 and len(reg.loss_curve_) == reg.n_iter_
    assert reg.score(X, y) > 0.98
    es = MLPRegressor(**params, early_stopping=True).fit(X, y)
    assert es.validation_scores_ is None and es.best_validation_score_ is None
    np.testing.assert_array_equal(es.predict(X), reg.predict(X))


class _CountEvaluations(Callback):
    def on_train_begin(self, trainer):
        self.n_ = 0

    def on_backward_end(self, trainer):
        self.n_ += 1


def test_lbfgs_max_fun_counts_loss_evaluations_and_warns(iris):
    X, y = iris
    clf = MLPClassifier(
        solver="lbfgs", max_fun=10, max_iter=150, callbacks=[_CountEvaluations()], **CPU
    )
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf.fit(X, y)
    assert clf.callbacks_[0].n_ <= 10 + 1  # scipy stops once it exceeds max_fun
    assert clf.n_iter_ < 10


def test_multilabel_loss_is_summed_over_labels():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=60, random_state=0)
    clf = MLPClassifier(solver="lbfgs", alpha=0.0, max_iter=30, **CPU).fit(X, Y)
    p = np.clip(clf.predict_proba(X), 1e-12, 1 - 1e-12)
    sk_loss = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1).mean()
    np.testing.assert_allclose(clf.loss_, sk_loss, rtol=1e-6)


def test_n_iter_no_change_inf_never_stops_early(iris):
    X, y = iris
    clf = MLPClassifier(
        (8,), solver="sgd", tol=1e9, max_iter=15, n_iter_no_change=np.inf, **CPU
    ).fit(X, y)
    assert clf.n_iter_ == 15 and clf.stop_reason_ is None


def test_partial_fit_is_as_strict_as_scikit_learns(iris):
    X, y = iris
    clf = MLPClassifier((8,), **CPU).partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 1, 0])  # the same classes, any order
    with pytest.raises(ValueError, match="not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    es = MLPClassifier((8,), max_iter=5, early_stopping=True, **CPU).fit(X, y)
    with pytest.raises(ValueError, match="does not support early_stopping=True"):
        es.partial_fit(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_precision_is_kept(diabetes, dtype):
    X, y = diabetes
    reg = MLPRegressor((8,), max_iter=5, **CPU).fit(X.astype(dtype), y)
    assert reg.predict(X.astype(dtype)).dtype == dtype
    assert all(c.dtype == dtype for c in reg.coefs_ + reg.intercepts_)
    clf = MLPClassifier((8,), max_iter=5, **CPU).fit(X.astype(dtype), y > 140)
    assert clf.predict_proba(X.astype(dtype)).dtype == dtype
    fast = MLPRegressor((8,), max_iter=5, dtype="float32", **CPU).fit(X, y)
    assert fast.predict(X).dtype == np.float32


def _input_kinds(X):
    """``X`` in every container and numeric dtype scikit-learn accepts."""
    import pandas as pd

    ints = (X * 10).astype(np.int64)
    return {
        "list": X.tolist(),
        "tuple": tuple(map(tuple, X)),
        "int list": ints.tolist(),
        "int64": ints,
        "bool": X > X.mean(),
        "float16": X.astype(np.float16),
        "object": X.astype(object),
        "float32": X.astype(np.float32),
        "DataFrame": pd.DataFrame(X),
        "DataFrame float32": pd.DataFrame(X.astype(np.float32)),
        "DataFrame int": pd.DataFrame(ints),
        "csr": sp.csr_matrix(X),
        "csr float32": sp.csr_matrix(X.astype(np.float32)),
        "csr int": sp.csr_matrix(ints),
    }


def test_auto_dtype_resolves_every_input_kind_as_scikit_learn_converts(diabetes):
    """Lists, tuples, integers, booleans, objects and float16 train in float64 (as
    scikit-learn converts them), float32 in float32; a list gives the weights of
    the same values as an ndarray (it used to train in float32)."""
    from sklearn.utils.validation import check_array

    X, y = diabetes
    X = X[:80]
    params = dict(hidden_layer_sizes=(8,), max_iter=3, **CPU)
    for name, X_in in _input_kinds(X).items():
        reg = MLPRegressor(**params).fit(X_in, y[:80])
        sklearn_dtype = check_array(
            X_in, accept_sparse=True, dtype=(np.float64, np.float32)
        ).dtype
        assert reg.coefs_[0].dtype == sklearn_dtype, name
        assert reg.predict(X_in).dtype == sklearn_dtype, name
    as_list = MLPRegressor(**params).fit(X.tolist(), y[:80])
    as_array = MLPRegressor(**params).fit(X, y[:80])
    for a, b in zip(
        as_list.coefs_ + as_list.intercepts_, as_array.coefs_ + as_array.intercepts_
    ):
        np.testing.assert_array_equal(a, b)


def test_check_regressor_data_not_an_array_passes():
    from sklearn.utils.estimator_checks import check_regressor_data_not_an_array

    check_regressor_data_not_an_array("MLPRegressor", MLPRegressor(**CPU))


def test_float64_partial_fit_matches_fit():
    X, y = _sk_regression()
    params = dict(solver="sgd", learning_rate_init=0.01, batch_size=50, **CPU)
    fitted = MLPRegressor(**params, max_iter=30, tol=0.0).fit(X, y)
    inc = MLPRegressor(**params)
    for _ in range(30):
        inc.partial_fit(X, y)
    # Shuffling continues from call to call, so the epochs are the same ones.
    np.testing.assert_allclose(inc.predict(X), fitted.predict(X), rtol=1e-7)


def test_partial_fit_with_dropout_matches_fit(tmp_path):
    X, y = _sk_regression()
    params = dict(dropout=0.3, batch_size=50, dtype="float64", **CPU)
    fitted = MLPRegressor(**params, max_iter=12, tol=0.0).fit(X, y)
    inc = MLPRegressor(**params)
    for _ in range(6):
        inc.partial_fit(X, y)
    # The dropout stream continues from call to call, through a model file too.
    sknn.save(inc, tmp_path / "inc.sknn")
    inc = sknn.load(tmp_path / "inc.sknn")
    for _ in range(6):
        inc.partial_fit(X, y)
    np.testing.assert_allclose(inc.predict(X), fitted.predict(X), rtol=1e-7)


def test_early_stopping_splits_raise_like_scikit_learn(iris):
    X, y = iris
    y_one = np.r_[np.zeros(len(X) - 1), 1]  # a class with one member
    with pytest.raises(ValueError, match="least populated classes in y have only 1"):
        MLPClassifier(early_stopping=True, **CPU).fit(X, y_one)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True, **CPU).fit(X[:2], y[:2])


def test_diverged_validation_score_is_nan(diabetes):
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    reg = MLPRegressor(
        solver="sgd", learning_rate_init=2.0, momentum=0.0, max_iter=20,
        early_stopping=True, **CPU,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert not np.isnan(reg.validation_scores_[:-1]).any()
    assert len(reg.validation_scores_) == reg.n_iter_ + 1  # the diverged epoch too


def test_coefs_and_intercepts_can_be_assigned(iris):
    X, y = iris
    teacher = MLPClassifier((8,), max_iter=50, **CPU).fit(X, y)
    student = MLPClassifier((8,), max_iter=1, random_state=1, device="cpu").fit(X, y)
    student.coefs_ = teacher.coefs_
    student.intercepts_ = teacher.intercepts_
    np.testing.assert_allclose(student.predict_proba(X), teacher.predict_proba(X))
    with pytest.raises(ValueError, match="shape"):
        student.coefs_ = [c.T for c in teacher.coefs_]
    # Before the first partial_fit, as scikit-learn users initialise a network; the
    # list's items may still be replaced after the assignment.
    fresh = MLPClassifier((8,), solver="sgd", learning_rate_init=1e-9, **CPU)
    fresh.coefs_ = [None, None]
    fresh.coefs_[0], fresh.coefs_[1] = teacher.coefs_
    fresh.intercepts_ = teacher.intercepts_
    fresh.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(
        fresh.predict_proba(X), teacher.predict_proba(X), atol=1e-6
    )


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_learning_rate_schedules_apply_to_sgd_only_by_default(iris, solver):
    X, y = iris
    params = dict(solver=solver, learning_rate="invscaling", max_iter=3, **CPU)
    lr = MLPClassifier((8,), **params).fit(X, y).optimizer_.param_groups[0]["lr"]
    expected = 0.001 / (3 * len(X) + 1) ** 0.5 if solver == "sgd" else 0.001
    assert float(lr) == pytest.approx(expected)
    torch_mode = MLPClassifier((8,), **params, learning_rate_mode="torch").fit(X, y)
    assert float(torch_mode.optimizer_.param_groups[0]["lr"]) == pytest.approx(
        0.001 / (3 * len(X) + 1) ** 0.5
    )


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_is_scikit_learns_velocity_under_a_changing_rate(nesterov):
    """Step for step equal to scikit-learn's own SGD optimiser (inv-scaling rate)."""
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    from sknn.training.optim import LRSchedule

    rng = np.random.RandomState(0)
    w0 = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(12)]
    sk_w = [w0.copy()]
    sk = SGDOptimizer(
        sk_w,
        0.1,
        lr_schedule="invscaling",
        momentum=0.9,
        nesterov=nesterov,
        power_t=0.5,
    )
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=nesterov)
    sched = LRSchedule("invscaling", 0.1, 0.5, rate_in_velocity=True)
    for t, g in enumerate(grads, start=1):
        sk.update_params(sk_w, [g])
        p.grad = torch.tensor(g)
        opt.step()
        sk.iteration_ends(t)
        sched.epoch_end(opt, t)
    np.testing.assert_allclose(p.detach().numpy(), sk_w[0], rtol=1e-12)


def test_a_row_predicts_the_same_whatever_its_batch():
    """Serving one row at a time gives the batch's predictions, to float32 rounding
    (the last rows of a batch used to take other kernels and differ far more)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 20)).astype(np.float32)
    clf = MLPClassifier((100,), max_iter=5, **CPU).fit(X, X[:, 0] > 0)
    alone = np.vstack([clf.predict_proba(x[None]) for x in X])
    np.testing.assert_allclose(clf.predict_proba(X), alone, rtol=1e-6, atol=1e-7)
