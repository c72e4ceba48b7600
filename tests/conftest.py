"""Shared fixtures: small seeded data, and the ``cuda`` marker's skip."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="needs a CUDA GPU; none is available on this machine"
    )
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def _torch_threads() -> int:
    """One thread per pytest-xdist worker: oversubscribed OpenMP threads spin and can
    make small-network training tens of times slower."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return 1
    return max(1, min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep torch to the machine's cores and the global seed fixed per test."""
    torch.set_num_threads(_torch_threads())
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y
