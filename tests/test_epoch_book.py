"""One epoch book and one divergence guard for the single and the stacked engine."""

from __future__ import annotations

import ast
import math
import pathlib

import numpy as np
import pytest
import torch

from sknn.training import TensorData, TrainConfig, Trainer
from sknn.training.book import EpochBook, TrainState
from sknn.training.divergence import DivergenceGuard
from sknn.training.history import History
from sknn.training.sources import batch_bounds, last_batch_merged
from sknn.training.stacked import StackedTrainer

ENGINE = pathlib.Path(__file__).resolve().parents[1] / "sknn" / "training"
#: The loops, the books and the batch sources (custom.py, which turns a user's
#: optimiser and loss into the engine's, reads user objects' optional attributes).
ENGINE_MODULES = (
    "engine", "stacked", "stack_plan", "book", "divergence", "hooks", "sources", "data", "host",
    "dataset_stream", "distributed", "augment", "placement", "inference",
)  # fmt: skip


def _mse(out, y, w):
    if w is None:
        return ((out - y) ** 2).mean()
    return (w * ((out - y) ** 2).mean(-1)).sum() / w.sum()


def _runs(k, *, n=40, max_epochs=12, monitor="train_loss", valid=False, lr=0.05):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 3)
    y = (X @ np.array([1.0, -2.0, 0.5]))[:, None]
    trainers, trains, valids = [], [], []
    for seed in range(k):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)
        )
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        config = TrainConfig(
            max_epochs=max_epochs, batch_size=8, n_iter_no_change=2, monitor=monitor
        )
        score = (lambda out, y, w: -_mse(out, y, w)) if valid else None
        trainers.append(
            Trainer(
                net, _mse, opt, config, score_fn=score,
                generator=torch.Generator().manual_seed(seed),
            )
        )  # fmt: skip
        trains.append(TensorData(X[: n - 10], y[: n - 10], None, torch.device("cpu")))
        valids.append(
            TensorData(X[n - 10 :], y[n - 10 :], None, torch.device("cpu"))
            if valid
            else None
        )
    return trainers, trains, valids


@pytest.mark.parametrize("monitor", ["train_loss", "valid_score"])
def test_both_engines_keep_the_same_books(monitor):
    """The records, counters, stop reasons and best-weight choices of a stacked pass
    are those of the same runs fitted one by one (the same book keeps them)."""
    valid = monitor == "valid_score"
    alone, trains, valids = _runs(3, monitor=monitor, valid=valid)
    for t, tr, va in zip(alone, trains, valids):
        t.fit(tr, va)
    stacked, trains, valids = _runs(3, monitor=monitor, valid=valid)
    StackedTrainer(stacked, trains, valids, alphas=[0.0] * 3).fit()
    for a, s in zip(alone, stacked):
        assert [r["epoch"] for r in a.history] == [r["epoch"] for r in s.history]
        assert sorted(a.history[-1]) == sorted(s.history[-1])
        np.testing.assert_allclose(a.state.loss_curve, s.state.loss_curve, rtol=1e-4)
        assert (a.state.epoch, a.state.t, a.state.no_improve) == (
            s.state.epoch,
            s.state.t,
            s.state.no_improve,
        )
        assert a.stop_reason == s.stop_reason and a.converged == s.converged
        for key, value in a.module.state_dict().items():
            torch.testing.assert_close(
                s.module.state_dict()[key], value, rtol=1e-4, atol=1e-5
            )


def test_a_book_forgets_the_epochs_a_recovery_passed_over():
    config = TrainConfig(max_epochs=10, batch_size=4)
    book = EpochBook(config, TrainState(), History())
    book.start(rows_per_epoch=7)
    for loss in (3.0, 2.0, 1.0):
        book.count_epoch()
        book.conclude(book.record(loss), dur=0.1)
    book.forget(2)
    assert book.state.loss_curve == [3.0] and book.state.t == 7
    assert book.state.best_loss == 3.0 and [r["epoch"] for r in book.history] == [1]
    assert book.epochs_run == 3  # the epochs ran: they count towards max_epochs


def test_a_stacked_guard_keeps_each_networks_snapshots():
    state = {"w": torch.zeros(3, 2)}  # three networks, stacked
    guard = DivergenceGuard(state, kept=[0, 1, 0])
    assert [len(guard.snapshots(r)) for r in range(3)] == [0, 1, 0]
    state["w"] += torch.arange(3.0)[:, None]
    guard.commit(state)
    guard.select([0, 2])  # network 1 stopped
    assert [len(guard.snapshots(r)) for r in range(2)] == [1, 1]
    assert guard.snapshots(1)[0]["w"].tolist() == [2.0, 2.0]
    assert guard.latest(0)["w"].tolist() == [0.0, 0.0]


def test_the_merge_last_batch_rule_is_one_rule():
    for n in range(1, 40):
        for bs in range(1, 12):
            cut = list(batch_bounds(n, bs, merge_last=True))
            assert len(cut) == math.ceil(n / bs) - last_batch_merged(n, bs, True)
            assert cut[-1][1] == n and cut[-1][1] - cut[-1][0] >= min(2, n)


def _writes_to_private_attributes(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if (
                    isinstance(sub, ast.Attribute)
                    and sub.attr.startswith("_")
                    and not sub.attr.startswith("__")
                    and not (
                        isinstance(sub.value, ast.Name)
                        and sub.value.id in ("self", "cls")
                    )
                ):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(target)}")
    return found


def _attribute_probes(path: pathlib.Path) -> list[str]:
    """``getattr(obj, "name", default)`` on anything but ``self``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and (node.func.id == "hasattr" or len(node.args) == 3)
            and not (isinstance(node.args[0], ast.Name) and node.args[0].id == "self")
        ):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_the_engine_writes_no_private_attribute_and_probes_no_capability(tmp_path):
    """The stacked engine books its runs through the trainers' public books; the
    engine reads declared capabilities, not attributes that may be missing."""
    files = sorted(ENGINE.glob("*.py"))
    assert [w for f in files for w in _writes_to_private_attributes(f)] == []
    engine = [ENGINE / f"{name}.py" for name in ENGINE_MODULES]
    assert [p for f in engine for p in _attribute_probes(f)] == []
    # The checks see what they look for (what the engine did before).
    old = tmp_path / "old.py"
    old.write_text(
        "t._epochs_run += 1\nself._ok = 1\nsharded = getattr(data, 'sharded', False)\n"
    )
    assert len(_writes_to_private_attributes(old)) == 1
    assert len(_attribute_probes(old)) == 1
