"""Callbacks receive their estimator: ``trainer.owner`` during training,
``on_fit_end(estimator)`` once the fit's attributes are set; nothing walks the stack."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import sknn
from sknn.callbacks import Callback, tracking
from sknn.training import TensorData, TrainConfig, Trainer

FAST = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, device="cpu")


class Seen(Callback):
    """Records what each hook saw of the estimator."""

    def on_train_begin(self, trainer):
        self.owner_ = trainer.owner
        self.fitted_at_begin_ = hasattr(trainer.owner, "n_iter_")

    def on_fit_end(self, estimator):
        self.estimator_ = estimator
        self.n_iter_at_end_ = estimator.n_iter_


@pytest.mark.parametrize("how", ["fit", "partial_fit", "fine_tune"])
def test_callbacks_see_their_estimator_and_the_finished_fit(iris, how):
    X, y = iris
    clf = sknn.MLPClassifier(**FAST, callbacks=[Seen()])
    if how == "fine_tune":
        clf.fit(X[y < 2], y[y < 2]).fine_tune(X, y, max_iter=2)
    elif how == "partial_fit":
        clf.partial_fit(X, y, classes=[0, 1, 2])
    else:
        clf.fit(X, y)
    seen = clf.callbacks_[0]
    assert seen.owner_ is clf and seen.estimator_ is clf
    assert seen.n_iter_at_end_ == clf.n_iter_ >= 1


def test_a_trainer_carries_an_owner_it_never_reads():
    X = np.random.RandomState(0).normal(size=(20, 2))
    data = TensorData(X, X[:, :1], None, torch.device("cpu"))
    net = torch.nn.Linear(2, 1)
    owner = object()  # anything: the engine does not look at it
    trainer = Trainer(
        net,
        lambda o, t, w: ((o - t) ** 2).mean(),
        torch.optim.SGD(net.parameters(), lr=0.1),
        TrainConfig(max_epochs=2, batch_size=10),
        callbacks=[Seen()],
        owner=owner,
    ).fit(data)
    assert trainer.owner is owner and trainer.callbacks[0].owner_ is owner


def test_tensorboard_logs_the_parameters_of_a_bare_trainers_owner(tmp_path):
    pytest.importorskip("tensorboard", reason="needs tensorboard (sknn[tensorboard])")
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    X = np.random.RandomState(0).normal(size=(20, 2)).astype(np.float32)
    data = TensorData(X, X[:, :1], None, torch.device("cpu"))
    net = torch.nn.Linear(2, 1)
    Trainer(
        net,
        lambda o, t, w: ((o - t) ** 2).mean(),
        torch.optim.SGD(net.parameters(), lr=0.1),
        TrainConfig(max_epochs=2, batch_size=10),
        callbacks=[sknn.callbacks.TensorBoardLogger(tmp_path)],
        owner=sknn.MLPRegressor(alpha=0.5),
    ).fit(data)
    events = EventAccumulator(str(tmp_path)).Reload()
    assert "params/text_summary" in events.Tags()["tensors"]


def test_trackers_do_not_walk_the_stack_nor_finish_a_copy():
    source = inspect.getsource(tracking)
    for forbidden in ("currentframe", "f_back", "f_locals", "_set_fitted_attributes"):
        assert forbidden not in source
