"""Data larger than memory: rows streamed from the host (data_placement / memory_budget).

The streamed source must give the weights of the in-memory path, stay lazy (the
inputs are never copied whole), choose itself only when the data exceed the budget,
and keep the process's memory well below the size of a memmap it trains on.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
import torch
from _memory import PEAK_MEMORY, has_rss_anon
from _streaming import assert_same_model, placed, streaming_table
from sklearn.exceptions import ConvergenceWarning

from sknn import CNNClassifier, MLPClassifier, MLPRegressor
from sknn.data import RandomFlip
from sknn.model_selection import fit_stacked
from sknn.training import TensorData
from sknn.training.distributed import ShardedData
from sknn.training.host import (
    HostData,
    HostRows,
    choose_placement,
    training_source,
)
from sknn.training.stack_plan import stack_reason

CPU = torch.device("cpu")


def memmap(tmp_path, array, name="X.dat", mode="r"):
    """``array`` written to a file and opened again as a (read-only) memmap."""
    path = tmp_path / name
    out = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape)
    out[:] = array
    out.flush()
    del out
    return np.memmap(path, dtype=array.dtype, mode=mode, shape=array.shape)


def fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def table():
    return streaming_table()


# ---------------------------------------------------------------- same weights
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(shuffle=False),
        dict(early_stopping=True, n_iter_no_change=2),
        dict(batch_size=40),
        dict(solver="sgd", momentum=0.9),
    ],
    ids=["shuffle", "no-shuffle", "early-stopping", "merge-last", "sgd"],
)
def test_mlp_classifier_stream_equals_device(tmp_path, table, options):
    X, y = table
    Xm = memmap(tmp_path, X)
    kw = dict(hidden_layer_sizes=(16,), max_iter=6, **options)
    device = fit(placed(MLPClassifier, "device", **kw), Xm, y)
    stream = fit(placed(MLPClassifier, "stream", **kw), Xm, y)
    assert_same_model(device, stream, X)
    if options.get("early_stopping"):
        assert device.validation_scores_ == stream.validation_scores_


def test_mlp_regressor_sample_weight_and_float64_stream_equals_device(tmp_path, table):
    """float64 rows narrowed to float32 one batch at a time, and sample weights."""
    X, _ = table
    X64 = X.astype(np.float64)
    y = X64[:, 0] * 2.0 - X64[:, 3]
    w = np.random.RandomState(1).uniform(0.2, 2.0, len(X))
    Xm = memmap(tmp_path, X64)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, dtype="float32", batch_size=32)
    device = fit(placed(MLPRegressor, "device", **kw), Xm, y, sample_weight=w)
    stream = fit(placed(MLPRegressor, "stream", **kw), Xm, y, sample_weight=w)
    assert_same_model(device, stream, X64)


def test_cnn_classifier_stream_equals_device(tmp_path, digits):
    X, y = digits
    X = X[:150].reshape(-1, 1, 8, 8)
    Xm = memmap(tmp_path, X)
    kw = dict(channels=(4,), hidden_layer_sizes=(), max_iter=3, batch_size=32)
    device = fit(placed(CNNClassifier, "device", **kw), Xm, y[:150])
    stream = fit(placed(CNNClassifier, "stream", **kw), Xm, y[:150])
    assert_same_model(device, stream, X)


def test_cnn_augment_streams_as_in_memory(tmp_path, digits):
    """AugmentedData wraps the streamed source: same transforms, same weights."""
    X, y = digits
    X = X[:96].reshape(-1, 1, 8, 8)
    Xm = memmap(tmp_path, X)
    kw = dict(channels=(4,), hidden_layer_sizes=(), max_iter=2, augment=RandomFlip())
    device = fit(placed(CNNClassifier, "device", **kw), Xm, y[:96])
    stream = fit(placed(CNNClassifier, "stream", **kw), Xm, y[:96])
    assert_same_model(device, stream, X)


def test_partial_fit_stream_equals_device(tmp_path, table):
    X, y = table
    Xm = memmap(tmp_path, X)
    kw = dict(hidden_layer_sizes=(8,), batch_size=50)
    a, b = placed(MLPClassifier, "device", **kw), placed(MLPClassifier, "stream", **kw)
    for _ in range(3):
        a.partial_fit(Xm, y, classes=np.unique(y))
        b.partial_fit(Xm, y, classes=np.unique(y))
    assert_same_model(a, b, X)


# ---------------------------------------------------------------- the choice
def test_choose_placement():
    assert choose_placement("device", 10**12, 1) == "device"
    assert choose_placement("stream", 1, 10**12) == "stream"
    assert choose_placement("auto", 1000, 1000) == "device"
    assert choose_placement("auto", 1001, 1000) == "stream"
    with pytest.raises(ValueError, match="data_placement must be one of"):
        choose_placement("disk", 1, 1)


def test_training_source_streams_only_one_dense_array():
    X = np.zeros((50, 4), dtype=np.float32)  # 800 bytes as float32
    assert type(training_source(X, None, None, CPU, placement="auto")) is TensorData
    src = training_source(X, None, None, CPU, placement="auto", budget=799)
    assert isinstance(src, HostData) and src.budget == 799
    assert type(training_source(X, None, None, CPU, placement="auto", budget=800)) is (
        TensorData
    )
    # float64 rows counted in the fit dtype: 1600 bytes.
    X64 = X.astype(np.float64)
    kw = dict(placement="auto", budget=1000)
    assert type(training_source(X64, None, None, CPU, **kw)) is TensorData
    assert isinstance(
        training_source(X64, None, None, CPU, x_dtype=torch.float64, **kw), HostData
    )
    with pytest.warns(UserWarning, match="streams one dense array"):
        two = training_source((X, X), None, None, CPU, placement="stream")
    assert type(two) is TensorData


@pytest.mark.parametrize(
    "budget, streamed", [(None, False), (10**9, False), (1000, True)]
)
def test_auto_streams_when_data_exceed_memory_budget(tmp_path, table, budget, streamed):
    X, y = table  # 241 * 12 * 4 = 11568 bytes
    est = MLPClassifier(max_iter=1, data_placement="auto", memory_budget=budget)
    run = est._setup_fit(memmap(tmp_path, X), y)
    assert isinstance(run.train, HostData) is streamed
    assert isinstance(run.train, TensorData)


def test_validation_rows_on_device_training_rows_stay_lazy(tmp_path, table):
    X, y = table
    Xm = memmap(tmp_path, X)
    est = MLPClassifier(
        early_stopping=True, data_placement="auto", memory_budget=4000, max_iter=1
    )
    run = est._setup_fit(Xm, y)
    train, valid = run.train, run.valid
    assert isinstance(train, HostData) and isinstance(valid, HostData)
    rows = train.inputs[0]
    assert isinstance(rows, HostRows) and rows.array is not None
    assert rows.shape == (train.n_samples, 12) and len(rows.index) == train.n_samples
    run.trainer.begin(train, valid)
    try:  # 25 validation rows (1200 bytes) fit the budget; the training rows do not
        assert type(run.trainer._valid) is TensorData
        assert run.trainer._train is train
        assert run.trainer.outputs_finite(rows=100)  # the end-of-fit check streams
    finally:
        run.trainer.end()
    small = est.set_params(memory_budget=1000)._setup_fit(Xm, y)
    small.trainer.begin(small.train, small.valid)
    try:  # the validation rows no longer fit: scored from the host too
        assert isinstance(small.trainer._valid, HostData)
    finally:
        small.trainer.end()


def test_subset_is_lazy_and_batches_match_tensor_data(table):
    X, y = table
    host = HostData(X, y, np.ones(len(X)), CPU, y_dtype=torch.long)
    mem = TensorData(X, y, np.ones(len(X)), CPU, y_dtype=torch.long)
    idx = np.random.RandomState(0).permutation(len(X))[:100]
    hs, ms = host.subset(idx), mem.subset(idx)
    assert hs.inputs[0].array is X  # an index into the same array, no copy
    np.testing.assert_array_equal(hs.inputs[0].index, idx)
    for merge in (False, True):
        a = list(hs.batches(33, torch.Generator().manual_seed(3), merge_last=merge))
        b = list(ms.batches(33, torch.Generator().manual_seed(3), merge_last=merge))
        assert [len(p[1]) for p in a] == [len(q[1]) for q in b]
        for p, q in zip(a, b):
            assert torch.equal(p[0][0], q[0][0]) and torch.equal(p[1], q[1])
            assert torch.equal(p[2], q[2])
    shard_h = [x[0][0] for x in ShardedData(hs, 1, 2).batches(10)]
    shard_m = [x[0][0] for x in ShardedData(ms, 1, 2).batches(10)]
    assert all(torch.equal(p, q) for p, q in zip(shard_h, shard_m))


def test_prefetch_thread_ends_with_the_epoch(table):
    X, y = table
    host = HostData(X, y, None, CPU)
    batches = host.batches(10, torch.Generator().manual_seed(0))
    next(batches)
    assert any(t.name.startswith("sknn-prefetch") for t in threading.enumerate())
    batches.close()  # an epoch left early (a one-chunk prediction, an error)
    assert not any(t.name.startswith("sknn-prefetch") for t in threading.enumerate())
    no_prefetch = HostData(X, y, None, CPU, prefetch=False)
    a = [b[0][0] for b in no_prefetch.batches(50, torch.Generator().manual_seed(1))]
    b = [b[0][0] for b in host.batches(50, torch.Generator().manual_seed(1))]
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_stacked_search_fits_streamed_networks_alone(tmp_path, table):
    X, y = table
    Xm = memmap(tmp_path, X)
    kw = dict(hidden_layer_sizes=(8,), max_iter=3, data_placement="stream")
    run = MLPClassifier(**kw)._setup_fit(Xm, y)
    assert "streamed" in stack_reason(run.trainer, run.train)
    nets = [MLPClassifier(random_state=s, **kw) for s in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stacked = fit_stacked(nets, Xm, y)
    alone = [fit(MLPClassifier(random_state=s, **kw), Xm, y) for s in (0, 1)]
    for a, b in zip(stacked, alone):
        assert_same_model(a, b, X)


# ---------------------------------------------------------------- errors
def test_nan_in_memmap_is_refused_before_training(tmp_path, table):
    X, y = table
    bad = X.copy()
    bad[200, 3] = np.nan
    est = MLPClassifier(max_iter=1, data_placement="stream")
    with pytest.raises(ValueError, match="NaN"):
        est.fit(memmap(tmp_path, bad), y)
    bad[200, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(memmap(tmp_path, bad, "inf.dat"), y)


def test_values_beyond_float32_in_a_streamed_batch(tmp_path, table):
    X, y = table
    big = X.astype(np.float64)
    big[230, 0] = 1e39  # finite in float64, not in float32; in the last batch
    est = MLPClassifier(max_iter=1, dtype="float32", data_placement="stream")
    with pytest.raises(ValueError, match="beyond the range of float32"):
        est.fit(memmap(tmp_path, big), y)


# ---------------------------------------------------------------- memory
MEMORY_SCRIPT = PEAK_MEMORY + textwrap.dedent(
    """
    import sys, threading, time, warnings
    import numpy as np
    from sknn import MLPClassifier

    path, n, d, budget = sys.argv[1], *map(int, sys.argv[2:])
    warnings.simplefilter("ignore")

    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))
    y = np.arange(n) % 2
    kw = dict(hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    MLPClassifier(**kw).fit(np.asarray(X[:500]), y[:500])  # one-time setup first
    streamed = peak_increase(lambda: MLPClassifier(
        **kw, data_placement="auto", memory_budget=budget).fit(X, y))
    device = peak_increase(lambda: MLPClassifier(
        **kw, data_placement="device").fit(X, y))
    print(streamed, device)
    """
)


@pytest.mark.skipif(
    not has_rss_anon(), reason="needs /proc/self/status with RssAnon (Linux)"
)
def test_streamed_fit_memory_stays_well_below_the_memmap(tmp_path):
    """Peak anonymous memory of a streamed fit on an 80 MB memmap, budget 8 MB.

    A memmap's pages, once read, are the OS page cache mapped into the process: they
    count in VmRSS / VmHWM (as RssFile) although the kernel drops them whenever it
    needs the memory, so VmRSS would grow to the file size either way. What the fit
    itself allocates (copies of the rows, tensors, the heap) is anonymous memory,
    RssAnon: that is what must stay small. The in-memory path is measured the same
    way and must exceed the file size, so the measurement is shown able to fail.
    """
    n, d = 100_000, 200  # 80 MB of float32
    path = tmp_path / "big.dat"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    rng = np.random.RandomState(0)
    for start in range(0, n, 10_000):
        X[start : start + 10_000] = rng.randn(10_000, d)
    X.flush()
    del X
    size = n * d * 4
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), str(n), str(d), "8000000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    streamed, device = map(int, out.stdout.split()[-2:])
    print(
        f"file {size / 1e6:.0f} MB: streamed +{streamed / 1e6:.1f} MB anonymous, "
        f"device +{device / 1e6:.1f} MB"
    )
    assert streamed < 0.25 * size
    assert device > size


# ---------------------------------------------------------------- CUDA
@pytest.mark.cuda
def test_stream_onto_cuda_equals_device_path(tmp_path, table):
    X, y = table
    Xm = memmap(tmp_path, X)
    host = HostData(Xm, y, None, torch.device("cuda"), y_dtype=torch.long)
    xb = next(host.batches(16))[0][0]
    assert xb.is_cuda
    assert host._load(slice(0, 4)).is_pinned()
    kw = dict(hidden_layer_sizes=(16,), max_iter=4, device="cuda")
    torch.backends.cudnn.deterministic = True
    device = fit(placed(MLPClassifier, "device", **kw), Xm, y)
    stream = fit(placed(MLPClassifier, "stream", **kw), Xm, y)
    for p, q in zip(device.module_.parameters(), stream.module_.parameters()):
        torch.testing.assert_close(p, q)
    np.testing.assert_array_equal(device.predict(X), stream.predict(X))
