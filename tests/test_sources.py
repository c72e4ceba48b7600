"""The batch-source protocol: batches that carry their own weighting, declared
capabilities, wrappers by composition, one placement estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from sknn import MLPClassifier
from sknn.training import TensorData
from sknn.training.augment import AugmentedData
from sknn.training.data import StreamData
from sknn.training.dataset_stream import DatasetData
from sknn.training.distributed import ShardedData
from sknn.training.host import HostData, choose_source
from sknn.training.placement import input_bytes, rows_bytes
from sknn.training.sources import Batch, Capabilities, first_inputs

CPU = torch.device("cpu")


def _rows(n=10, weights=False):
    X = np.arange(2.0 * n).reshape(n, 2)
    w = np.arange(1.0, n + 1) if weights else None
    return X, np.arange(n), w


@pytest.mark.parametrize("weights", [False, True])
def test_each_shard_batch_carries_its_own_scale_and_weight(weights):
    """A data-parallel shard's batches say how to weigh them: collected first and
    read later (nothing is left on the source for the engine to read), each has
    the scale and global weight of its own global batch."""
    X, y, w = _rows(10, weights)
    data = TensorData(X, y, w, CPU)
    shard = ShardedData(data, rank=1, world=2)
    batches = list(shard.batches(4))  # global batches of 4, 4, 2 rows
    assert all(isinstance(b, Batch) for b in batches)
    for b, (start, stop) in zip(batches, [(0, 4), (4, 8), (8, 10)]):
        rows = np.arange(start, stop)
        mine = rows[1::2]
        if weights:
            assert float(b.weight) == pytest.approx(w[rows].sum())
            expect = w[mine].sum() * 2 / w[rows].sum()
        else:
            assert b.weight == len(rows)
            expect = len(mine) * 2 / len(rows)
        assert float(b.scale) == pytest.approx(expect)
        np.testing.assert_array_equal(b.inputs[0].numpy(), X[mine].astype(np.float32))
    # A single process's batches need no weighting.
    assert all(b.scale is None and b.weight is None for b in data.batches(4))


def test_sources_declare_what_they_can_do(tmp_path):
    X, y, _ = _rows(12)
    data = TensorData(X, y, None, CPU)
    host = HostData(X, y, None, CPU)
    loader = [(torch.ones(4, 2), torch.zeros(4))]
    stream = StreamData(loader, lambda b: ((b[0],), b[1]), 4, CPU)
    assert data.capabilities == Capabilities()
    assert host.capabilities == Capabilities(streamed=True)
    assert stream.capabilities == Capabilities(rows=False, streamed=True)
    both = ShardedData(AugmentedData(host, lambda x, g: x, torch.Generator()), 0, 2)
    assert both.capabilities == Capabilities(
        streamed=True, augmented=True, sharded=True
    )
    # Wrapping declares, it does not change the wrapped source.
    assert host.capabilities == Capabilities(streamed=True)


def test_wrappers_hold_the_source_they_wrap():
    """Composition: a wrapper is no copy of the source's attributes, so the rows it
    reads are the source's, whatever is done to it later."""
    X, y, _ = _rows(8)
    data = TensorData(X, y, None, CPU)
    aug = AugmentedData(data, lambda x, g: x + 100, torch.Generator())
    shard = ShardedData(aug, rank=0, world=2)
    assert not isinstance(shard, TensorData) and not isinstance(aug, TensorData)
    assert shard.source is aug and aug.source is data
    data.inputs[0] = data.inputs[0] * 0  # the source changes: the wrappers follow
    assert shard.n_samples == 8 and shard.inputs[0] is data.inputs[0]
    assert float(next(shard.batches(8)).inputs[0].sum()) == 100.0 * 4 * 2
    sub = shard.subset(np.array([1, 2]))  # rows by index: the source's, unwrapped
    assert type(sub) is TensorData and float(sub.inputs[0].sum()) == 0.0


def test_row_sources_share_one_subset_rule(tmp_path):
    X, y, w = _rows(20, weights=True)
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    idx = np.array([7, 3, 11])
    sources = [
        TensorData(X, y, w, CPU),
        HostData(X, y, w, CPU),
        DatasetData(ds, lambda b: (b[0],), y, w, CPU),
    ]
    for source in sources:
        sub = source.subset(idx)
        assert type(sub) is type(source) and sub.n_samples == 3
        assert sub.capabilities == source.capabilities
        torch.testing.assert_close(sub.w, torch.from_numpy(w[idx]).float())
        (batch,) = list(sub.batches(3))
        np.testing.assert_array_equal(
            batch.inputs[0].numpy(), X[idx].astype(np.float32)
        )
        np.testing.assert_array_equal(first_inputs(sub, 2)[0].numpy(), X[idx[:2]])


def test_one_estimate_places_arrays_and_datasets_alike():
    """``data_placement="auto"`` streams the same rows from an array and from a
    Dataset at the same memory budget (one estimate of their bytes)."""
    rng = np.random.RandomState(0)
    X = rng.randn(300, 6).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    n_bytes = input_bytes(X, torch.float32)
    assert n_bytes == rows_bytes(300, [(6,)], 4) == 300 * 6 * 4
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    for budget, streamed in [(n_bytes, False), (n_bytes - 1, True)]:
        array_source = choose_source(X, y, None, CPU, placement="auto", budget=budget)
        est = MLPClassifier(max_iter=1, data_placement="auto", memory_budget=budget)
        dataset_source = est._setup_fit(ds, None).train
        assert array_source.capabilities.streamed is streamed
        assert dataset_source.capabilities.streamed is streamed
