"""The estimator tags say when a fit may not be reproducible: on CUDA.

The docs promise that ``random_state`` makes a fit reproducible on one device, and
that on CUDA, where some kernels are non-deterministic, the tags say so. The tags are
computed from the parameters, so this holds without a GPU (``tests/test_cuda.py``
checks a real CUDA fit).
"""

from __future__ import annotations

import inspect

import pytest
import torch
from sklearn.base import BaseEstimator

import sknn
from sknn.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor

ESTIMATORS = [
    cls
    for name in sknn.__all__
    if inspect.isclass(cls := getattr(sknn, name)) and issubclass(cls, BaseEstimator)
]


def _non_deterministic(est) -> bool:
    return est.__sklearn_tags__().non_deterministic


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_a_cuda_device_is_tagged_non_deterministic(cls, device):
    assert _non_deterministic(cls(device=device))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_cpu_fits_are_tagged_deterministic(cls, monkeypatch):
    assert not _non_deterministic(cls(device="cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert not _non_deterministic(cls(device="cpu"))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_auto_is_tagged_by_the_device_it_will_pick(cls, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not _non_deterministic(cls())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _non_deterministic(cls())


@pytest.mark.parametrize(
    "ensemble, member",
    [
        (DeepEnsembleClassifier, sknn.MLPClassifier),
        (DeepEnsembleRegressor, sknn.MLPRegressor),
    ],
)
def test_ensembles_carry_their_members_tag(ensemble, member):
    assert _non_deterministic(ensemble(member(device="cuda")))
    assert not _non_deterministic(ensemble(member(device="cpu")))
