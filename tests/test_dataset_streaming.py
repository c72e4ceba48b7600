"""Map-style Datasets larger than memory: items loaded batch by batch while training.

With ``data_placement="stream"`` (or ``"auto"`` over ``memory_budget``) a Dataset is
not read into memory: one pass reads the targets, then every epoch loads the
batches of the in-memory path's permutation through a DataLoader. The weights must
be those of a fit on the same rows as arrays, and the process's memory must stay
well below the size of the Dataset's inputs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from _memory import PEAK_MEMORY, has_rss_anon
from _streaming import assert_same_model, placed, streaming_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from torch.utils.data import Dataset

from sknn import (
    CNNClassifier,
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
)
from sknn.data import RandomFlip, SliceDataset
from sknn.data.adapters import DatasetInput, adapt_fit_input
from sknn.model_selection import fit_stacked
from sknn.training import TensorData
from sknn.training.augment import AugmentedData
from sknn.training.dataset_stream import DatasetData
from sknn.training.distributed import ShardedData
from sknn.training.stack_plan import stack_reason

CPU = torch.device("cpu")


class LazyDataset(Dataset):
    """Items ``(x, y)`` made when asked for (as files would be read); counts reads.

    ``X`` is kept only to compute items and to compare with the array fit.
    """

    def __init__(self, X, y=None, *, pairs: bool = True) -> None:
        self.X, self.y, self.pairs = X, y, pairs
        self.reads = 0

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        x = torch.from_numpy(self.X[i].copy())
        if not self.pairs:
            return x
        return x, torch.as_tensor(self.y[i])


def fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def table():
    return streaming_table()


# ---------------------------------------------------------------- nothing up front
def test_only_the_targets_are_read_up_front():
    rng = np.random.RandomState(0)
    X, y = rng.randn(1000, 3).astype(np.float32), np.arange(1000) % 3
    ds = LazyDataset(X, y)
    Xs, ys = adapt_fit_input(ds, placement="stream")
    assert isinstance(Xs, DatasetInput) and len(Xs) == len(X)
    assert ds.reads == len(X)  # the targets pass (its first batch kept as example)
    np.testing.assert_array_equal(ys, y)
    # With y given there is no targets pass: one batch (of 256) is read.
    xs = LazyDataset(X, pairs=False)
    Xs, ys = adapt_fit_input(xs, y, placement="stream")
    assert isinstance(Xs, DatasetInput) and xs.reads == 256 and ys is y
    # "auto" decides on the first batch; under the budget it reads on, once.
    small = LazyDataset(X, y)
    Xa, ya = adapt_fit_input(small, placement="auto", budget=10**9)
    np.testing.assert_array_equal(ya, y)
    assert isinstance(Xa, np.ndarray) and small.reads == len(X)
    np.testing.assert_array_equal(Xa, X)


def test_a_streamed_fit_reads_each_item_once_per_epoch(table):
    X, y = table
    ds = LazyDataset(X, pairs=False)
    est = placed(MLPClassifier, "stream", hidden_layer_sizes=(8,), max_iter=3)
    fit(est, ds, y)
    assert est.n_iter_ == 3
    # One batch up front (y is given), 3 epochs, the final finite check.
    assert 4 * len(X) <= ds.reads <= 5 * len(X)


# ---------------------------------------------------------------- same weights
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(shuffle=False),
        dict(early_stopping=True, n_iter_no_change=2),
        dict(batch_size=40),
    ],
    ids=["shuffle", "no-shuffle", "early-stopping", "merge-last"],
)
def test_mlp_classifier_stream_equals_arrays(table, options):
    X, y = table
    kw = dict(hidden_layer_sizes=(16,), max_iter=5, **options)
    arrays = fit(placed(MLPClassifier, "device", **kw), X, y)
    stream = fit(placed(MLPClassifier, "stream", **kw), LazyDataset(X, y))
    assert_same_model(arrays, stream, X)
    if options.get("early_stopping"):
        assert arrays.validation_scores_ == stream.validation_scores_


def test_mlp_regressor_sample_weight_and_y_given(table):
    X, _ = table
    y = X[:, 0] * 2.0 - X[:, 3]
    w = np.random.RandomState(1).uniform(0.2, 2.0, len(X))
    kw = dict(hidden_layer_sizes=(8,), max_iter=4, batch_size=32, early_stopping=True)
    arrays = fit(placed(MLPRegressor, "device", **kw), X, y, sample_weight=w)
    ds = LazyDataset(X, pairs=False)
    stream = fit(placed(MLPRegressor, "stream", **kw), ds, y, sample_weight=w)
    assert_same_model(arrays, stream, X)


def test_cnn_classifier_stream_equals_arrays(digits):
    X, y = digits
    X, y = X[:150].reshape(-1, 1, 8, 8).astype(np.float32), y[:150]
    kw = dict(channels=(4,), hidden_layer_sizes=(), max_iter=3, batch_size=32)
    arrays = fit(placed(CNNClassifier, "device", **kw), X, y)
    stream = fit(placed(CNNClassifier, "stream", **kw), LazyDataset(X, y))
    assert_same_model(arrays, stream, X)


def test_cnn_augment_streams_as_arrays(digits):
    X, y = digits
    X, y = X[:96].reshape(-1, 1, 8, 8).astype(np.float32), y[:96]
    kw = dict(channels=(4,), hidden_layer_sizes=(), max_iter=2, augment=RandomFlip())
    arrays = fit(placed(CNNClassifier, "device", **kw), X, y)
    stream = fit(placed(CNNClassifier, "stream", **kw), LazyDataset(X, y))
    assert_same_model(arrays, stream, X)


def test_partial_fit_stream_equals_arrays(table):
    X, y = table
    kw = dict(hidden_layer_sizes=(8,), batch_size=50)
    a, b = placed(MLPClassifier, "device", **kw), placed(MLPClassifier, "stream", **kw)
    ds = LazyDataset(X, y)
    for _ in range(3):
        a.partial_fit(X, y, classes=np.unique(y))
        b.partial_fit(ds, None, classes=np.unique(y))
    assert_same_model(a, b, X)


class TwoLayer(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(n_features_in, 8), torch.nn.ReLU()
        )
        self.output = torch.nn.Linear(8, n_outputs)

    def forward(self, x):
        return self.output(self.body(x))


def test_num_workers_give_the_same_weights(table):
    X, y = table
    kw = dict(max_iter=2, batch_size=64, early_stopping=True)
    arrays = fit(placed(NeuralNetClassifier, "device", module=TwoLayer, **kw), X, y)
    options = {"num_workers": 2, "batch_size": 100}  # batch_size: the targets pass
    workers = placed(
        NeuralNetClassifier, "stream", module=TwoLayer, loader_kwargs=options, **kw
    )
    assert_same_model(arrays, fit(workers, LazyDataset(X, y)), X)


class TwoInputs(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.a, self.b = torch.nn.Linear(3, 4), torch.nn.Linear(2, 4)
        self.output = torch.nn.Linear(4, n_outputs)

    def forward(self, a, b):
        return self.output(torch.relu(self.a(a) + self.b(b)))


class DictItems(Dataset):
    def __init__(self, A, B, y) -> None:
        self.A, self.B, self.y = A, B, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = {"a": torch.from_numpy(self.A[i]), "b": torch.from_numpy(self.B[i])}
        return x, float(self.y[i])


def test_several_inputs_stream_as_a_dict_of_arrays():
    rng = np.random.RandomState(0)
    A, B = rng.randn(100, 3).astype(np.float32), rng.randn(100, 2).astype(np.float32)
    y = A[:, 0] + B[:, 1]
    kw = dict(module=TwoInputs, max_iter=3, early_stopping=True)
    arrays = fit(placed(NeuralNetRegressor, "device", **kw), {"a": A, "b": B}, y)
    stream = fit(placed(NeuralNetRegressor, "stream", **kw), DictItems(A, B, y))
    assert_same_model(arrays, stream, {"a": A, "b": B})


# ---------------------------------------------------------------- the choice
def test_auto_streams_only_over_the_budget(table):
    X, y = table
    size = X.size * 4  # float32 inputs
    small, big = LazyDataset(X, y), LazyDataset(X, y)
    Xs, _ = adapt_fit_input(small, placement="auto", budget=size - 1)
    assert isinstance(Xs, DatasetInput)
    Xb, _ = adapt_fit_input(big, placement="auto", budget=size)
    assert isinstance(Xb, np.ndarray) and Xb.shape == X.shape  # read, as before
    # float64 inputs on the CPU train in float64 (dtype="auto"): twice the bytes.
    X64 = LazyDataset(X.astype(np.float64), y)
    est = MLPClassifier()
    Xd, _ = adapt_fit_input(
        X64, placement="auto", budget=size + 1, fit_dtype=est._fit_dtype
    )
    assert isinstance(Xd, DatasetInput)
    kw = dict(hidden_layer_sizes=(8,), max_iter=2)
    arrays = fit(placed(MLPClassifier, "device", **kw), X, y)
    auto = fit(placed(MLPClassifier, "auto", memory_budget=1000, **kw), small)
    assert small.reads > 2 * len(X)  # the targets pass and the epochs
    assert_same_model(arrays, auto, X)


def test_device_placement_reads_as_before(table):
    X, y = table
    ds = LazyDataset(X, y)
    Xd, _ = adapt_fit_input(ds, placement="device", budget=1)
    assert isinstance(Xd, np.ndarray) and ds.reads == len(X)


def test_cross_val_score_with_slice_datasets_streams(table):
    X, y = table
    ds = LazyDataset(X, y)
    kw = dict(hidden_layer_sizes=(8,), max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = cross_val_score(placed(MLPClassifier, "device", **kw), X, y, cv=3)
        est = placed(MLPClassifier, "stream", **kw)
        Xs, ys = SliceDataset(ds), SliceDataset(ds, idx=1)
        scores = cross_val_score(est, Xs, ys, cv=3)
    np.testing.assert_array_equal(scores, ref)
    rows = np.arange(10, 200)
    Xa, ya = adapt_fit_input(Xs[rows], ys[rows], placement="stream")
    assert isinstance(Xa, DatasetInput) and Xa.dataset is ds
    np.testing.assert_array_equal(Xa.rows, rows)
    np.testing.assert_array_equal(ya, y[rows])


# ---------------------------------------------------------------- the source
def test_dataset_data_batches_and_subsets_equal_tensor_data(table):
    X, y = table
    ds = LazyDataset(X, y)
    data = DatasetData(ds, lambda b: (b[0],), y, None, CPU, y_dtype=torch.long)
    mem = TensorData(X, y, None, CPU, y_dtype=torch.long)
    for source, ref in [
        (data, mem),
        (data.subset(np.arange(5, 90)), mem.subset(np.arange(5, 90))),
    ]:
        for a, b in zip(
            source.batches(32, torch.Generator().manual_seed(3), merge_last=True),
            ref.batches(32, torch.Generator().manual_seed(3), merge_last=True),
        ):
            assert torch.equal(a[0][0], b[0][0]) and torch.equal(a[1], b[1])
    reads = ds.reads
    sub = data.subset(np.array([7, 3]))
    assert ds.reads == reads  # lazy
    data.budget = sub.budget = 10_000
    assert isinstance(sub.resident(), TensorData) and sub.resident() is not sub
    assert torch.equal(sub.resident().inputs[0], torch.from_numpy(X[[7, 3]]))
    assert data.resident() is data  # over the budget
    shard_d = [b[0][0] for b in ShardedData(data, 1, 2).batches(10)]
    shard_m = [b[0][0] for b in ShardedData(mem, 1, 2).batches(10)]
    assert all(torch.equal(p, q) for p, q in zip(shard_d, shard_m))
    aug = AugmentedData(data, lambda x, g: x + 1, torch.Generator())
    assert torch.equal(next(aug.batches(4))[0][0], torch.from_numpy(X[:4]) + 1)


def test_stacked_search_fits_streamed_datasets_alone(table):
    X, y = table
    ds = LazyDataset(X, y)
    kw = dict(hidden_layer_sizes=(8,), max_iter=3, data_placement="stream")
    run = MLPClassifier(**kw)._setup_fit(ds, None)
    assert isinstance(run.train, DatasetData)
    assert "streamed" in stack_reason(run.trainer, run.train)
    nets = [MLPClassifier(random_state=s, **kw) for s in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stacked = fit_stacked(nets, ds)
    alone = [fit(MLPClassifier(random_state=s, **kw), X, y) for s in (0, 1)]
    for a, b in zip(stacked, alone):
        assert_same_model(a, b, X)


# ---------------------------------------------------------------- errors
class Triples(Dataset):
    def __len__(self):
        return 20

    def __getitem__(self, i):
        return torch.zeros(3), 0, 1


class Ragged(Dataset):
    """Items whose inputs change width after the first ones."""

    def __init__(self, pairs: bool = True) -> None:
        self.pairs = pairs

    def __len__(self):
        return 600

    def __getitem__(self, i):
        x = torch.zeros(3 if i < 300 else 4)
        return (x, i % 2) if self.pairs else x


def test_wrong_structure_is_a_clear_value_error(table):
    X, y = table
    est = MLPClassifier(max_iter=1, data_placement="stream")
    with pytest.raises(ValueError, match=r"each item must be an \(x, y\) pair"):
        est.fit(Triples())
    with pytest.raises(ValueError, match=r"each item must be an \(x, y\) pair"):
        est.fit(LazyDataset(X, pairs=False))
    with pytest.raises(ValueError, match="Could not read the Ragged in batches"):
        est.fit(Ragged())  # the targets pass's second batch has two widths
    with pytest.raises(ValueError, match="Could not read the Ragged in batches"):
        # y given: no targets pass; a shuffled training batch has two widths.
        est.fit(Ragged(pairs=False), np.arange(600) % 2)
    with pytest.raises(ValueError, match="expecting 3 features"):
        # One row per batch: each collates, and the first row of width 4 fails the
        # estimator's validation, as it would in an array.
        MLPClassifier(max_iter=1, data_placement="stream", batch_size=1).fit(
            Ragged(pairs=False), np.arange(600) % 2
        )
    bad = X.copy()
    bad[200, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(LazyDataset(bad, y))


# ---------------------------------------------------------------- memory
MEMORY_SCRIPT = PEAK_MEMORY + textwrap.dedent(
    """
    import sys, threading, time, warnings
    import numpy as np, torch
    from torch.utils.data import Dataset
    from sknn import MLPClassifier

    n, d, budget = map(int, sys.argv[1:])
    warnings.simplefilter("ignore")
    base = np.random.RandomState(0).randn(64, d).astype(np.float32)

    class Lazy(Dataset):  # items made on demand, as from image files
        def __len__(self):
            return n
        def __getitem__(self, i):
            return torch.from_numpy(base[i % 64] + np.float32(i % 7)), i % 2

    kw = dict(hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    MLPClassifier(**kw).fit(base, np.arange(64) % 2)  # one-time setup first
    streamed = peak_increase(lambda: MLPClassifier(
        **kw, data_placement="auto", memory_budget=budget).fit(Lazy()))
    device = peak_increase(lambda: MLPClassifier(
        **kw, data_placement="device").fit(Lazy()))
    # predict: a Dataset is read one batch at a time, unless "device" reads it whole
    clf = MLPClassifier(**kw).fit(base, np.arange(64) % 2)
    clf.predict(base)
    pred_streamed = peak_increase(lambda: clf.predict_proba(Lazy()))
    clf.set_params(data_placement="device")
    pred_device = peak_increase(lambda: clf.predict_proba(Lazy()))
    print(streamed, device, pred_streamed, pred_device)
    """
)


@pytest.mark.skipif(
    not has_rss_anon(), reason="needs /proc/self/status with RssAnon (Linux)"
)
def test_streamed_dataset_fit_memory_stays_well_below_its_size():
    """Peak anonymous memory of a streamed fit on a 48 MB lazy Dataset, budget 4 MB,
    and of ``predict_proba`` on it (one loader batch at a time).

    The in-memory path, measured the same way, must exceed the Dataset's size (so
    the measurement is shown able to fail).
    """
    n, d = 30_000, 400  # 48 MB of float32 inputs
    size = n * d * 4
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(n), str(d), "4000000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    streamed, device, pred_streamed, pred_device = map(int, out.stdout.split()[-4:])
    print(
        f"dataset {size / 1e6:.0f} MB: fit streamed +{streamed / 1e6:.1f} MB "
        f"anonymous, read into memory +{device / 1e6:.1f} MB; predict_proba by "
        f"batches +{pred_streamed / 1e6:.1f} MB, read whole +{pred_device / 1e6:.1f} MB"
    )
    assert streamed < 0.25 * size
    assert device > size
    assert pred_streamed < 0.25 * size
    assert pred_device > size


# ---------------------------------------------------------------- CUDA
@pytest.mark.cuda
def test_stream_dataset_onto_cuda_equals_arrays(table):
    X, y = table
    cuda = torch.device("cuda")
    data = DatasetData(LazyDataset(X, y), lambda b: (b[0].numpy(),), y, None, cuda)
    xb = next(data.batches(16))[0][0]
    assert xb.is_cuda
    torch.backends.cudnn.deterministic = True
    kw = dict(max_iter=4, device="cuda", early_stopping=True)
    arrays = fit(placed(MLPClassifier, "device", **kw), X, y)
    stream = fit(placed(MLPClassifier, "stream", **kw), LazyDataset(X, y))
    for p, q in zip(arrays.module_.parameters(), stream.module_.parameters()):
        torch.testing.assert_close(p, q)
    np.testing.assert_array_equal(arrays.predict(X), stream.predict(X))
    # The loader's pinned memory and workers, onto the GPU.
    net = dict(module=TwoLayer, **kw)
    arrays = fit(placed(NeuralNetClassifier, "device", **net), X, y)
    options = {"pin_memory": True, "num_workers": 2}
    stream = fit(
        placed(NeuralNetClassifier, "stream", loader_kwargs=options, **net),
        LazyDataset(X, y),
    )
    for p, q in zip(arrays.module_.parameters(), stream.module_.parameters()):
        torch.testing.assert_close(p, q)


def test_predict_reads_a_dataset_one_batch_at_a_time(table, monkeypatch):
    import sknn.base as base

    X, y = table
    clf = fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0), X, y)
    expected = clf.predict_proba(X)
    sizes = []
    chunks = base.predict_chunks

    def spy(*args, **kwargs):
        for part in chunks(*args, rows=16, **{k: v for k, v in kwargs.items()
                                              if k != "rows"}):  # fmt: skip
            sizes.append(len(part))
            yield part

    monkeypatch.setattr(base, "predict_chunks", spy)
    np.testing.assert_allclose(clf.predict_proba(LazyDataset(X, y)), expected)
    assert sizes == [16] * (len(X) // 16) + ([len(X) % 16] if len(X) % 16 else [])
    ds = LazyDataset(X, pairs=False)
    np.testing.assert_array_equal(clf.predict(ds), clf.predict(X))
    assert clf.score(LazyDataset(X, y), y) == clf.score(X, y)
    sizes.clear()
    clf.set_params(data_placement="device")  # read whole first, as before
    np.testing.assert_allclose(clf.predict_proba(LazyDataset(X, y)), expected)
    assert sizes == []
    with pytest.raises(ValueError, match="0 sample"):
        clf.set_params(data_placement="auto").predict(LazyDataset(X[:0], y[:0]))
