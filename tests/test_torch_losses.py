"""Every torch classification loss as ``criterion``: it learns, or it is refused.

Each torch loss is fed as it expects: softmax-style losses (``CrossEntropyLoss``,
``NLLLoss``, ``MultiMarginLoss``) learn binary targets through the two logits
``[0, z]`` of the network's one logit, ``BCELoss`` gets probabilities,
``SoftMarginLoss`` -1/1 targets; a loss that cannot learn the targets is refused at
fit with a message naming what to use.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification, make_multilabel_classification

import sknn
from sknn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(
    hidden_layer_sizes=(32,), max_iter=30, batch_size=32, learning_rate_init=0.01,
    random_state=0, device="cpu",
)  # fmt: skip
nn = torch.nn


def _bce_fn(out, t):  # a loss of the user's own (a plain callable)
    return F.binary_cross_entropy_with_logits(out, t)


def _ce_fn(out, t):
    return F.cross_entropy(out, t)


@pytest.fixture(scope="module")
def tasks():
    Xb, yb = make_classification(300, 10, random_state=0)
    Xm, ym = make_classification(300, 10, n_informative=6, n_classes=3, random_state=0)
    Xl, yl = make_multilabel_classification(300, 10, n_classes=3, random_state=0)
    return {"binary": (Xb, yb), "multiclass": (Xm, ym), "multilabel": (Xl, yl)}


@pytest.fixture(scope="module")
def default_accuracy(tasks):
    """The default loss's training accuracy on each task."""
    return {
        t: _accuracy(MLPClassifier(**FAST).fit(X, y), X, y)
        for t, (X, y) in tasks.items()
    }


def _accuracy(est, X, y):
    """Share of correct labels (per label for multilabel targets)."""
    return float((est.predict(X) == y).mean())


LEARNS = {
    nn.CrossEntropyLoss: ("binary", "multiclass"),
    nn.NLLLoss: ("binary", "multiclass"),
    nn.MultiMarginLoss: ("binary", "multiclass"),
    F.cross_entropy: ("binary", "multiclass"),
    nn.BCEWithLogitsLoss: ("binary", "multilabel"),
    nn.BCELoss: ("binary", "multilabel"),
    nn.MultiLabelSoftMarginLoss: ("binary", "multilabel"),
    nn.SoftMarginLoss: ("binary", "multilabel"),
    _bce_fn: ("binary", "multilabel"),
    _ce_fn: ("multiclass",),
}
REFUSED = {
    nn.CrossEntropyLoss: {"multilabel": "BCEWithLogitsLoss"},
    nn.NLLLoss: {"multilabel": "BCEWithLogitsLoss"},
    nn.MultiMarginLoss: {"multilabel": "BCEWithLogitsLoss"},
    nn.BCEWithLogitsLoss: {"multiclass": "CrossEntropyLoss"},
    nn.BCELoss: {"multiclass": "CrossEntropyLoss"},
    nn.MultiLabelSoftMarginLoss: {"multiclass": "CrossEntropyLoss"},
    nn.SoftMarginLoss: {"multiclass": "CrossEntropyLoss"},
    nn.MSELoss: {"binary": "CrossEntropyLoss", "multilabel": "BCEWithLogitsLoss"},
    nn.KLDivLoss: {"multiclass": "CrossEntropyLoss"},
    nn.HingeEmbeddingLoss: {"binary": "CrossEntropyLoss"},
    nn.MultiLabelMarginLoss: {"multilabel": "BCEWithLogitsLoss"},
    nn.CosineEmbeddingLoss: {"binary": "CrossEntropyLoss"},
    nn.CTCLoss: {"multiclass": "CrossEntropyLoss"},
}


@pytest.mark.parametrize(
    "criterion, target",
    [(c, t) for c, targets in LEARNS.items() for t in targets],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_torch_losses_learn_every_target_they_apply_to(
    tasks, default_accuracy, criterion, target
):
    X, y = tasks[target]
    own = MLPClassifier(**FAST, criterion=criterion).fit(X, y)
    # Always predicting the most frequent class (of each label, for multilabel).
    freq = np.bincount(y) / len(y) if y.ndim == 1 else y.mean(0)
    majority = np.maximum(freq, 1 - freq).mean() if y.ndim > 1 else freq.max()
    accuracy = _accuracy(own, X, y)
    assert accuracy > max(majority + 0.15, default_accuracy[target] - 0.05)
    if target != "multilabel":  # predict_proba agrees with predict
        proba = own.predict_proba(X)
        np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
        assert (own.classes_[proba.argmax(1)] == own.predict(X)).all()


@pytest.mark.parametrize(
    "criterion, target, instead",
    [(c, t, i) for c, refused in REFUSED.items() for t, i in refused.items()],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_torch_losses_that_cannot_learn_the_target_are_refused(
    tasks, criterion, target, instead
):
    X, y = tasks[target]
    with pytest.raises(ValueError, match=f"criterion={criterion.__name__}.*{instead}"):
        MLPClassifier(**FAST, criterion=criterion).fit(X, y)


@pytest.mark.parametrize("criterion", [nn.CrossEntropyLoss, nn.NLLLoss])
def test_softmax_losses_on_two_classes_are_the_logistic_loss(tasks, criterion):
    # softmax([0, z]) is sigmoid(z): the same training, weight for weight, as the
    # default binary log-loss, with sample weights too.
    X, y = tasks["binary"]
    w = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    default = MLPClassifier(**FAST).fit(X, y, sample_weight=w)
    own = MLPClassifier(**FAST, criterion=criterion).fit(X, y, sample_weight=w)
    for a, b in zip(default.coefs_, own.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_binary_softmax_loss_saves_and_keeps_its_class_weights(tasks, tmp_path):
    X, y = tasks["binary"]
    favour = MLPClassifier(
        **FAST, criterion=nn.CrossEntropyLoss, criterion__weight=torch.tensor([9, 1.0])
    ).fit(X, y)
    plain = MLPClassifier(**FAST, criterion=nn.CrossEntropyLoss).fit(X, y)
    assert (favour.predict(X) == 0).sum() > (plain.predict(X) == 0).sum()
    sknn.save(plain, tmp_path / "ce.sknn")
    back = sknn.load(tmp_path / "ce.sknn")
    np.testing.assert_allclose(back.predict_proba(X), plain.predict_proba(X))


def test_regressors_refuse_classification_losses(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="MSELoss, L1Loss or HuberLoss"):
        MLPRegressor(**FAST, criterion=nn.CrossEntropyLoss).fit(X, y)


def test_a_failing_loss_of_ones_own_says_what_it_receives(tasks):
    X, y = tasks["multiclass"]
    with pytest.raises(ValueError, match=r"_bce_fn failed.*class indices \(long\)"):
        MLPClassifier(**FAST, criterion=_bce_fn).fit(X, y)
