"""Which torch kernel each solver's optimiser step runs on a CPU.

The README lists the solvers beyond scikit-learn's and says which run torch's fused
kernels: adam, adamw, sgd and adagrad (torch fuses these four on CPUs); nadam, radam
and rmsprop run the ``foreach`` kernels, which batch the per-parameter updates.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sknn import MLPClassifier

FUSED = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "adagrad": "Adagrad"}
FOREACH = {"nadam": "NAdam", "radam": "RAdam", "rmsprop": "RMSprop"}


def _fitted_optimizer(solver: str) -> torch.optim.Optimizer:
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), np.arange(40) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(
            (4,), solver=solver, max_iter=1, device="cpu", random_state=0
        )
        return clf.fit(X, y).optimizer_


@pytest.mark.parametrize("solver", FUSED)
def test_solvers_with_a_fused_cpu_kernel_use_it(solver):
    opt = _fitted_optimizer(solver)
    assert type(opt).__name__ == FUSED[solver]
    assert opt.defaults["fused"] is True


@pytest.mark.parametrize("solver", FOREACH)
def test_the_other_solvers_use_foreach_kernels(solver):
    opt = _fitted_optimizer(solver)
    assert type(opt).__name__ == FOREACH[solver]
    assert opt.defaults["foreach"] is True
    assert not opt.defaults.get("fused")


@pytest.mark.parametrize("name", FOREACH.values())
def test_torch_offers_no_fused_kernel_for_the_other_solvers(name):
    # If a later torch fuses one of these, the README (and the kernel choice in
    # sknn.utils._compat) should say and use so.
    assert "fused" not in inspect.signature(getattr(torch.optim, name)).parameters
