"""Shared pieces of the tests of streamed training data (memmaps, Datasets)."""

from __future__ import annotations

import numpy as np
import torch


def assert_same_model(a, b, X) -> None:
    """Two fitted estimators hold the same network (every tensor of the state,
    buffers included, equal), predictions and loss curve."""
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.loss_curve_ == b.loss_curve_


def streaming_table() -> tuple[np.ndarray, np.ndarray]:
    """241 float32 rows of 12 features (a one-row last batch at batch size 16 or
    40) and 3 classes."""
    rng = np.random.RandomState(0)
    X = rng.randn(241, 12).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def placed(est_cls, placement: str, **kw):
    """``est_cls`` seeded, with ``data_placement=placement``."""
    return est_cls(random_state=0, data_placement=placement, **kw)
