"""The stacked engine: K models in one pass equal the same models trained one by one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import EarlyStopping
from sknn.model_selection import fit_stacked
from sknn.training.stack_plan import plan_chunks
from sknn.training.stacked import StackedTrainer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16, 16), max_iter=8, device="cpu")


@pytest.fixture(scope="module")
def small_digits(digits):
    X, y = digits
    return X[:300], y[:300]


def _folds(n=300):
    """Training rows of three unequal folds (230, 190 and 161 rows): with a batch of
    48, every epoch has several batches and a partial last one, of another size in
    each fold, so each model's own shuffling stream and batch bounds matter."""
    perm = np.random.RandomState(0).permutation(n)
    return [np.sort(perm[:230]), np.sort(perm[40:230]), np.sort(perm[139:300])]


def _assert_same(stacked, alone, X, atol=2e-4):
    for a, b in zip(stacked, alone):
        assert a.n_iter_ == b.n_iter_
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4, atol=1e-6)
        out_a = a.predict_proba(X) if hasattr(a, "predict_proba") else a.predict(X)
        out_b = b.predict_proba(X) if hasattr(b, "predict_proba") else b.predict(X)
        np.testing.assert_allclose(out_a, out_b, atol=atol, rtol=1e-4)


@pytest.mark.parametrize(
    "extra",
    [
        dict(solver="adam"),
        dict(solver="adamw", alpha=0.01),
        dict(solver="sgd", learning_rate_init=0.05),
        dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling"),
        dict(solver="adam", early_stopping=True, n_iter_no_change=2),
        dict(solver="adam", batch_size=64, shuffle=False),
    ],
    ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()),
)
def test_stacked_folds_equal_one_by_one(small_digits, extra):
    X, y = small_digits
    folds = _folds(len(X))
    params = [
        dict(random_state=i, alpha=10.0 ** -(i + 2), batch_size=48)
        for i in range(len(folds))
    ]
    for p in params:
        p.update(extra)
    stacked = fit_stacked(
        [MLPClassifier(**FAST, **p) for p in params], X, y, indices=folds
    )
    alone = [MLPClassifier(**FAST, **p).fit(X[f], y[f]) for p, f in zip(params, folds)]
    _assert_same(stacked, alone, X)


def test_stacked_candidates_differ_in_scalars(small_digits):
    X, y = small_digits
    grid = [
        dict(learning_rate_init=lr, batch_size=bs, beta_1=b1, random_state=s)
        for lr, bs, b1, s in [
            (1e-3, 32, 0.9, 0),
            (3e-3, 50, 0.8, 1),
            (1e-2, 200, 0.95, 2),
        ]
    ]
    stacked = fit_stacked([MLPClassifier(**FAST, **g) for g in grid], X, y)
    alone = [MLPClassifier(**FAST, **g).fit(X, y) for g in grid]
    _assert_same(stacked, alone, X)


def test_stacked_regressor_with_sample_weight(diabetes):
    X, y = diabetes
    X = (X - X.mean(0)) / X.std(0)
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    kw = dict(hidden_layer_sizes=(16,), max_iter=15, device="cpu", alpha=1e-3)
    stacked = fit_stacked(
        [MLPRegressor(**kw, random_state=s) for s in range(3)], X, y, sample_weight=w
    )
    alone = [
        MLPRegressor(**kw, random_state=s).fit(X, y, sample_weight=w) for s in range(3)
    ]
    _assert_same(stacked, alone, X, atol=1e-3)


def test_k_equal_one_reproduces_a_single_fit(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=3, device="cpu")
    net = MLPClassifier(**kw, early_stopping=True)
    run = net._setup_fit(X, y)
    StackedTrainer([run.trainer], [run.train], [run.valid], alphas=[net.alpha]).fit()
    net._finish_fit(run)
    ref = MLPClassifier(**kw, early_stopping=True).fit(X, y)
    _assert_same([net], [ref], X, atol=1e-5)
    assert net.best_validation_score_ == pytest.approx(ref.best_validation_score_)
    assert net.history_["valid_loss"] == pytest.approx(
        ref.history_["valid_loss"], rel=1e-4
    )


def test_models_stop_at_their_own_epoch(small_digits):
    X, y = small_digits
    kw = dict(FAST, max_iter=60, early_stopping=True, n_iter_no_change=1, tol=0.0)
    nets = [MLPClassifier(**kw, random_state=s, learning_rate_init=lr)
            for s, lr in [(0, 0.03), (1, 0.001), (2, 0.0003)]]  # fmt: skip
    fit_stacked(nets, X, y)
    alone = [MLPClassifier(**kw, random_state=s, learning_rate_init=lr).fit(X, y)
             for s, lr in [(0, 0.03), (1, 0.001), (2, 0.0003)]]  # fmt: skip
    assert len({n.n_iter_ for n in nets}) > 1
    _assert_same(nets, alone, X)
    for a, b in zip(nets, alone):
        assert a.best_validation_score_ == pytest.approx(b.best_validation_score_)


def test_chunks_give_the_same_models_and_say_so(small_digits, capsys):
    X, y = small_digits
    one_pass = fit_stacked(
        [MLPClassifier(**FAST, random_state=s) for s in range(5)], X, y
    )
    chunked = fit_stacked(
        [MLPClassifier(**FAST, random_state=s) for s in range(5)], X, y,
        max_models=2, verbose=1,
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "5 networks in 3 stacked pass(es) of at most 2" in out
    _assert_same(chunked, one_pass, X, atol=1e-5)


def test_plan_chunks_respects_the_budget():
    assert plan_chunks(40, bytes_per_model=10, budget=1000) == [40]
    sizes = plan_chunks(40, bytes_per_model=100, budget=1000)
    assert sum(sizes) == 40 and max(sizes) <= 10
    assert plan_chunks(3, bytes_per_model=10**9, budget=1) == [1, 1, 1]


def test_unstackable_networks_are_fitted_alone(iris, capsys):
    X, y = iris
    nets = [
        MLPClassifier((8,), solver="rmsprop", max_iter=5, random_state=0, device="cpu"),
        MLPClassifier(
            (8,), callbacks=[EarlyStopping()], max_iter=5, random_state=0, device="cpu"
        ),
        MLPClassifier((8,), max_iter=5, random_state=0, device="cpu"),
    ]
    fit_stacked(nets, X, y, verbose=1)
    assert "2 network(s) fitted alone" in capsys.readouterr().out
    for net in nets:
        assert net.predict(X).shape == (150,)
    ref = MLPClassifier(
        (8,), solver="rmsprop", max_iter=5, random_state=0, device="cpu"
    )
    np.testing.assert_allclose(nets[0].predict_proba(X), ref.fit(X, y).predict_proba(X))


def test_dropout_models_train_in_one_pass(small_digits):
    X, y = small_digits
    nets = [MLPClassifier(**FAST, dropout=0.2, random_state=s) for s in range(3)]
    fit_stacked(nets, X, y)
    plain = MLPClassifier(**FAST, random_state=1).fit(X, y)
    assert [net.n_iter_ for net in nets] == [FAST["max_iter"]] * 3
    assert not np.allclose(nets[1].predict_proba(X), plain.predict_proba(X))
    again = fit_stacked(
        [MLPClassifier(**FAST, dropout=0.2, random_state=s) for s in range(3)], X, y
    )
    np.testing.assert_allclose(nets[1].predict_proba(X), again[1].predict_proba(X))


def test_fit_errors_are_raised(iris):
    X, y = iris
    nets = [MLPClassifier((8,), max_iter=5, device="cpu") for _ in range(2)]
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_stacked(nets, X_nan, y)


def test_max_iter_warning_as_in_a_single_fit(iris):
    X, y = iris
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit_stacked([MLPClassifier((8,), max_iter=3, random_state=s, device="cpu")
                     for s in range(2)], X, y)  # fmt: skip
    assert sum(issubclass(w.category, ConvergenceWarning) for w in rec) == 2
    assert torch.get_num_threads() >= 1


def test_cnns_stack_and_rnns_fall_back_with_the_same_models(
    small_digits, capsys, monkeypatch
):
    """Convolutional networks of one shape share a pass (with batch norm, those whose
    batches line up: folds of 100 and 101 rows go to two passes); recurrent ones
    (torch has no batching rule for LSTM / GRU) are fitted alone. Convolutional
    networks stack on CPU only on request (they are slower stacked there)."""
    import sknn.training.stack_plan as stack_plan
    from sknn import CNNClassifier, RNNClassifier

    X, y = small_digits
    cnn = CNNClassifier(channels=(4,), max_iter=2, random_state=0, device="cpu")
    fit_stacked([cnn, clone(cnn)], X.reshape(-1, 8, 8), y, verbose=1)
    assert "0 stacked pass(es), 2 network(s) fitted alone" in capsys.readouterr().out
    monkeypatch.setattr(stack_plan, "CONV_ON_CPU", True)
    images = X.reshape(-1, 8, 8)
    folds = [np.arange(100), np.arange(100, 200), np.arange(199, 300)]
    for make, expected in (
        (
            lambda s: CNNClassifier(
                channels=(4,), batch_norm=False, hidden_layer_sizes=(16,),
                max_iter=4, random_state=s, device="cpu",
            ),
            "1 stacked pass(es), 0 network(s) fitted alone",
        ),
        (
            lambda s: CNNClassifier(
                channels=(4,), hidden_layer_sizes=(16,), batch_size=32, max_iter=4,
                random_state=s, device="cpu",
            ),
            "2 stacked pass(es), 0 network(s) fitted alone",
        ),
        (
            lambda s: RNNClassifier(
                hidden_size=8, max_iter=3, random_state=s, device="cpu"
            ),
            "0 stacked pass(es), 3 network(s) fitted alone",
        ),
    ):  # fmt: skip
        stacked = fit_stacked(
            [make(s) for s in range(3)], images, y, indices=folds, verbose=1
        )
        assert expected in capsys.readouterr().out
        alone = [make(s).fit(images[f], y[f]) for s, f in enumerate(folds)]
        _assert_same(stacked, alone, images, atol=1e-4)


def test_batch_norm_models_stack_with_their_own_running_statistics(
    small_digits, capsys
):
    X, y = small_digits
    kw = dict(FAST, batch_norm=True, batch_size=64, early_stopping=True)
    nets = [MLPClassifier(**kw, random_state=s) for s in range(3)]
    fit_stacked(nets, X, y, verbose=1)
    assert "1 stacked pass(es), 0 network(s) fitted alone" in capsys.readouterr().out
    alone = [MLPClassifier(**kw, random_state=s).fit(X, y) for s in range(3)]
    _assert_same(nets, alone, X, atol=1e-5)
    for a, b in zip(nets, alone):
        for key, value in b.module_.state_dict().items():
            torch.testing.assert_close(
                a.module_.state_dict()[key], value, atol=1e-5, rtol=1e-4
            )


def test_batch_norm_stacks_with_a_merged_last_row(small_digits, capsys):
    """193 rows in batches of 64: the last row joins the third batch, in the stacked
    pass as in a single fit (a batch of one row cannot be normalised)."""
    X, y = small_digits
    X, y = X[:193], y[:193]
    kw = dict(FAST, batch_norm=True, batch_size=64)
    nets = [MLPClassifier(**kw, random_state=s) for s in range(3)]
    fit_stacked(nets, X, y, verbose=1)
    assert "1 stacked pass(es), 0 network(s) fitted alone" in capsys.readouterr().out
    alone = [MLPClassifier(**kw, random_state=s).fit(X, y) for s in range(3)]
    _assert_same(nets, alone, X, atol=1e-5)
