"""Callbacks: checkpoints and resume, early stopping, schedulers, clipping, logging."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    JSONLogger,
    LRScheduler,
    ProgressBar,
    load_checkpoint,
)

FAST = dict(hidden_layer_sizes=(16,), random_state=0, device="cpu")


class Interrupt(Callback):
    """Simulates a killed fit: a Ctrl-C at the end of epoch ``at``."""

    def __init__(self, at=3):
        self.at = at

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.at:
            raise KeyboardInterrupt


class Recorder(Callback):
    """Keeps a copy of the weights after every epoch and gradient norms per step."""

    def on_train_begin(self, trainer):
        self.states_, self.grad_norms_ = {}, []

    def on_backward_end(self, trainer):
        grads = [p.grad for p in trainer.module.parameters() if p.grad is not None]
        self.grad_norms_.append(
            float(torch.linalg.vector_norm(torch.cat([g.ravel() for g in grads])))
        )

    def on_epoch_end(self, trainer, record):
        self.states_[record["epoch"]] = {
            k: v.clone() for k, v in trainer.module.state_dict().items()
        }


def _engine_callbacks():
    return [
        EarlyStopping(monitor="valid_loss", patience=50),
        LRScheduler("StepLR", scheduler_kwargs={"step_size": 3, "gamma": 0.5}),
    ]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_resumed_fit_equals_uninterrupted_fit(digits, tmp_path, solver):
    X, y = digits[0][:500], digits[1][:500]
    params = dict(FAST, max_iter=8, dropout=0.2, batch_norm=True, solver=solver)
    full = MLPClassifier(**params, callbacks=[*_engine_callbacks()]).fit(X, y)

    path = tmp_path / "run.ckpt"
    killed = MLPClassifier(
        **params, callbacks=[*_engine_callbacks(), Checkpoint(path), Interrupt(at=3)]
    )
    with pytest.warns(UserWarning, match="interrupted"):
        killed.fit(X, y)
    assert load_checkpoint(path)["epoch"] == 3
    resumed = MLPClassifier(
        **params, callbacks=[*_engine_callbacks(), Checkpoint(path, resume=True)]
    ).fit(X, y)
    assert resumed.callbacks_[-1].resumed_from_ == 3
    assert resumed.n_iter_ == full.n_iter_ == 8
    for key, value in full.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[key], value), key
    assert resumed.history_["train_loss"] == full.history_["train_loss"]
    assert resumed.history_["valid_loss"] == full.history_["valid_loss"]
    assert resumed.history_["lr"] == full.history_["lr"]
    assert resumed.callbacks_[0].best_epoch_ == full.callbacks_[0].best_epoch_


_KILLED_RUN = """
import os, signal, sys
import numpy as np, torch
from sklearn.datasets import load_digits
from sknn import MLPClassifier
from sknn.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler

class Kill(Callback):
    def on_epoch_end(self, trainer, record):
        if record["epoch"] == 3:
            os.kill(os.getpid(), signal.SIGKILL)

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X, y = (X / 16.0).astype(np.float32)[:500], y[:500]
callbacks = [
    EarlyStopping(monitor="valid_loss", patience=50),
    LRScheduler("StepLR", scheduler_kwargs={"step_size": 3, "gamma": 0.5}),
    Checkpoint(sys.argv[1], resume=sys.argv[2] == "resume"),
]
if sys.argv[2] == "kill":
    callbacks.append(Kill())
clf = MLPClassifier(
    hidden_layer_sizes=(16,), random_state=0, device="cpu", max_iter=8,
    dropout=0.2, batch_norm=True, callbacks=callbacks,
).fit(X, y)
torch.save({k: v for k, v in clf.module_.state_dict().items()}, sys.argv[3])
"""


def test_fit_killed_by_sigkill_resumes_in_a_new_process(digits, tmp_path):
    """A real kill (SIGKILL, no cleanup) mid-fit, then a resume in a fresh process,
    gives the weights of an uninterrupted fit with the same seed."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(_KILLED_RUN)
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "weights.pt"

    def run(mode, weights):
        return subprocess.run(
            [sys.executable, str(script), str(ckpt), mode, str(weights)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    killed = run("kill", out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()
    assert load_checkpoint(ckpt)["epoch"] == 3
    assert run("resume", out).returncode == 0
    full_out = tmp_path / "full.pt"
    assert run("full", full_out).returncode == 0
    resumed = torch.load(out, weights_only=True)
    full = torch.load(full_out, weights_only=True)
    assert resumed.keys() == full.keys()
    for key, value in full.items():
        assert torch.equal(resumed[key], value), key


def test_checkpoint_every_and_on_improvement(iris, tmp_path):
    X, y = iris
    every = Checkpoint(tmp_path / "a.ckpt", every=3)
    MLPClassifier(**FAST, max_iter=7, callbacks=[every]).fit(X, y)
    best = Checkpoint(tmp_path / "b.ckpt", every=None, monitor="train_loss")
    clf = MLPClassifier(**FAST, max_iter=7, callbacks=[best]).fit(X, y)
    fitted_every, fitted_best = (
        MLPClassifier(**FAST, max_iter=7, callbacks=[every]).fit(X, y).callbacks_[0],
        clf.callbacks_[0],
    )
    assert fitted_every.saved_epochs_ == [3, 6]
    losses = clf.history_["train_loss"]
    improved = [i + 1 for i in range(len(losses)) if losses[i] == min(losses[: i + 1])]
    assert fitted_best.saved_epochs_ == improved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt", "b.ckpt"]


def test_checkpoint_write_is_atomic(iris, tmp_path, monkeypatch):
    X, y = iris
    path = tmp_path / "c.ckpt"
    MLPClassifier(**FAST, max_iter=2, callbacks=[Checkpoint(path)]).fit(X, y)
    good = path.read_bytes()
    real_save = torch.save

    def crash(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(10)  # half-written, then the process dies
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        MLPClassifier(**FAST, max_iter=2, callbacks=[Checkpoint(path)]).fit(X, y)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["c.ckpt"]


class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_bad_checkpoints_are_refused(iris, tmp_path):
    X, y = iris
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"format": "sknn-checkpoint", "x": _Hostile(marker)}, path)
    with pytest.raises(ValueError, match="other than plain tensors"):
        MLPClassifier(
            **FAST, max_iter=2, callbacks=[Checkpoint(path, resume=True)]
        ).fit(X, y)
    assert not marker.exists()
    torch.save({"weights": torch.ones(1)}, path)
    with pytest.raises(ValueError, match="not an sknn checkpoint"):
        load_checkpoint(path)
    # A checkpoint of another network.
    MLPClassifier((4,), max_iter=1, callbacks=[Checkpoint(path)]).fit(X, y)
    with pytest.raises(ValueError, match="does not fit"):
        MLPClassifier(
            **FAST, max_iter=2, callbacks=[Checkpoint(path, resume=True)]
        ).fit(X, y)


def test_early_stopping_restores_best_weights(digits):
    X, y = digits[0][:600], digits[1][:600]
    es = EarlyStopping(monitor="valid_loss", patience=2, min_delta=0.0)
    clf = MLPClassifier(
        **FAST, max_iter=60, learning_rate_init=0.05, callbacks=[es, Recorder()]
    ).fit(X, y)
    es_fit, rec = clf.callbacks_
    assert es_fit.stopped_epoch_ == clf.n_iter_ < 60
    best = int(np.argmin(clf.history_["valid_loss"])) + 1
    assert es_fit.best_epoch_ == best
    for k, v in rec.states_[best].items():
        assert torch.equal(clf.module_.state_dict()[k], v)


def test_early_stopping_monitors_any_metric_and_validates(iris):
    X, y = iris
    es = EarlyStopping(monitor="train_loss", patience=1, min_delta=10.0)
    clf = MLPClassifier(**FAST, max_iter=50, callbacks=[es]).fit(X, y)
    assert clf.n_iter_ == 2 and "valid_loss" not in clf.history_.keys()
    with pytest.raises(ValueError, match="not recorded"):
        MLPClassifier(**FAST, callbacks=[EarlyStopping(monitor="nope")]).fit(X, y)
    with pytest.raises(ValueError, match="mode"):
        MLPClassifier(**FAST, callbacks=[EarlyStopping(mode="up")]).fit(X, y)


def test_lr_schedulers(iris):
    X, y = iris
    n_epochs = 6
    cosine = LRScheduler("CosineAnnealingLR")
    clf = MLPClassifier(
        **FAST, max_iter=n_epochs, learning_rate_init=0.1, callbacks=[cosine]
    )
    lrs = clf.fit(X, y).history_["lr"]
    assert lrs[0] == pytest.approx(0.1) and lrs == sorted(lrs, reverse=True)
    assert clf.callbacks_[0].scheduler_.get_last_lr()[0] == pytest.approx(
        0.0, abs=1e-12
    )

    one_cycle = LRScheduler(torch.optim.lr_scheduler.OneCycleLR, step_every="batch")
    clf = MLPClassifier(
        **FAST, max_iter=n_epochs, batch_size=50, learning_rate_init=0.1
    )
    lrs = clf.set_params(callbacks=[one_cycle]).fit(X, y).history_["lr"]
    assert max(lrs) > lrs[0] and lrs[-1] < max(lrs)  # warm-up then annealing

    plateau = LRScheduler(
        "ReduceLROnPlateau",
        monitor="valid_loss",
        scheduler_kwargs={"patience": 0, "factor": 0.5, "threshold": 10.0},
    )
    clf = MLPClassifier(**FAST, max_iter=4, learning_rate_init=0.1, callbacks=[plateau])
    lrs = clf.fit(X, y).history_["lr"]
    assert "valid_loss" in clf.history_.keys()  # a validation set was held out
    assert lrs == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="policy"):
        MLPClassifier(**FAST, callbacks=[LRScheduler("NoSuchLR")]).fit(X, y)


def test_gradient_clipping_bounds_the_norm(diabetes):
    X, y = diabetes
    clf = MLPRegressor(
        **FAST, max_iter=2, callbacks=[GradientClipping(max_norm=0.01), Recorder()]
    ).fit(X, y)
    norms = clf.callbacks_[1].grad_norms_
    assert norms and max(norms) <= 0.01 * (1 + 1e-5)
    free = MLPRegressor(**FAST, max_iter=2, callbacks=[Recorder()]).fit(X, y)
    assert max(free.callbacks_[0].grad_norms_) > 0.01
    clf = MLPRegressor(
        **FAST,
        max_iter=1,
        callbacks=[GradientClipping(max_norm=None, clip_value=1e-4), Recorder()],
    ).fit(X, y)
    assert clf.n_iter_ == 1


def test_progress_bar(iris, capsys):
    X, y = iris
    clf = MLPClassifier(**FAST, max_iter=3, callbacks=[ProgressBar()]).fit(X, y)
    err = capsys.readouterr().err
    assert "3/3" in err and "train_loss" in err
    pickle.dumps(clf)  # no open bar left in the fitted estimator


def test_csv_and_json_loggers(iris, tmp_path):
    X, y = iris
    csv_path, json_path = tmp_path / "log.csv", tmp_path / "log.jsonl"
    callbacks = [CSVLogger(csv_path), JSONLogger(json_path)]
    clf = MLPClassifier(**FAST, max_iter=4, early_stopping=True, callbacks=callbacks)
    clf.fit(X, y)
    lines = csv_path.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["epoch", "train_loss"] and len(lines) == 5
    records = [json.loads(line) for line in json_path.read_text().splitlines()]
    assert [r["valid_score"] for r in records] == clf.history_["valid_score"]
    clf.set_params(callbacks=[CSVLogger(csv_path, append=True)]).fit(X, y)
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 9 and lines.count(lines[0]) == 1
    pickle.dumps(clf)


def test_callbacks_clone_and_grid_search(iris):
    X, y = iris
    est = MLPClassifier(**FAST, max_iter=10, callbacks=[EarlyStopping(patience=2)])
    copy = clone(est)
    assert copy.callbacks[0] is not est.callbacks[0]
    assert copy.callbacks[0].get_params() == est.callbacks[0].get_params()
    grid = GridSearchCV(
        est,
        {"callbacks": [[EarlyStopping(patience=2)], [EarlyStopping(patience=5)]]},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 2
    assert grid.best_params_["callbacks"][0].patience in (2, 5)
    search = GridSearchCV(
        MLPClassifier(**FAST, max_iter=4, callbacks=[LRScheduler("StepLR")]),
        {
            "callbacks": [
                [LRScheduler("StepLR", scheduler_kwargs={"step_size": s})]
                for s in (1, 5)
            ]
        },
        cv=2,
    ).fit(X, y)
    assert search.best_estimator_.callbacks_[0].scheduler_ is not None
