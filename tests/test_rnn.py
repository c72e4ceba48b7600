"""RNNClassifier / RNNRegressor: layouts, ragged sequences, windows, UCR / UEA data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _weighting import assert_class_weight_applies

from sknn import RNNClassifier, RNNRegressor
from sknn.data import make_windows
from sknn.data.inputs import pad_sequences
from sknn.modules import RNN

TINY = dict(hidden_size=8, max_iter=3, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def ragged():
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(rng.randint(2, 12), 3)).astype(np.float32) for _ in range(80)]
    y = np.array([int(x[:, 0].sum() > 0) for x in X])
    return X, y


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_influences_the_result(cell, bidirectional, pooling):
    torch.manual_seed(0)
    net = RNN(
        3, 2, cell=cell, hidden_size=5, num_layers=2, bidirectional=bidirectional,
        pooling=pooling,
    )  # fmt: skip
    net.eval()
    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(t, 3)).astype(np.float32) for t in (4, 1, 7)]
    padded, lengths = pad_sequences(seqs)
    padded = torch.as_tensor(padded)
    batch = net(padded, lengths)
    garbage = padded.clone()
    for i, t in enumerate(lengths.tolist()):
        garbage[i, t:] = 1e3
    torch.testing.assert_close(net(garbage, lengths), batch)
    for i, seq in enumerate(seqs):
        alone = net(torch.as_tensor(seq)[None])
        torch.testing.assert_close(alone[0], batch[i], atol=1e-5, rtol=1e-5)


def _spikes(n, rng):
    """Long noisy sequences; class 1 holds one brief spike early on, which a
    sequence's last state must carry across 60 steps."""
    X = rng.normal(scale=0.3, size=(n, 80, 1)).astype(np.float32)
    y = rng.randint(0, 2, size=n)
    X[y == 1, rng.randint(0, 20, size=int(y.sum())), 0] += 3.0
    return X, y


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_over_steps(pooling):
    """The dense head sees pooled outputs of every step: the module pools as asked,
    and max pooling finds a brief spike anywhere in a long sequence."""
    rng = np.random.RandomState(0)
    X, y = _spikes(300, rng)
    clf = RNNClassifier(
        hidden_size=8, bidirectional=False, pooling=pooling, max_iter=15,
        random_state=0, device="cpu",
    ).fit(X[:200], y[:200])  # fmt: skip
    assert clf.module_.pooling == pooling
    out, _ = clf.module_.blocks[0](torch.as_tensor(X[:5]), None)
    expected = out.mean(1) if pooling == "mean" else out.amax(1)
    with torch.no_grad():
        torch.testing.assert_close(
            clf.module_(torch.as_tensor(X[:5])), clf.module_.output(expected)
        )
    if pooling == "max":
        assert clf.score(X[200:], y[200:]) >= 0.95
    with pytest.raises(ValueError, match="pooling"):
        RNNClassifier(pooling="sum").fit(X[:20], y[:20])


def test_ragged_lists_fit_and_predict_per_sequence(ragged):
    X, y = ragged
    clf = RNNClassifier(hidden_size=8, max_iter=30, random_state=0, device="cpu").fit(
        X, y
    )
    assert clf.n_features_in_ == 3
    assert clf.score(X, y) > 0.85
    proba = clf.predict_proba(X)
    one_by_one = np.vstack([clf.predict_proba([x]) for x in X[:10]])
    np.testing.assert_allclose(one_by_one, proba[:10], atol=1e-5)
    # Sequences of other lengths than in fit are fine; other feature counts are not.
    assert clf.predict([np.zeros((40, 3))]).shape == (1,)
    with pytest.raises(ValueError, match="features per time step"):
        clf.predict([np.zeros((4, 2))])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_sequence_predicts_the_same_whatever_its_batch(cell, bidirectional):
    """Batch scoring and one-at-a-time serving agree exactly (scikit-learn's
    check_methods_subset_invariance, on ragged sequences of many lengths)."""
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(rng.randint(3, 30), 4)) for _ in range(150)]
    y = np.array([int(x[:, 0].sum() > 0) for x in X])
    clf = RNNClassifier(
        cell=cell, bidirectional=bidirectional, max_iter=2, random_state=0, device="cpu"
    ).fit(X, y)
    alone = np.vstack([clf.predict_proba([x]) for x in X])
    np.testing.assert_array_equal(clf.predict_proba(X), alone)
    np.testing.assert_array_equal(clf.predict_proba(X[::-1]), alone[::-1])


def test_layouts_give_the_same_model():
    rng = np.random.RandomState(0)
    X3 = rng.normal(size=(60, 5, 2))
    y = (X3[:, :, 0].mean(axis=1) > 0).astype(int)
    ref = RNNClassifier(**TINY).fit(X3, y)
    table = RNNClassifier(**TINY, input_shape=(5, 2)).fit(X3.reshape(60, -1), y)
    np.testing.assert_allclose(
        table.predict_proba(X3.reshape(60, -1)), ref.predict_proba(X3), atol=1e-6
    )
    assert (ref.n_features_in_, table.n_features_in_) == (2, 10)
    # (n, T) arrays are univariate sequences, the same as (n, T, 1).
    uni = RNNClassifier(**TINY).fit(X3[:, :, 0], y)
    uni3 = RNNClassifier(**TINY).fit(X3[:, :, :1], y)
    np.testing.assert_allclose(
        uni.predict_proba(X3[:, :, 0]), uni3.predict_proba(X3[:, :, :1]), atol=1e-6
    )
    # An equal-length list is an ordinary 3-D array, not a ragged batch.
    same = RNNClassifier(**TINY).fit(list(X3), y)
    np.testing.assert_allclose(same.predict_proba(X3), ref.predict_proba(X3), atol=1e-6)


def test_forecasting_with_windows_in_two_lines():
    series = np.sin(np.arange(400) / 6) + 0.5 * np.sin(np.arange(400) / 17)
    X, y = make_windows(series, window=16)
    reg = RNNRegressor(
        hidden_size=16, bidirectional=False, max_iter=20, random_state=0, device="cpu"
    )
    reg.fit(X[:300], y[:300])
    assert reg.score(X[300:], y[300:]) > 0.95


def test_multivariate_windows_and_multioutput_regression():
    rng = np.random.RandomState(0)
    series = np.cumsum(rng.normal(size=(200, 3)), axis=0)
    X, y = make_windows(series, window=8, targets=[0, 2])
    assert X.shape == (192, 8, 3) and y.shape == (192, 2)
    reg = RNNRegressor(**TINY).fit(X, y)
    assert reg.predict(X).shape == (192, 2)


def test_make_windows_horizon_and_step():
    X, y = make_windows(np.arange(10), window=3, horizon=2, step=3)
    assert X.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert y.tolist() == [4, 7]
    with pytest.raises(ValueError, match="too short"):
        make_windows(np.arange(3), window=3)


@pytest.mark.parametrize(
    "X, params, match",
    [
        ([np.zeros((3, 2)), np.zeros((4, 3))], {}, "same number of features"),
        ([np.zeros((3, 2)), np.zeros((0, 2))], {}, "empty"),
        (np.zeros((4, 3, 2, 2)), {}, "dimensions"),
        (np.zeros((4, 10)), {"input_shape": (3, 3)}, "9 values per sample"),
        (np.zeros((4, 5, 2)), {"input_shape": (5, 3)}, r"\(n_samples, T, F\)"),
        (np.zeros((4, 0, 2)), {}, "0 time steps|0 feature"),
    ],
)
def test_bad_input_is_rejected_before_training(X, params, match):
    with pytest.raises(ValueError, match=match):
        RNNClassifier(**TINY, **params).fit(X, np.arange(4)[: len(X)] % 2)


def test_engine_features_apply(ragged):
    X, y = ragged
    clf = RNNClassifier(**TINY, early_stopping=True, class_weight="balanced")
    clf.fit(X, y, sample_weight=np.ones(len(y)))
    assert len(clf.validation_scores_) == clf.n_iter_
    part = RNNClassifier(**TINY).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    assert part.n_iter_ == 2
    assert isinstance(part.module_.output, torch.nn.Linear)
    assert type(part.module_.blocks[0]).__name__ == "RecurrentBlock"


def _ucr(name, split):
    sktime_datasets = pytest.importorskip("sktime.datasets", reason="needs sktime")
    X, y = sktime_datasets.load_UCR_UEA_dataset(
        name, split=split, return_X_y=True, return_type="numpy3D"
    )
    return X.transpose(0, 2, 1), y  # sktime's (n, channels, time) -> (n, T, F)


def _ucr_ragged(name, split):
    sktime_datasets = pytest.importorskip("sktime.datasets", reason="needs sktime")
    X, y = sktime_datasets.load_UCR_UEA_dataset(
        name, split=split, return_X_y=True, return_type="nested_univ"
    )
    return [np.stack([cell.to_numpy() for cell in row], axis=1) for row in X.values], y


@pytest.mark.slow
def test_italy_power_demand():
    Xtr, ytr = _ucr("ItalyPowerDemand", "train")
    Xte, yte = _ucr("ItalyPowerDemand", "test")
    lean = dict(cell="lstm", bidirectional=False, batch_size="auto", device="cpu")
    clf = RNNClassifier(hidden_size=16, max_iter=40, random_state=0, **lean)
    assert clf.fit(Xtr, ytr).score(Xte, yte) >= 0.9
    assert set(clf.classes_) == {"1", "2"}


@pytest.mark.slow
def test_japanese_vowels_as_ragged_lists():
    Xtr, ytr = _ucr_ragged("JapaneseVowels", "train")
    Xte, yte = _ucr_ragged("JapaneseVowels", "test")
    lengths = {len(x) for x in Xtr + Xte}
    assert min(lengths) >= 7 and max(lengths) <= 29 and len(lengths) > 5
    clf = RNNClassifier(
        hidden_size=32, bidirectional=False, max_iter=15, random_state=0, device="cpu"
    )
    assert clf.fit(Xtr, ytr).score(Xte, yte) >= 0.93


def test_class_weight_weighs_the_loss(ragged):
    X, y = ragged
    rows = np.flatnonzero(y == 0).tolist() + np.flatnonzero(y == 1)[:8].tolist()
    assert_class_weight_applies(
        lambda **kw: RNNClassifier(**TINY, **kw), [X[i] for i in rows], y[rows]
    )
