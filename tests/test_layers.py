"""The package's layers hold: import contracts, scikit-learn's private names, and the
classes a model file may name."""

from __future__ import annotations

import ast
import pathlib

import pytest

import sknn.callbacks
from sknn import _codec
from sknn.callbacks import Callback
from sknn.data.augment import Transform

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sknn"


def test_import_contracts_hold(capsys):
    """The layers, no import circle (function-local imports included), an engine
    without scikit-learn and a codec without sknn (pyproject's import-linter
    contracts)."""
    cli = pytest.importorskip(
        "importlinter.cli", reason="import-linter is a test dependency (.[tests])"
    )
    code = cli.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert code == 0, capsys.readouterr().out


def _private_sklearn_imports(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] != "sklearn":
                continue
            private_module = any(p.startswith("_") for p in parts)
            for alias in node.names:
                if private_module or alias.name.startswith("_"):
                    found.append(f"{node.module}.{alias.name} (line {node.lineno})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sklearn" and any(p.startswith("_") for p in parts):
                    found.append(f"{alias.name} (line {node.lineno})")
    return found


def test_private_sklearn_names_come_only_from_compat():
    """A scikit-learn release that moves a private name is met in one file."""
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_compat.py"
        for names in [_private_sklearn_imports(path)]
        if names
    }
    assert offenders == {}
    # The check finds what it looks for.
    assert _private_sklearn_imports(PACKAGE / "utils" / "_compat.py")


def test_every_callback_and_transform_is_declared_for_model_files():
    """Model files name sknn's callbacks and transforms by class name; the codec
    knows them only through their packages' declarations."""
    exported = {
        name: obj
        for name in sknn.callbacks.__all__
        for obj in [getattr(sknn.callbacks, name)]
        if isinstance(obj, type) and issubclass(obj, Callback)
    }
    assert _codec.declared("callback") == exported
    restorable = set(_codec.declared("callback", restorable=True))
    # Callbacks that write files are named in a file but never rebuilt from one.
    assert restorable == {
        "EarlyStopping",
        "GradientClipping",
        "LRScheduler",
        "ProgressBar",
    }
    transforms = _codec.declared("transform")
    assert transforms and all(issubclass(c, Transform) for c in transforms.values())
