"""CNNClassifier / CNNRegressor: input layouts, uint8 images, real images, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _services import service_missing
from _weighting import assert_class_weight_applies
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import CNNClassifier, CNNRegressor
from sknn.datasets import load_fashion_mnist

TINY = dict(
    channels=(8,), hidden_layer_sizes=(16,), max_iter=3, random_state=0, device="cpu"
)


@pytest.fixture(scope="module")
def digit_images(digits):
    X, y = digits
    return X.reshape(-1, 8, 8), y


def test_digits_as_images_held_out_accuracy(digit_images):
    X, y = digit_images
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    clf = CNNClassifier(max_iter=15, random_state=0, device="cpu").fit(Xtr, ytr)
    assert clf.input_shape_ == (1, 8, 8)
    assert clf.score(Xte, yte) >= 0.98


def test_layouts_give_the_same_model(digit_images):
    X, y = digit_images
    X, y = X[:300], y[:300]
    ref = CNNClassifier(**TINY).fit(X, y)
    proba = ref.predict_proba(X)
    for X_other, shape in [
        (X[:, None], None),  # (n, 1, H, W)
        (X.reshape(len(X), -1), (1, 8, 8)),  # table reshaped by input_shape
    ]:
        other = CNNClassifier(**TINY, input_shape=shape).fit(X_other, y)
        np.testing.assert_allclose(other.predict_proba(X_other), proba, atol=1e-5)
    # A model fitted on images predicts from the same pixels as a table.
    np.testing.assert_allclose(
        ref.predict_proba(X.reshape(len(X), -1)), proba, atol=1e-6
    )
    assert ref.n_features_in_ == 64


def test_uint8_images_are_scaled_by_255():
    rng = np.random.RandomState(0)
    X8 = rng.randint(0, 256, size=(60, 6, 6)).astype(np.uint8)
    y = (X8[:, :3].mean(axis=(1, 2)) > X8[:, 3:].mean(axis=(1, 2))).astype(int)
    a = CNNClassifier(**TINY).fit(X8, y)
    b = CNNClassifier(**TINY).fit(X8 / 255.0, y)
    np.testing.assert_allclose(
        a.predict_proba(X8), b.predict_proba(X8 / 255.0), atol=1e-5
    )


def test_signals_use_1d_convolutions_and_regressor_multioutput():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3, 20)).astype(np.float32)
    y = np.c_[X[:, 0].mean(axis=1), X[:, 2].mean(axis=1)]
    reg = CNNRegressor(
        channels=(8,),
        input_shape=(3, 20),
        max_iter=30,
        learning_rate_init=0.01,
        random_state=0,
        device="cpu",
    ).fit(X, y)
    assert type(reg.module_.blocks[0][0]).__name__ == "Conv1d"
    assert reg.predict(X).shape == (120, 2)
    assert reg.score(X, y) > 0.7
    # A table without input_shape is a one-channel signal.
    clf = CNNClassifier(**TINY).fit(X.reshape(120, -1), y[:, 0] > 0)
    assert clf.input_shape_ == (1, 60)


def test_in_a_pipeline_after_a_scaler(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), CNNClassifier(**TINY, input_shape=(1, 8, 8)))
    assert pipe.fit(X[:200], y[:200]).predict(X[:5]).shape == (5,)


def test_engine_features_apply(digit_images):
    X, y = digit_images
    X, y = X[:400], y[:400]
    clf = CNNClassifier(
        **{**TINY, "max_iter": 4}, early_stopping=True, class_weight="balanced"
    )
    clf.fit(X, y, sample_weight=np.ones(len(y)))
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.history_)
    part = CNNClassifier(**TINY)
    part.partial_fit(X, y, classes=np.unique(y)).partial_fit(X, y)
    assert part.n_iter_ == 2
    warm = CNNClassifier(**TINY, warm_start=True).fit(X, y)
    first = warm.module_
    warm.fit(X, y)
    # n_iter_ counts this fit's epochs (scikit-learn's rule); the history goes on.
    assert warm.module_ is first and warm.n_iter_ == 3 and len(warm.history_) == 6


def test_module_exposes_blocks_and_output(digit_images):
    X, y = digit_images
    clf = CNNClassifier(**TINY).fit(X[:100], y[:100])
    assert clf.module_.output.out_features == 10
    assert [type(b).__name__ for b in clf.module_.blocks] == [
        "Sequential",
        "GlobalPool",
        "Sequential",
    ]


@pytest.mark.parametrize(
    "X, params, match",
    [
        (np.zeros((4, 1, 2, 8, 8)), {}, "dimensions"),
        (np.zeros((4, 10)), {"input_shape": (1, 3, 3)}, "9 values per sample"),
        (np.zeros((4, 3, 8)), {"input_shape": (1, 8, 8)}, r"\(n_samples, H, W\)"),
        (np.zeros((4, 10)), {"input_shape": (2, 2, 2, 2)}, r"\(C, H, W\)"),
    ],
)
def test_bad_input_is_rejected_before_training(X, params, match):
    with pytest.raises(ValueError, match=match):
        CNNClassifier(**TINY, **params).fit(X, np.arange(4) % 2)


def test_predict_rejects_other_image_sizes(digit_images):
    X, y = digit_images
    clf = CNNClassifier(**TINY).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="input_shape"):
        clf.predict(np.zeros((2, 6, 6)))
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.zeros((2, 30)))


def test_ragged_input_is_rejected_with_the_layouts():
    with pytest.raises(ValueError, match="equally shaped"):
        CNNClassifier(**TINY).fit([np.zeros((3, 3)), np.zeros((4, 4))], [0, 1])


@pytest.mark.slow
def test_fashion_mnist_subset():
    try:
        X_train, X_test, y_train, y_test = load_fashion_mnist(return_X_y=True)
    except FileNotFoundError:
        service_missing(
            "Fashion-MNIST files absent (Debian package dataset-fashion-mnist)"
        )
    Xtr, _, ytr, _ = train_test_split(
        X_train, y_train, train_size=2000, stratify=y_train, random_state=0
    )
    clf = CNNClassifier(channels=(16, 32), max_iter=5, random_state=0, device="cpu")
    clf.fit(Xtr, ytr)  # uint8 images as they come
    assert clf.score(X_test[:1000], y_test[:1000]) >= 0.8


def test_class_weight_weighs_the_loss(digit_images):
    X, y = digit_images
    rows = np.flatnonzero(y == 0)[:90].tolist() + np.flatnonzero(y == 1)[:15].tolist()
    assert_class_weight_applies(
        lambda **kw: CNNClassifier(**TINY, **kw), X[rows], y[rows]
    )
