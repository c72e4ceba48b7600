"""torch threads per call: the ``n_threads`` parameter and its automatic choice."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sknn import CNNClassifier, MLPClassifier, MLPRegressor, RNNClassifier
from sknn.callbacks import Callback
from sknn.utils import threads
from sknn.utils.threads import auto_threads, macs_per_row, torch_threads

CPU = dict(device="cpu", random_state=0)


class RecordThreads(Callback):
    """Record torch's thread count at every epoch end."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, trainer, record):
        self.seen.append(torch.get_num_threads())


def _fit_seen(est, X, y):
    est.fit(X, y)
    return est.callbacks_[0].seen


@pytest.fixture
def two_threads():
    """torch allowed 2 threads, as on a 2-core machine without limits."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def idle_machine(monkeypatch):
    """Every core idle, whatever the load of the machine running the tests."""
    monkeypatch.setattr(threads, "idle_cores", lambda cores=None: 16)


def test_n_threads_is_a_validated_cloneable_parameter():
    for cls in (MLPClassifier, MLPRegressor, CNNClassifier, RNNClassifier):
        est = cls(n_threads=3)
        assert est.get_params()["n_threads"] == 3
        assert clone(est).n_threads == 3
        assert cls().n_threads is None
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises((ValueError, TypeError), match="n_threads"):
            MLPClassifier(n_threads=bad).fit(X, y)


def test_explicit_n_threads_holds_during_fit_and_is_restored(iris, two_threads):
    X, y = iris
    seen = _fit_seen(
        MLPClassifier(
            (8,), max_iter=3, n_threads=1, callbacks=[RecordThreads()], **CPU
        ),
        X,
        y,
    )
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == 2  # torch's setting is back


def test_auto_uses_one_thread_for_a_small_network(iris, two_threads, idle_machine):
    X, y = iris
    seen = _fit_seen(
        MLPClassifier((8,), max_iter=2, callbacks=[RecordThreads()], **CPU), X, y
    )
    assert seen == [1, 1]
    assert torch.get_num_threads() == 2


def test_auto_uses_more_threads_for_a_large_network(two_threads, idle_machine):
    rng = np.random.RandomState(0)
    X, y = rng.rand(256, 512).astype(np.float32), rng.randint(0, 2, 256)
    seen = _fit_seen(
        MLPClassifier(
            (512, 512), batch_size=256, max_iter=1, callbacks=[RecordThreads()], **CPU
        ),
        X,
        y,
    )
    assert seen == [2]  # 256 rows x ~520k weights x 3 is over 2 x MACS_PER_THREAD


def test_auto_never_exceeds_torch_limit_or_idle_cores(monkeypatch, two_threads):
    from threadpoolctl import threadpool_limits

    monkeypatch.setattr(threads, "idle_cores", lambda cores=None: 16)
    assert auto_threads(1e12) == 2
    with threadpool_limits(1):  # a user's (or joblib's) limit on OpenMP
        assert auto_threads(1e12) == 1
    monkeypatch.setattr(threads, "idle_cores", lambda cores=None: 1)
    assert auto_threads(1e12) == 1  # a busy machine


def test_auto_uses_one_thread_outside_the_main_thread(two_threads, idle_machine):
    got = []
    worker = threading.Thread(target=lambda: got.append(auto_threads(1e12)))
    worker.start()
    worker.join()
    assert got == [1] and auto_threads(1e12) == 2


def test_predict_sets_threads_from_its_chunk(iris, two_threads, idle_machine):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=2, **CPU).fit(X, y)
    seen = []
    clf.module_.register_forward_hook(
        lambda m, i, o: seen.append(torch.get_num_threads())
    )
    clf.predict(X[:1])
    clf.set_params(n_threads=2).predict(X[:1])
    assert seen == [1, 2]
    assert torch.get_num_threads() == 2


def test_torch_threads_nests_and_restores(two_threads):
    with torch_threads(1):
        with torch_threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 2  # last writer wins inside
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1


def test_macs_per_row_counts_where_weights_are_applied():
    lin = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU())
    assert macs_per_row(lin, (torch.ones(1, 10),)) == 200.0
    # A 3x3 convolution 1 -> 4 channels on 8x8 (padding 1): 36 weights at 64 places.
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    assert macs_per_row(conv, (torch.ones(1, 1, 8, 8),)) == 36.0 * 64
    # A GRU over 5 steps applies its weights at every step.
    gru = torch.nn.GRU(3, 4, batch_first=True)
    n_w = sum(p.numel() for p in gru.parameters() if p.ndim >= 2)
    assert macs_per_row(gru, (torch.ones(2, 5, 3),)) == n_w * 5.0
    assert gru.training  # the estimate leaves the mode as it was


def test_one_thread_inside_joblib_process_workers(iris):
    from joblib import Parallel, delayed

    X, y = iris

    def fit_in_worker():
        import torch as torch_

        from sknn import MLPClassifier as Est

        seen = []

        class Rec(Callback):
            def on_epoch_end(self, trainer, record):
                seen.append(torch_.get_num_threads())

        Est((8,), max_iter=1, device="cpu", callbacks=[Rec()]).fit(X, y)
        return seen

    out = Parallel(n_jobs=2)(delayed(fit_in_worker)() for _ in range(2))
    assert out == [[1], [1]]


@pytest.mark.skipif(
    not __import__("os").path.exists("/proc/loadavg"), reason="needs Linux's /proc"
)
def test_a_busy_process_elsewhere_counts_and_this_one_does_not():
    import subprocess
    import sys

    # This process's own busy threads (a matrix product releasing the GIL) are not
    # "other work": the count is the same with and without them, give or take the
    # other processes of the machine (so compare the lowest of several samples).
    def lowest(n=20):
        return min(threads._running_elsewhere() for _ in range(n))

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert lowest() >= 1  # a CPU-bound process is always runnable
    finally:
        child.kill()
        child.wait()
    stop = threading.Event()

    def spin():
        a = torch.ones(256, 256)
        while not stop.is_set():
            a @ a

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        busy_here = lowest()
    finally:
        stop.set()
        worker.join()
    assert busy_here <= lowest() + 1
