"""The engine's public surface for hooks: the opaque owner, the resumable state, the
declared hook protocol."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sknn.callbacks import Callback, Checkpoint, EarlyStopping
from sknn.training import TensorData, TrainConfig, Trainer
from sknn.training.hooks import Hooks, overrides

CPU = torch.device("cpu")


def _mse(out, y, w):
    return ((out - y) ** 2).mean()


def _data(n=96):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 4)
    return TensorData(X, (X @ np.arange(1.0, 5.0))[:, None], None, CPU)


def _trainer(max_epochs, *, seed=0, callbacks=(), owner=None):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    config = TrainConfig(max_epochs=max_epochs, batch_size=16, monitor=None)
    return Trainer(
        net,
        _mse,
        opt,
        config,
        callbacks=callbacks,
        generator=torch.Generator().manual_seed(seed + 1),
        owner=owner,
    )


class _Untouchable:
    """Any attribute read or write fails: the engine must only carry it."""

    def __getattribute__(self, name):
        raise AssertionError(f"the engine read owner.{name}")

    def __setattr__(self, name, value):
        raise AssertionError(f"the engine wrote owner.{name}")


class _SeeOwner(Hooks):
    def on_train_begin(self, trainer):
        self.seen = trainer.owner


def test_the_engine_carries_its_owner_to_the_hooks_without_reading_it():
    owner, hook = _Untouchable(), _SeeOwner()
    _trainer(3, callbacks=[hook], owner=owner).fit(_data())
    assert hook.seen is owner


def test_trainer_state_dict_resumes_a_run_exactly():
    """Three epochs, a state dict, three more epochs in a new trainer: the weights,
    counters and history of six epochs in one run (the shuffling stream goes on)."""
    data = _data()
    whole = _trainer(6).fit(data)

    first = _trainer(3).fit(data)
    saved = copy.deepcopy(first.state_dict())
    opt_state = copy.deepcopy(first.optimizer.state_dict())

    class Resume(Hooks):
        def on_train_begin(self, trainer):
            trainer.load_state_dict(saved)
            trainer.optimizer.load_state_dict(opt_state)

    resumed = _trainer(6, seed=5, callbacks=[Resume()]).fit(data)
    assert resumed.epoch == whole.epoch == 6
    assert [r["train_loss"] for r in resumed.history] == pytest.approx(
        [r["train_loss"] for r in whole.history]
    )
    for key, value in whole.module.state_dict().items():
        torch.testing.assert_close(resumed.module.state_dict()[key], value)


def test_trainer_load_state_dict_checks_before_it_changes_anything():
    trainer = _trainer(2)
    trainer.begin(_data())
    good = copy.deepcopy(trainer.state_dict())
    before = copy.deepcopy(trainer.module.state_dict())
    with pytest.raises(ValueError, match="does not fit this network"):
        trainer.load_state_dict({**good, "module": {"weight": torch.ones(1)}})
    with pytest.raises(ValueError, match="malformed"):
        trainer.load_state_dict({**good, "state": {"epoch": 1, "evil": 2}})
    bad_best = {k: torch.ones(3) for k in good["module"]}
    with pytest.raises(ValueError, match="malformed"):
        trainer.load_state_dict({**good, "best_state": bad_best})
    for key, value in before.items():
        assert torch.equal(trainer.module.state_dict()[key], value)
    assert trainer.state.epoch == 0 and trainer.rows_per_epoch == 96
    trainer.end()


def test_hooks_declare_state_and_callbacks_inherit_it():
    assert Hooks().state_dict() == {} and Callback().state_dict() == {}
    assert Callback().load_state_dict({}) is None
    assert isinstance(EarlyStopping(), Hooks)
    assert overrides(EarlyStopping(), "on_epoch_end")
    assert not overrides(EarlyStopping(), "on_batch_end")


class _Counter(Callback):
    """A user callback with running state: how many epochs it has seen."""

    def on_train_begin(self, trainer):
        self.seen_ = 0

    def on_epoch_end(self, trainer, record):
        self.seen_ += 1

    def state_dict(self):
        return {"seen_": self.seen_}

    def load_state_dict(self, state):
        self.seen_ = state["seen_"]


def test_checkpoint_resumes_a_user_callbacks_declared_state(tmp_path):
    from sklearn.datasets import load_iris

    from sknn import MLPClassifier

    X, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.ckpt"
    kw = dict(hidden_layer_sizes=(8,), random_state=0)
    MLPClassifier(max_iter=4, callbacks=[_Counter(), Checkpoint(path)], **kw).fit(X, y)
    resumed = MLPClassifier(
        max_iter=7, callbacks=[_Counter(), Checkpoint(path, resume=True)], **kw
    ).fit(X, y)
    assert resumed.callbacks_[1].resumed_from_ == 4
    assert resumed.callbacks_[0].seen_ == 7  # 4 before the checkpoint, 3 after
