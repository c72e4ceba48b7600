"""NeuralNetClassifier / NeuralNetRegressor around users' modules; skorch interop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _weighting import assert_class_weight_applies
from torch import nn

import sknn
from sknn import NeuralNetClassifier, NeuralNetRegressor
from sknn.modules import MLP

FAST = dict(max_iter=40, learning_rate_init=0.01, random_state=0, device="cpu")


class Net(nn.Module):
    """Declares two fit-time facts; takes one extra keyword."""

    def __init__(self, n_features_in, n_outputs, width=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features_in, width), nn.ReLU())
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x):
        return self.head(self.body(x))


class ShapeNet(nn.Module):
    """Declares input_shape only (and a fixed head of 3 units)."""

    def __init__(self, input_shape):
        super().__init__()
        self.seen = input_shape
        self.fc = nn.Linear(input_shape[0], 3)

    def forward(self, x):
        return self.fc(x)


def test_module_receives_declared_facts(iris):
    X, y = iris
    clf = NeuralNetClassifier(Net, module_kwargs={"width": 8}, **FAST).fit(X, y)
    assert clf.module_.body[0].in_features == 4
    assert clf.module_.head.out_features == 3
    assert clf.module_.body[0].out_features == 8
    assert clf.score(X, y) > 0.9
    shape = NeuralNetClassifier(ShapeNet, **FAST).fit(X, y)
    assert shape.module_.seen == (4,)


def test_factory_and_default_module(diabetes):
    X, y = diabetes

    def make(n_features_in, n_outputs):
        return nn.Sequential(
            nn.Linear(n_features_in, 8), nn.Tanh(), nn.Linear(8, n_outputs)
        )

    reg = NeuralNetRegressor(make, **FAST).fit(X, np.c_[y, y / 2])
    assert reg.predict(X).shape == (len(X), 2)
    default = NeuralNetRegressor(**FAST).fit(X, y)
    assert isinstance(default.module_, MLP)


def test_engine_features_apply(iris):
    X, y = iris
    clf = NeuralNetClassifier(
        Net, early_stopping=True, class_weight="balanced", **FAST
    ).fit(X, y)
    assert "valid_score" in clf.history_.keys()
    assert clf.validation_scores_ is not None


def test_pretrained_instance_is_copied_and_fine_tuned(iris, tmp_path):
    X, y = iris
    pretrained = Net(4, 3)
    # "Weights loaded from a local file": a state dict saved and read back safely.
    torch.save(pretrained.state_dict(), tmp_path / "w.pt")
    pretrained.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    before = pretrained.body[0].weight.clone()
    clf = NeuralNetClassifier(pretrained, **FAST).fit(X, y)
    assert clf.module_ is not pretrained
    assert torch.equal(pretrained.body[0].weight, before)  # the parameter is untouched
    body = clf.module_.body[0].weight.clone()
    clf.fine_tune(X[y > 0], np.where(y[y > 0] == 1, "b", "c"), max_iter=5)
    assert clf.classes_.tolist() == ["b", "c"]
    assert clf.module_.head.out_features == 1  # binary: one logit
    assert torch.equal(clf.module_.body[0].weight, body)


def test_save_load_requires_the_module(iris, tmp_path):
    X, y = iris
    clf = NeuralNetClassifier(Net, **FAST).fit(X, y)
    path = tmp_path / "net.sknn"
    sknn.save(clf, path)
    with pytest.raises(ValueError, match="module="):
        sknn.load(path)
    loaded = sknn.load(path, module=Net)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_fine_tuned_fixed_head_module_round_trips(iris, tmp_path):
    X, y = iris
    clf = NeuralNetClassifier(ShapeNet, **FAST).fit(X, y)
    clf.fine_tune(X, y + 10 * (y == 2), max_iter=2, head="new")
    clf.fine_tune(X[y < 2], y[y < 2] + 5, max_iter=2)  # 2 classes: a 1-unit head
    sknn.save(clf, tmp_path / "s.sknn")
    loaded = sknn.load(tmp_path / "s.sknn", module=ShapeNet)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_bad_modules_give_clear_errors(iris):
    X, y = iris

    class NeedsWidth(nn.Module):
        def __init__(self, n_features_in, width):
            super().__init__()
            self.fc = nn.Linear(n_features_in, width)

    with pytest.raises(ValueError, match="Could not build the module NeedsWidth"):
        NeuralNetClassifier(NeedsWidth, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="returned int"):
        NeuralNetClassifier(lambda n_features_in: 3, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="module"):
        NeuralNetClassifier(module="mlp", **FAST).fit(X, y)


@pytest.mark.parametrize("family", ["MLP", "CNN", "RNN"])
def test_sknn_modules_inside_skorch(iris, family):
    """sknn's MLP, CNN and RNN modules train as the module of a skorch net."""
    skorch = pytest.importorskip("skorch", reason="skorch is an optional extra")
    from sknn.modules import CNN, RNN

    X, y = iris
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    module, kwargs = {
        "MLP": (MLP, dict(n_features_in=4, hidden_layer_sizes=(16,))),
        # the 4 features as a one-channel signal, and as a 4-step sequence
        "CNN": (CNN, dict(input_shape=(1, 4), channels=(8,), hidden_layer_sizes=(16,))),
        "RNN": (RNN, dict(n_features_in=1, hidden_size=16)),
    }[family]
    X = {"MLP": X, "CNN": X[:, None, :], "RNN": X[:, :, None]}[family]
    net = skorch.NeuralNetClassifier(
        module,
        **{f"module__{k}": v for k, v in kwargs.items()},
        module__n_outputs=3,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=30,
        train_split=None,
        verbose=0,
    )
    net.fit(X, y.astype(np.int64))
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert (net.predict(X) == y).mean() > 0.6  # chance is 1/3


def test_class_weight_weighs_the_loss(iris):
    X, y = iris
    X, y = X[40:], y[40:]  # 10, 50 and 50 rows
    assert_class_weight_applies(
        lambda **kw: NeuralNetClassifier(Net, **{**FAST, "max_iter": 5}, **kw), X, y
    )
