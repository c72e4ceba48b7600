"""A user's own loss, optimiser, parameter groups and nested double-underscore params."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknn
from sknn import MLPClassifier, MLPRegressor, NeuralNetClassifier
from sknn.model_selection import OptunaSearchCV, fit_stacked
from sknn.training.stack_plan import stack_reason

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=8, random_state=0, batch_size=64)


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:400], y[:400]


def _weights(est):
    return [p.detach().numpy().copy() for p in est.module_.parameters()]


def _same_weights(a, b, **tol):
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(wa, wb, **tol)


# ----------------------------------------------------------------- nested params
def test_nested_params_round_trip_through_clone_and_set_params():
    est = MLPClassifier(optimizer=torch.optim.SGD, optimizer__momentum=0.5)
    assert est.get_params()["optimizer__momentum"] == 0.5
    copy = clone(est)
    assert copy.optimizer__momentum == 0.5 and copy.optimizer is torch.optim.SGD
    copy.set_params(optimizer__momentum=0.7, criterion__label_smoothing=0.1, alpha=0.2)
    assert copy.get_params()["optimizer__momentum"] == 0.7
    assert copy.get_params()["criterion__label_smoothing"] == 0.1
    assert copy.alpha == 0.2
    assert est.optimizer__momentum == 0.5  # the original is untouched
    assert "optimizer__momentum=0.5" in repr(est)


def test_an_unknown_keyword_is_refused_by_fit_not_init(data):
    X, y = data
    est = MLPClassifier(**FAST, optimiser__momentum=0.5)  # a typo
    assert clone(est).get_params()["optimiser__momentum"] == 0.5
    with pytest.raises(TypeError, match="unexpected keyword argument 'optimiser__mom"):
        est.fit(X, y)


# -------------------------------------------------------------------- optimiser
def test_optimizer_class_matches_the_named_solver(data):
    X, y = data
    named = MLPClassifier(**FAST, solver="sgd", learning_rate_init=0.05).fit(X, y)
    own = MLPClassifier(
        **FAST,
        learning_rate_init=0.05,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        optimizer__nesterov=True,
    ).fit(X, y)
    assert type(own.optimizer_) is torch.optim.SGD
    _same_weights(named, own, rtol=1e-5, atol=1e-6)


def test_optimizer_options_reach_the_named_solver(data):
    X, y = data
    plain = MLPClassifier(**FAST).fit(X, y)
    ams = MLPClassifier(**FAST, optimizer__amsgrad=True).fit(X, y)
    assert all(g["amsgrad"] for g in ams.optimizer_.param_groups)
    assert not np.allclose(_weights(plain)[0], _weights(ams)[0])


def test_any_optimizer_class_trains(data):
    X, y = data
    est = MLPClassifier(
        **{**FAST, "max_iter": 30},
        learning_rate_init=0.05,
        optimizer=torch.optim.Adamax,
        optimizer__betas=(0.8, 0.99),
    ).fit(X, y)
    assert type(est.optimizer_) is torch.optim.Adamax
    assert est.optimizer_.param_groups[0]["betas"] == (0.8, 0.99)
    assert est.score(X, y) > 0.9


def test_own_weight_decay_replaces_alpha_on_weights_only(data):
    X, y = data
    est = MLPClassifier(**FAST, optimizer__weight_decay=0.05).fit(X, y)
    decays = {
        p.ndim: g["weight_decay"]
        for g in est.optimizer_.param_groups
        for p in g["params"]
    }
    assert decays == {2: 0.05, 1: 0.0}


def test_param_groups_set_each_groups_rate_and_keep_it_under_a_schedule(data):
    X, y = data
    tiny = dict(optimizer__param_groups=[("hidden.*", {"lr": 1e-12})])
    grouped = MLPClassifier(
        **FAST, learning_rate="invscaling", learning_rate_mode="torch", **tiny
    ).fit(X, y)
    still = MLPClassifier(**FAST, learning_rate_init=1e-12).fit(X, y)
    # The hidden layer barely moved from its initial weights, the output layer did.
    hidden = [n.startswith("hidden") for n, _ in grouped.module_.named_parameters()]
    for is_hidden, a, b in zip(hidden, _weights(grouped), _weights(still)):
        if is_hidden:
            np.testing.assert_allclose(a, b, atol=1e-8)
        else:
            assert np.abs(a - b).max() > 1e-3
    lrs = {g.get("pattern"): g["lr"] for g in grouped.optimizer_.param_groups}
    # invscaling lowered both rates in proportion.
    assert lrs[None] < 1e-3
    np.testing.assert_allclose(lrs["hidden.*"] / lrs[None], 1e-12 / 1e-3)


def test_param_groups_with_their_own_weight_decay(data):
    X, y = data
    est = MLPClassifier(
        **FAST, optimizer__param_groups=[("output.*", {"weight_decay": 0.3})]
    ).fit(X, y)
    group = next(g for g in est.optimizer_.param_groups if g.get("pattern"))
    assert group["weight_decay"] == 0.3 and len(group["params"]) == 2


# -------------------------------------------------------------------- criterion
def test_cross_entropy_class_and_callable_equal_the_default_loss(data):
    X, y = data
    default = MLPClassifier(**FAST).fit(X, y)
    as_class = MLPClassifier(**FAST, criterion=torch.nn.CrossEntropyLoss).fit(X, y)
    as_fn = MLPClassifier(**FAST, criterion=lambda out, t: F.cross_entropy(out, t))
    as_fn.fit(X, y)
    _same_weights(default, as_class, rtol=1e-5, atol=1e-6)
    _same_weights(default, as_fn, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(default.loss_curve_, as_class.loss_curve_, rtol=1e-5)


def test_criterion_options_change_training(data):
    X, y = data
    plain = MLPClassifier(**FAST, criterion=torch.nn.CrossEntropyLoss).fit(X, y)
    smooth = MLPClassifier(
        **FAST, criterion=torch.nn.CrossEntropyLoss, criterion__label_smoothing=0.3
    ).fit(X, y)
    # Label smoothing keeps the probabilities away from 0 and 1.
    assert smooth.predict_proba(X).max() < plain.predict_proba(X).max()


def test_weighted_criterion_equals_the_weighted_default(data):
    X, y = data
    w = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    default = MLPClassifier(**FAST).fit(X, y, sample_weight=w)
    own = MLPClassifier(**FAST, criterion=torch.nn.CrossEntropyLoss)
    own.fit(X, y, sample_weight=w)
    _same_weights(default, own, rtol=1e-5, atol=1e-6)


def test_binary_criterion_gets_float_targets_shaped_as_the_logits(data):
    X, y = data
    yb = (y > 4).astype(int)
    default = MLPClassifier(**FAST).fit(X, yb)
    own = MLPClassifier(**FAST, criterion=torch.nn.BCEWithLogitsLoss).fit(X, yb)
    _same_weights(default, own, rtol=1e-5, atol=1e-6)


def test_regression_criterion(diabetes):
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    default = MLPRegressor(**FAST, loss="absolute_error").fit(X, y)
    own = MLPRegressor(**FAST, criterion=torch.nn.L1Loss).fit(X, y)
    _same_weights(default, own, rtol=1e-5, atol=1e-6)
    huber = MLPRegressor(**FAST, criterion=torch.nn.HuberLoss, criterion__delta=0.5)
    assert np.isfinite(huber.fit(X, y).predict(X)).all()


def test_criterion_instance_with_class_weights_goes_to_the_networks_dtype(data):
    X, y = data
    default = MLPClassifier(**FAST, dtype="float64").fit(X, y)
    weight = torch.ones(10, dtype=torch.float32)  # moved to float64 with the loss
    own = MLPClassifier(
        **FAST, dtype="float64", criterion=torch.nn.CrossEntropyLoss(weight=weight)
    ).fit(X, y)
    _same_weights(default, own, rtol=1e-9, atol=1e-12)
    skewed = torch.tensor([5.0] + [1.0] * 9)
    favour = MLPClassifier(**FAST, criterion=torch.nn.CrossEntropyLoss(weight=skewed))
    favour.fit(X, y)
    assert (favour.predict(X) == 0).sum() > (default.predict(X) == 0).sum()


def test_criterion_errors_are_clear(data):
    X, y = data
    w = np.ones(len(y))
    fn = MLPClassifier(**FAST, criterion=lambda out, t: F.cross_entropy(out, t))
    with pytest.raises(ValueError, match="cannot be weighted"):
        fn.fit(X, y, sample_weight=w)
    bad = MLPClassifier(
        **FAST, criterion=lambda out, t: F.cross_entropy(out, t, reduction="none")
    )
    with pytest.raises(ValueError, match="must return a scalar tensor"):
        bad.fit(X, y)
    with pytest.raises(ValueError, match="could not be built"):
        MLPClassifier(
            **FAST, criterion=torch.nn.CrossEntropyLoss, criterion__nope=1
        ).fit(X, y)


# -------------------------------------------------------------------- conflicts
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(solver="sgd", optimizer=torch.optim.SGD), "both name the optimiser"),
        (dict(momentum=0.5, optimizer=torch.optim.SGD), "momentum=0.5 configures"),
        (dict(optimizer__lr=0.1), "optimizer__lr duplicates learning_rate_init"),
        (dict(solver="sgd", optimizer__momentum=0.5), "set momentum instead"),
        (dict(alpha=0.1, optimizer__weight_decay=0.1), "both set the L2 penalty"),
        (dict(criterion__label_smoothing=0.1), "criterion is None"),
        (dict(optimizer=torch.optim.LBFGS), "use solver='lbfgs'"),
        (dict(solver="lbfgs", optimizer__amsgrad=True), "do not apply to solver"),
        (
            dict(optimizer__param_groups=[("nothing.*", {"lr": 0.1})]),
            "matches no trainable parameter",
        ),
        (dict(optimizer__param_groups={"a": 1}), "list of \\(pattern, options\\)"),
        (dict(optimizer=torch.optim.Adam, optimizer__betas="x"), "could not be built"),
        (dict(optimizer__betas=(0.5, 0.9)), "set beta_1 / beta_2 instead"),
    ],
)
def test_conflicting_settings_get_a_clear_error(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**FAST, **params).fit(X, y)


def test_regressor_loss_and_criterion_conflict(diabetes):
    X, y = diabetes
    est = MLPRegressor(**FAST, loss="huber", criterion=torch.nn.L1Loss)
    with pytest.raises(ValueError, match="both name the loss"):
        est.fit(X, y)


# ------------------------------------------------------------- module__ options
class Net(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs, width=8):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features_in, width))
        self.head = torch.nn.Linear(width, n_outputs)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def test_module_options_build_the_module_and_conflict_with_module_kwargs(data):
    X, y = data
    est = NeuralNetClassifier(Net, module__width=12, **FAST_NN).fit(X, y)
    assert est.module_.head.in_features == 12
    both = NeuralNetClassifier(
        Net, module_kwargs={"width": 3}, module__width=12, **FAST_NN
    )
    with pytest.raises(ValueError, match="both set 'width'"):
        both.fit(X, y)


FAST_NN = dict(max_iter=8, random_state=0, batch_size=64)


def test_a_smaller_rate_for_a_pretrained_body(data):
    X, y = data
    est = NeuralNetClassifier(
        Net,
        **FAST_NN,
        learning_rate_init=0.01,
        optimizer=torch.optim.AdamW,
        optimizer__param_groups=[("body.*", {"lr": 1e-4})],
    ).fit(X, y)
    rates = sorted(g["lr"] for g in est.optimizer_.param_groups)
    assert rates[0] == pytest.approx(1e-4) and rates[-1] == pytest.approx(0.01)


# ------------------------------------------------------------------- searching
def test_grid_search_over_nested_params_in_a_pipeline(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**FAST))
    grid = {
        "mlpclassifier__optimizer__weight_decay": [0.0, 0.1],
        "mlpclassifier__criterion": [torch.nn.CrossEntropyLoss],
        "mlpclassifier__criterion__label_smoothing": [0.0, 0.2],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_[-1]
    assert best.optimizer__weight_decay in (0.0, 0.1)
    assert isinstance(best.criterion, type)


def test_optuna_search_over_nested_params(data):
    X, y = data
    space = {
        "optimizer__weight_decay": optuna.distributions.FloatDistribution(0.0, 0.1),
        "module__width": optuna.distributions.IntDistribution(4, 16),
    }
    search = OptunaSearchCV(
        NeuralNetClassifier(Net, **FAST_NN), space, n_trials=2, cv=2, random_state=0
    ).fit(X, y)
    assert set(search.best_params_) == set(space)
    width = search.best_params_["module__width"]
    assert search.best_estimator_.module_.head.in_features == width


def test_optuna_search_over_nested_params_in_a_pipeline(data):
    X, y = data
    name = "mlpclassifier__optimizer__weight_decay"
    space = {name: optuna.distributions.FloatDistribution(0.0, 0.1)}
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**FAST))
    search = OptunaSearchCV(pipe, space, n_trials=2, cv=2, random_state=0).fit(X, y)
    decay = search.best_estimator_[-1].optimizer__weight_decay
    assert decay == search.best_params_[name]


def test_a_misspelt_nested_name_is_refused_by_the_search_space(data):
    space = {"optimiser__x": optuna.distributions.FloatDistribution(0.0, 0.1)}
    with pytest.raises(ValueError, match="Invalid parameter 'optimiser__x'"):
        OptunaSearchCV(MLPClassifier(**FAST), space, n_trials=1).fit(*data)


# ------------------------------------------------------------- stacking, saving
def test_custom_criterion_and_groups_are_fitted_one_by_one_in_a_stacked_search(data):
    X, y = data
    for params in (
        dict(criterion=torch.nn.CrossEntropyLoss),
        dict(optimizer__param_groups=[("output.*", {"lr": 0.01})]),
    ):
        est = MLPClassifier(**FAST, **params)
        est._validate_params()
        run = est._setup_fit(X, y)
        assert stack_reason(run.trainer, run.train) is not None
        stacked = fit_stacked([clone(est), clone(est)], X, y)
        _same_weights(stacked[0], clone(est).fit(X, y), rtol=1e-6, atol=1e-7)


def test_save_and_load_keep_the_optimiser_criterion_and_nested_params(data, tmp_path):
    X, y = data
    est = MLPClassifier(
        **FAST,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.5,
        optimizer__param_groups=[("output.*", {"lr": 0.01})],
        criterion=torch.nn.CrossEntropyLoss,
        criterion__label_smoothing=0.1,
    ).fit(X, y)
    sknn.save(est, tmp_path / "m.sknn")
    back = sknn.load(tmp_path / "m.sknn")
    assert back.get_params()["optimizer"] is torch.optim.SGD
    assert back.get_params()["criterion__label_smoothing"] == 0.1
    assert back.get_params()["optimizer__param_groups"] == [("output.*", {"lr": 0.01})]
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        back.set_params(warm_start=True, max_iter=2).fit(X, y)  # goes on training
    assert back.n_iter_ == 2


class HalfL1(torch.nn.Module):
    def __init__(self, scale=0.5, reduction="mean"):
        super().__init__()
        self.scale, self.reduction = scale, reduction

    def forward(self, out, y):
        return self.scale * F.l1_loss(out, y, reduction=self.reduction)


def test_an_own_loss_class_loads_only_when_the_caller_supplies_it(diabetes, tmp_path):
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    est = MLPRegressor(**FAST, criterion=HalfL1, criterion__scale=2.0).fit(X, y)
    sknn.save(est, tmp_path / "m.sknn")
    with pytest.raises(ValueError, match="HalfL1"):
        sknn.load(tmp_path / "m.sknn")
    back = sknn.load(tmp_path / "m.sknn", classes=[HalfL1])
    assert back.criterion is HalfL1 and back.criterion__scale == 2.0
    np.testing.assert_allclose(back.predict(X), est.predict(X))
    with pytest.raises(TypeError, match="cannot store parameter 'criterion'"):
        sknn.save(MLPRegressor(**FAST, criterion=HalfL1()).fit(X, y), tmp_path / "i")
