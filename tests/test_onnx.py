"""ONNX export: the exported graph, run in ONNX Runtime, equals predict / predict_proba."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sknn import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    RNNClassifier,
    RNNRegressor,
    export_onnx,
)

pytest.importorskip("onnx", reason="ONNX export needs onnx (pip install 'sknn[onnx]')")
ort = pytest.importorskip(
    "onnxruntime", reason="these tests run the graph in onnxruntime (sknn[onnx])"
)

FAST = dict(max_iter=3, random_state=0)


def _session(est, tmp_path, **kwargs):
    path = export_onnx(est, tmp_path / "model.onnx", **kwargs)
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def _check_classifier(sess, clf, X):
    for n in (1, 37):
        label, proba = sess.run(None, {"X": X[:n]})
        expected = clf.predict(X[:n])
        assert label.shape == expected.shape
        assert label.tolist() == expected.tolist()
        np.testing.assert_allclose(proba, clf.predict_proba(X[:n]), atol=1e-5)


def _check_regressor(sess, reg, X):
    for n in (1, 37):
        (pred,) = sess.run(None, {"X": X[:n]})
        expected = reg.predict(X[:n])
        assert pred.shape == expected.shape
        np.testing.assert_allclose(pred, expected, rtol=1e-5, atol=1e-4)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    return X, y


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7, 11]),  # integers, not 0..K-1
        np.array(["ant", "bee", "cat"]),
        np.array([0.0, 2.0, 5.0]),  # float labels
        np.array([False, True, True]),  # binary
        np.array(["no", "yes", "yes"]),  # binary strings
    ],
    ids=["int", "str", "float", "bool", "binary-str"],
)
def test_mlp_classifier_labels_and_probabilities(table, tmp_path, labels):
    X, y = table
    y = labels[y]
    clf = MLPClassifier((8,), **FAST).fit(X, y)
    sess = _session(clf, tmp_path)
    _check_classifier(sess, clf, X)
    label = sess.run(["label"], {"X": X[:4]})[0]
    assert label.dtype == (object if labels.dtype.kind == "U" else y.dtype)


def test_mlp_multilabel(table, tmp_path):
    X, y = table
    Y = np.stack([y == 0, y == 1, X[:, 3] > 0], axis=1).astype(int)
    clf = MLPClassifier((8,), **FAST).fit(X, Y)
    _check_classifier(_session(clf, tmp_path), clf, X)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_mlp_regressor_unscaled_targets(table, tmp_path, loss):
    X, _ = table
    y = 300 + 50 * X[:, 0] if loss == "squared_error" else np.exp(X[:, 0])
    reg = MLPRegressor((8,), loss=loss, **FAST).fit(X, y)
    assert reg.predict(X).mean() > 100 or loss == "poisson"  # scaling is undone
    _check_regressor(_session(reg, tmp_path), reg, X)


def test_mlp_regressor_multi_output(table, tmp_path):
    X, _ = table
    Y = np.stack([100 * X[:, 0], X[:, 1] - 5], axis=1)
    reg = MLPRegressor((8,), **FAST).fit(X, Y)
    _check_regressor(_session(reg, tmp_path), reg, X)


def test_cnn_images_and_signals(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(50, 1, 8, 8)).astype(np.float32)
    y = (images[:, 0, :4].mean(axis=(1, 2)) > 0).astype(int)
    clf = CNNClassifier(channels=(4,), batch_norm=True, **FAST).fit(images, y)
    _check_classifier(_session(clf, tmp_path), clf, images)

    signals = rng.normal(size=(50, 2, 12)).astype(np.float32)
    target = signals[:, 0].sum(axis=1) * 10
    reg = CNNRegressor(channels=(4,), input_shape=(2, 12), **FAST).fit(signals, target)
    _check_regressor(_session(reg, tmp_path), reg, signals)


@pytest.mark.parametrize(
    "cell, pooling, bidirectional",
    [("gru", "last", True), ("lstm", "max", False), ("rnn", "mean", True)],
)
def test_rnn_fixed_and_other_lengths(tmp_path, cell, pooling, bidirectional):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 9, 2)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    clf = RNNClassifier(
        cell=cell,
        hidden_size=6,
        num_layers=2,
        pooling=pooling,
        bidirectional=bidirectional,
        **FAST,
    ).fit(X, y)
    sess = _session(clf, tmp_path)
    _check_classifier(sess, clf, X)
    # The time axis is dynamic: shorter and longer sequences than in fit.
    for steps in (3, 15):
        Xt = rng.normal(size=(37, steps, 2)).astype(np.float32)
        _check_classifier(sess, clf, Xt)


def test_rnn_ragged_sequences_one_at_a_time(tmp_path):
    """Ragged input has no one-batch graph; each sequence alone equals predict."""
    rng = np.random.default_rng(1)
    seqs = [rng.normal(size=(n, 3)).astype(np.float32) for n in (4, 9, 2, 6) * 5]
    y = np.array([s[:, 0].sum() for s in seqs]) * 10
    reg = RNNRegressor(hidden_size=6, batch_size=8, **FAST).fit(seqs, y)
    sess = _session(reg, tmp_path)
    expected = reg.predict(seqs)
    got = np.array([sess.run(None, {"X": s[None]})[0][0] for s in seqs])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_input_preparation_in_the_graph(tmp_path):
    """uint8 images divided by 255, other dtypes cast, samples reshaped: the graph
    takes what predict takes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    images = (X[:120] * 16).astype(np.uint8).reshape(-1, 8, 8)  # (n, H, W) uint8
    y = y[:120]
    cnn = CNNClassifier(channels=(4,), **FAST).fit(images, y)
    sess = _session(cnn, tmp_path, input_shape=(8, 8), input_dtype="uint8")
    assert sess.get_inputs()[0].type == "tensor(uint8)"
    _check_classifier(sess, cnn, images)
    # Without the division the graph would differ from predict.
    raw = _session(cnn, tmp_path, input_shape=(8, 8))
    proba = raw.run(None, {"X": images[:37].astype(np.float32)})[1]
    assert not np.allclose(proba, cnn.predict_proba(images[:37]), atol=1e-3)

    # An RNN fitted on a float64 table of univariate sequences (n, T).
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 7))
    target = table.sum(axis=1) * 3
    rnn = RNNRegressor(hidden_size=4, batch_size=8, dtype="float32", **FAST)
    rnn.fit(table, target)
    sess = _session(rnn, tmp_path, input_shape=(7,), input_dtype="float64")
    assert sess.get_inputs()[0].shape == ["batch", 7]
    _check_regressor(sess, rnn, table)

    # An MLP served float64 rows.
    mlp = MLPRegressor((4,), dtype="float32", **FAST).fit(table, target)
    _check_regressor(_session(mlp, tmp_path, input_dtype="float64"), mlp, table)


def test_fixed_batch_size(table, tmp_path):
    X, y = table
    clf = MLPClassifier((8,), **FAST).fit(X, y)
    sess = _session(clf, tmp_path, batch_size=37)
    assert sess.get_inputs()[0].shape == [37, 5]
    label, proba = sess.run(None, {"X": X[:37]})
    assert label.tolist() == clf.predict(X[:37]).tolist()
    np.testing.assert_allclose(proba, clf.predict_proba(X[:37]), atol=1e-5)
    with pytest.raises(Exception, match=r"(?i)dimension|shape"):
        sess.run(None, {"X": X[:1]})
    assert _session(clf, tmp_path).get_inputs()[0].shape == ["batch", 5]


def test_dynamo_exporter(table, tmp_path):
    pytest.importorskip("onnxscript", reason="dynamo=True needs onnxscript")
    X, y = table
    clf = MLPClassifier((8,), **FAST).fit(X, y)
    _check_classifier(_session(clf, tmp_path, dynamo=True), clf, X)


def test_float64_networks(tmp_path):
    """Networks fitted in float64 export in float32 by default (ONNX Runtime has no
    double Conv / GRU kernels on CPU), or in float64 on request."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 2))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    rnn = RNNClassifier(hidden_size=4, batch_size=8, dtype="float64", **FAST).fit(X, y)
    _check_classifier(_session(rnn, tmp_path), rnn, X.astype(np.float32))
    Xc = X.transpose(0, 2, 1)
    cnn = CNNClassifier(channels=(4,), input_shape=(2, 6), dtype="float64", **FAST)
    cnn.fit(Xc, y)
    _check_classifier(_session(cnn, tmp_path), cnn, Xc.astype(np.float32))
    reg = MLPRegressor((4,), dtype="float64", **FAST).fit(X.reshape(40, -1), y * 50.0)
    sess = _session(reg, tmp_path, dtype="float64")
    assert sess.get_inputs()[0].type == "tensor(double)"
    (pred,) = sess.run(None, {"X": X.reshape(40, -1)})
    np.testing.assert_allclose(pred, reg.predict(X.reshape(40, -1)), rtol=1e-12)


class _Residual(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.body = torch.nn.Linear(n_features_in, n_features_in)
        self.head = torch.nn.Linear(n_features_in, n_outputs)

    def forward(self, x):
        return self.head(x + torch.tanh(self.body(x)))


def test_neuralnet_own_module(table, tmp_path):
    X, y = table
    clf = NeuralNetClassifier(_Residual, **FAST).fit(X, y)
    _check_classifier(_session(clf, tmp_path), clf, X)


class _Opaque(torch.nn.Module):
    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.linear = torch.nn.Linear(n_features_in, n_outputs)

    def forward(self, x):
        return self.linear(torch.special.i0(x))  # aten::i0 has no ONNX op


class _Branching(torch.nn.Module):
    """Python control flow on the input's values: tracing keeps one branch."""

    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.a = torch.nn.Linear(n_features_in, n_outputs)
        self.b = torch.nn.Linear(n_features_in, n_outputs)

    def forward(self, x):
        return self.a(x) if bool(x.abs().sum() > 0) else self.b(x)


def test_traced_control_flow_is_caught(table, tmp_path):
    X, y = table
    clf = NeuralNetClassifier(_Branching, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="does not reproduce it"):
        export_onnx(clf, tmp_path / "m.onnx")
    # Unchecked, the file is written, and wrong: the traced zeros took branch b.
    sess = ort.InferenceSession(export_onnx(clf, tmp_path / "m.onnx", verify=False))
    proba = sess.run(None, {"X": X[:37]})[1]
    assert not np.allclose(proba, clf.predict_proba(X[:37]), atol=1e-3)


def test_graph_onnx_runtime_cannot_run_gets_a_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 2)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    rnn = RNNClassifier(hidden_size=4, batch_size=8, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="ONNX Runtime cannot run"):
        export_onnx(rnn, tmp_path / "m.onnx", dtype="float64")  # no double GRU
    assert not (tmp_path / "m.onnx").exists()


def test_unexportable_module_gets_a_clear_error(table, tmp_path):
    X, y = table
    clf = NeuralNetClassifier(_Opaque, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="could not export the module _Opaque"):
        export_onnx(clf, tmp_path / "m.onnx")


def test_errors(table, tmp_path):
    X, y = table
    with pytest.raises(NotFittedError):
        export_onnx(MLPClassifier(), tmp_path / "m.onnx")
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="exports sknn estimators"):
        export_onnx(LogisticRegression().fit(X, y), tmp_path / "m.onnx")
    clf = MLPClassifier((4,), max_iter=1, random_state=0).fit(X, y)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            export_onnx(clf, tmp_path / "m.onnx", batch_size=bad)
    with pytest.raises(ValueError, match="dtype"):
        export_onnx(clf, tmp_path / "m.onnx", dtype="float16")
    with pytest.raises(ValueError, match="input_dtype"):
        export_onnx(clf, tmp_path / "m.onnx", input_dtype="int8")
    for bad in ((6,), (0, 5), "five", (5, 2)):
        with pytest.raises(ValueError, match="input_shape"):
            export_onnx(clf, tmp_path / "m.onnx", input_shape=bad)


def test_estimator_unchanged_and_metadata(table, tmp_path):
    import onnx

    X, y = table
    clf = MLPClassifier((8,), dropout=0.5, **FAST).fit(X, y)
    clf.module_.train()  # export must neither rely on nor change the module's mode
    before = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    sess = _session(clf, tmp_path)
    assert clf.module_.training
    for k, v in clf.module_.state_dict().items():
        assert torch.equal(v, before[k])
    _check_classifier(sess, clf, X)  # dropout is off in the graph
    meta = {p.key: p.value for p in onnx.load(tmp_path / "model.onnx").metadata_props}
    assert meta["estimator"] == "MLPClassifier"
    assert meta["classes"] == "[0, 1, 2]"


@pytest.mark.cuda
def test_cuda_model_exports_on_the_cpu(table, tmp_path):
    X, y = table
    clf = MLPClassifier((8,), device="cuda", **FAST).fit(X, y)
    _check_classifier(_session(clf, tmp_path), clf, X)
    assert next(clf.module_.parameters()).is_cuda  # the estimator's module stays
