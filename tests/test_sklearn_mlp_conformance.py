"""scikit-learn's own MLP tests, run against sknn's MLPClassifier / MLPRegressor.

"Change the import, keep your code" is measured here from outside: at test time this
module reads the installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py``
(shipped in every scikit-learn install; nothing of it is copied into this repository),
changes its one import line to ``from sknn import MLPClassifier, MLPRegressor`` and
collects every test in it, parametrizations and fixtures included.

A test is an expected failure only where it reads scikit-learn's private internals,
which another backend cannot have; each is listed in ``PRIVATE_INTERNALS`` with the
reason. Everything else must pass (strict: an expected failure that passes is an error,
so the list cannot go stale). The module skips cleanly where scikit-learn was installed
without its tests.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest
import sklearn

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT_LINE = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

#: Tests that read scikit-learn's private solver internals, with the reason.
PRIVATE_INTERNALS = {
    "test_gradient": (
        "calls scikit-learn's private _loss_grad_lbfgs (its hand-written numpy "
        "backpropagation); sknn's gradients come from torch autograd, which has no "
        "such function"
    ),
    "test_learning_rate_warmstart": (
        "reads scikit-learn's private _optimizer.learning_rate (its numpy SGD "
        "optimiser object); sknn's rate is in optimizer_.param_groups[0]['lr'], "
        "tested in tests/test_mlp.py"
    ),
    "test_adaptive_learning_rate": (
        "reads scikit-learn's private _optimizer.learning_rate (its numpy SGD "
        "optimiser object); sknn's rate is in optimizer_.param_groups[0]['lr'], "
        "tested in tests/test_mlp.py"
    ),
}


def _load_sklearn_tests() -> types.ModuleType:
    source = SOURCE.read_text(encoding="utf-8")
    if source.count(IMPORT_LINE) != 1:
        pytest.fail(
            f"{SOURCE} no longer imports the estimators with {IMPORT_LINE!r}; "
            "update IMPORT_LINE in this module."
        )
    source = source.replace(IMPORT_LINE, "from sknn import MLPClassifier, MLPRegressor")
    module = types.ModuleType("sklearn_test_mlp_on_sknn")
    module.__file__ = str(SOURCE)
    exec(compile(source, str(SOURCE), "exec"), module.__dict__)
    return module


if not SOURCE.exists():
    pytest.skip(
        f"scikit-learn {sklearn.__version__} was installed without its tests "
        f"({SOURCE.name} not found)",
        allow_module_level=True,
    )

_sklearn_tests = _load_sklearn_tests()

for _name, _obj in vars(_sklearn_tests).items():
    if not (_name.startswith("test_") and callable(_obj)):
        continue
    if _name in PRIVATE_INTERNALS:
        _obj = pytest.mark.xfail(strict=True, reason=PRIVATE_INTERNALS[_name])(_obj)
    globals()[_name] = _obj


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of the same name (its conftest is not loaded here): the
    seed from ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` when that is one integer, else 42,
    scikit-learn's default."""
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42")
    return int(value) if value.isdigit() else 42


def test_every_sklearn_test_is_collected():
    """The loop above re-exported every test of scikit-learn's module."""
    names = [n for n in vars(_sklearn_tests) if n.startswith("test_")]
    assert names
    assert all(globals()[n] is not None for n in names)
    assert set(PRIVATE_INTERNALS) <= set(names)
    assert _sklearn_tests.MLPClassifier.__module__.startswith("sknn")
