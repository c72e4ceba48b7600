"""Every estimator's signature, defaults and docstring agree (in the spirit of
scikit-learn's test_docstring_parameters.py and LightGBM's
test_estimators_all_have_the_same_kwargs_and_defaults)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
from _estimators import ESTIMATORS

import sknn
from sknn.base import SHARED_PARAMS, BaseNeuralNet

#: The parameters the base stores, from its own signature.
SHARED = [
    name
    for name, p in inspect.signature(BaseNeuralNet.__init__).parameters.items()
    if p.kind is p.KEYWORD_ONLY
]
#: Shared parameters whose defaults are an estimator's own (the MLPs' are
#: scikit-learn's), and why: convolutional and recurrent nets need fewer epochs,
#: recurrent ones a larger step on smaller batches; all but the MLPs train in float32.
OWN_DEFAULTS = {
    "CNNClassifier": {"max_iter": 30, "dtype": "float32"},
    "CNNRegressor": {"max_iter": 30, "dtype": "float32"},
    "RNNClassifier": {
        "max_iter": 100,
        "learning_rate_init": 0.005,
        "batch_size": 32,
        "dtype": "float32",
    },
    "RNNRegressor": {
        "max_iter": 100,
        "learning_rate_init": 0.005,
        "batch_size": 32,
        "dtype": "float32",
    },
    "NeuralNetClassifier": {"dtype": "float32"},
    "NeuralNetRegressor": {"dtype": "float32"},
}
#: Shared parameters documented in two styles (scikit-learn's rules for the MLPs,
#: torch's for the others), or with an estimator's own default.
STYLED = {"learning_rate", "momentum"}.union(*OWN_DEFAULTS.values())


def _signature(cls) -> dict:
    return {
        name: p
        for name, p in inspect.signature(cls).parameters.items()
        if p.kind is not p.VAR_KEYWORD
    }


def _documented(cls) -> dict[str, tuple[str, str]]:
    """``{name: (type line, description)}`` of the ``Parameters`` section."""
    from numpydoc.docscrape import ClassDoc

    out = {}
    for p in ClassDoc(cls)["Parameters"]:
        for name in p.name.split(","):
            out[name.strip()] = (p.type, "\n".join(p.desc))
    return out


def _doc_defaults(type_line: str, names: list[str]) -> dict:
    """The defaults a type line states (``default=a, b, c`` for combined names)."""
    text = type_line.split("default=", 1)[1]
    values = [text] if len(names) == 1 else [v.strip() for v in text.split(",")]
    return {
        n: ast.literal_eval(v.replace("np.inf", "1e999")) for n, v in zip(names, values)
    }


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_has_the_shared_parameters_and_defaults(cls):
    assert tuple(SHARED) == SHARED_PARAMS  # the base's signature lists them all
    reference = _signature(sknn.MLPClassifier)
    params = _signature(cls)
    own = OWN_DEFAULTS.get(cls.__name__, {})
    assert set(SHARED) <= set(params)
    for name in SHARED:
        expected = own.get(name, reference[name].default)
        assert params[name].default == expected, (cls.__name__, name)
        assert params[name].kind is params[name].KEYWORD_ONLY
    assert set(own) <= set(SHARED)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_docstring_documents_every_parameter_with_its_default(cls):
    pytest.importorskip("numpydoc", reason="needs numpydoc (the docs extra)")
    params = _signature(cls)
    documented = _documented(cls)
    assert set(documented) == set(params) | {"**kwargs"}
    groups: dict[str, list[str]] = {}
    for name, (type_line, _) in documented.items():
        groups.setdefault(type_line, []).append(name)
    for type_line, names in groups.items():
        if "default=" not in type_line:
            assert names == ["**kwargs"]
            continue
        for name, value in _doc_defaults(type_line, names).items():
            default = params[name].default
            if isinstance(default, float) or isinstance(value, float):
                assert np.isclose(value, default), (cls.__name__, name)
            else:
                assert value == default, (cls.__name__, name, value, default)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_numpydoc_validation_passes(cls):
    validate = pytest.importorskip(
        "numpydoc.validate", reason="needs numpydoc (the docs extra)"
    ).validate
    errors = validate(f"sknn.{cls.__name__}")["errors"]
    assert errors == [], errors


def test_shared_parameters_are_documented_from_one_source():
    """A shared parameter reads the same in every estimator (two styles at most)."""
    pytest.importorskip("numpydoc", reason="needs numpydoc (the docs extra)")
    docs = {cls: _documented(cls) for cls in ESTIMATORS}
    for name in SHARED:
        texts = {docs[cls][name] for cls in ESTIMATORS}
        assert len(texts) <= (3 if name in STYLED else 1), (name, texts)


def test_mlp_defaults_are_scikit_learns():
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    for ours, theirs in [
        (sknn.MLPClassifier, MLPClassifier),
        (sknn.MLPRegressor, MLPRegressor),
    ]:
        mine, sk = ours().get_params(), theirs().get_params()
        for name in set(mine) & set(sk):
            assert mine[name] == sk[name], name


def _assignments(path: Path, cls_names) -> dict[str, set[str]]:
    """``self.<name> = ...`` targets in each class's ``__init__``."""
    tree = ast.parse(path.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in cls_names:
            init = next(
                f
                for f in node.body
                if isinstance(f, ast.FunctionDef) and f.name == "__init__"
            )
            out[node.name] = {
                t.attr
                for st in ast.walk(init)
                if isinstance(st, ast.Assign)
                for t in st.targets
                if isinstance(t, ast.Attribute)
            }
    return out


def test_shared_parameters_are_assigned_once_in_the_base():
    root = Path(sknn.__file__).parent
    base = _assignments(root / "base.py", {"BaseNeuralNet"})["BaseNeuralNet"]
    assert set(SHARED) <= base
    names = {c.__name__ for c in ESTIMATORS}
    for module in ("mlp", "cnn", "rnn", "neuralnet"):
        for cls, assigned in _assignments(
            root / "estimators" / f"{module}.py", names
        ).items():
            assert not (assigned & set(SHARED)), (cls, assigned & set(SHARED))
            own = set(_signature(getattr(sknn, cls))) - set(SHARED)
            assert assigned == own, cls


def test_the_base_reads_its_own_parameters_directly():
    """No ``getattr(self, "<parameter>", default)``: every estimator has them all."""
    root = Path(sknn.__file__).parent
    params = set().union(*(_signature(cls) for cls in ESTIMATORS))
    for path in [root / "base.py", *sorted((root / "plan").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("getattr", "hasattr")
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in ("self", "est", "estimator")
                and isinstance(node.args[1], ast.Constant)
            ):
                assert node.args[1].value not in params, (path.name, node.args[1].value)
