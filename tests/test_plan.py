"""The fit plan (sknn.plan): a typed record of every decision, from named steps."""

from __future__ import annotations

import dataclasses
import inspect
import warnings

import numpy as np
import pytest
import torch

import sknn
from sknn.finetune import FineTuneOptions
from sknn.plan import FitRun, optim, plan_fit, steps
from sknn.plan.sources import Validation, fit_sources
from sknn.targets import ClassTargets, RegressionTargets
from sknn.training import custom

FAST = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu")


def test_plan_is_a_frozen_record_whose_trainer_belongs_to_the_estimator(iris):
    X, y = iris
    clf = sknn.MLPClassifier(**FAST, early_stopping=True)
    run = plan_fit(clf, X, y)
    assert isinstance(run, FitRun)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.trainer = None
    assert run.trainer.owner is clf
    assert run.early_stopping and run.valid is not None
    assert run.train.n_samples + run.valid.n_samples == len(X)
    assert clf.module_ is run.trainer.module  # the estimator adopted its network


def test_training_a_plan_gives_the_model_fit_gives(iris):
    X, y = iris
    fitted = sknn.MLPClassifier(**FAST).fit(X, y)
    clf = sknn.MLPClassifier(**FAST)
    run = plan_fit(clf, X, y)
    with run.rng, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.trainer.fit(run.train, run.valid)
        clf._finish_fit(run)
    np.testing.assert_array_equal(clf.predict_proba(X), fitted.predict_proba(X))
    assert clf.n_iter_ == fitted.n_iter_ == 5


def test_a_failed_plan_leaves_an_unfitted_estimator_unfitted(iris):
    """A module that cannot read X is refused before the estimator adopts it."""
    X, y = iris
    net = sknn.NeuralNetClassifier(
        lambda n_outputs: torch.nn.Linear(3, n_outputs), max_iter=2, device="cpu"
    )
    with pytest.raises(ValueError, match="cannot read X"):
        net.fit(X, y)
    assert not hasattr(net, "module_")


def test_decay_follows_scikit_learns_l2_arithmetic():
    kw = dict(alpha=0.2, batch_size=10, accumulation_steps=1, weight_decay_option=False)
    plain = optim.decay(solver="adam", weighted=False, **kw)
    assert plain.weight_decay == pytest.approx(0.02) and not plain.penalty_in_loss
    weighted = optim.decay(solver="adam", weighted=True, **kw)
    assert weighted.weight_decay == 0.0 and weighted.penalty_in_loss
    accumulated = optim.decay(
        solver="sgd", weighted=False, **{**kw, "accumulation_steps": 4}
    )
    assert accumulated.weight_decay == pytest.approx(0.2 / 40)
    assert optim.decay(solver="adamw", weighted=True, **kw).weight_decay == 0.2
    lbfgs = optim.decay(solver="lbfgs", weighted=False, **kw)
    assert lbfgs.weight_decay == 0.0 and lbfgs.report_penalty
    own = optim.decay(
        solver="adam", weighted=True, **{**kw, "weight_decay_option": True}
    )
    assert not own.penalty_in_loss and not own.report_penalty


def test_batch_size_is_clipped_with_scikit_learns_warning():
    assert optim.batch_size("auto", 1000, "adam") == 200
    with pytest.warns(UserWarning, match="It is going to be clipped"):
        assert optim.batch_size(500, 100, "adam") == 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert optim.batch_size(500, 100, "lbfgs") == 100


@pytest.mark.parametrize(
    "solver, mode, kind",
    [
        ("sgd", "sklearn", "invscaling"),
        ("adam", "sklearn", "constant"),
        ("adam", "torch", "invscaling"),
    ],
)
def test_schedule_applies_learning_rate_as_scikit_learn_or_torch_do(solver, mode, kind):
    schedule = optim.schedule(
        solver=solver,
        learning_rate="invscaling",
        learning_rate_init=0.1,
        power_t=0.5,
        mode=mode,
    )
    assert schedule.kind == kind
    assert schedule.rate_in_velocity == (solver == "sgd" and mode == "sklearn")
    assert (
        optim.schedule(
            solver="lbfgs",
            learning_rate="constant",
            learning_rate_init=0.1,
            power_t=0.5,
            mode=mode,
        )
        is None
    )


def test_the_network_step_is_seeded_and_fine_tuning_replaces_the_head(iris):
    X, _ = iris
    clf = sknn.MLPClassifier(**FAST)
    run = steps.Runtime(torch.device("cpu"), parallel=False, seed=7, dtype="float64")
    a = steps.network(clf, X, previous=None, n_outputs=3, run=run, use_assigned=False)
    b = steps.network(clf, X, previous=None, n_outputs=3, run=run, use_assigned=False)
    for p, q in zip(a.module.parameters(), b.module.parameters()):
        assert torch.equal(p, q)
    assert a.fresh and a.meta["n_outputs"] == 3 and a.dtype == "float64"
    options = FineTuneOptions(
        new_head=True, freeze=True, max_iter=2, learning_rate_init=0.1
    )
    tuned = steps.network(
        clf, X, previous=a, n_outputs=5, run=run, use_assigned=False, fine_tune=options
    )
    assert tuned.module.output.out_features == 5 and tuned.meta["n_outputs"] == 5
    assert a.meta["n_outputs"] == 3  # the kept network's facts are not edited
    assert tuned.frozen and tuned.state.epoch == 0 and tuned.reset_optimizer
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_iter = 3


def test_sources_hold_out_a_stratified_seeded_split(iris):
    X, y = iris
    targets = ClassTargets()
    y_enc = targets.encode(y)

    def sources(random_state):
        return fit_sources(
            X,
            y,
            y_enc,
            None,
            device=torch.device("cpu"),
            x_dtype=torch.float32,
            targets=targets,
            validation=Validation(
                split=True, early_stopping=True, fraction=0.2, random_state=random_state
            ),
            validate_inputs=None,
            train_data=lambda data, seed, device: data,
            seed=0,
        )

    train, valid, y_true, _, _ = sources(0)
    assert (train.n_samples, valid.n_samples) == (120, 30)
    assert np.bincount(valid.y.numpy()).tolist() == [10, 10, 10]
    np.testing.assert_array_equal(targets.transform(y_true), valid.y.numpy())
    assert torch.equal(sources(0)[1].y, valid.y)
    assert not torch.equal(sources(1)[1].inputs[0], valid.inputs[0])


def test_the_training_layer_takes_values_not_the_estimator():
    """custom.py's functions read no estimator: the plan passes an OptimizerSpec."""
    for fn in (custom.check_custom_params, custom.make_optimizer):
        assert "est" not in inspect.signature(fn).parameters
    spec = steps.optimizer_spec(sknn.MLPClassifier(solver="sgd", momentum=0.5))
    assert spec.param("momentum") == 0.5 and spec.solver == "sgd"
    with pytest.raises(ValueError, match="both set the L2 penalty"):
        custom.check_custom_params(
            custom.OptimizerSpec("adam", options={"weight_decay": 0.1}),
            alpha_is_default=False,
            alpha=0.5,
        )
    with pytest.raises(ValueError, match="both name the loss"):
        steps.check_params(
            sknn.MLPRegressor(loss="huber", criterion=torch.nn.L1Loss),
            RegressionTargets(loss="huber"),
        )


def test_the_plan_is_the_only_fit_path():
    """No estimator keeps an assembly of its own: every client goes through
    ``_setup_fit`` (which plans) and ``_finish_fit``."""
    from sknn.base import BaseNeuralNet

    source = inspect.getsource(BaseNeuralNet._setup_fit)
    assert "plan_fit(" in source and len(source.splitlines()) < 8
    for cls in (sknn.NeuralNetClassifier, sknn.CNNClassifier, sknn.RNNRegressor):
        assert "_setup_fit" not in vars(cls) and all(
            "_setup_fit" not in vars(base)
            for base in cls.__mro__
            if base is not BaseNeuralNet
        )
