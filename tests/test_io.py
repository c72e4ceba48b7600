"""sknn.save / sknn.load: round trips, and files that must be refused without running code."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest
import torch

import sknn
from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import EarlyStopping

FAST = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def fitted_clf(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(**FAST, callbacks=[EarlyStopping(patience=3)])
    return clf.fit(X, labels), X


def test_round_trip_classifier_string_labels(fitted_clf, tmp_path):
    clf, X = fitted_clf
    path = tmp_path / "clf.sknn"
    sknn.save(clf, path)
    loaded = sknn.load(path)
    assert type(loaded) is MLPClassifier
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.get_params()["callbacks"][0].patience == 3
    assert loaded.history_["train_loss"] == clf.history_["train_loss"]
    assert loaded.n_iter_ == clf.n_iter_
    assert loaded.device_ == "cpu"


def test_round_trip_regressor_and_partial_fit_continues(diabetes, tmp_path):
    X, y = diabetes
    reg = MLPRegressor(**FAST).fit(X, y)
    path = tmp_path / "reg.sknn"
    sknn.save(reg, path)
    loaded = sknn.load(path)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    # The optimiser state travels too: one more epoch gives the same model as on
    # the original estimator.
    reg.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_allclose(loaded.predict(X), reg.predict(X), rtol=1e-6)
    # A loaded (or unpickled) estimator holds its optimiser state apart; it saves again.
    sknn.save(sknn.load(path), tmp_path / "again.sknn")
    sknn.save(pickle.loads(pickle.dumps(reg)), tmp_path / "again.sknn")


def test_load_on_another_device_trains_there_later(diabetes, tmp_path):
    """A file saved from CUDA (its device parameter and device_ say so) loaded with
    ``device="cpu"``: the parameter follows, so partial_fit and fit run on a
    machine without a GPU, and partial_fit continues as on the original."""
    X, y = diabetes
    reg = MLPRegressor(**FAST).fit(X, y)
    sknn.save(reg, tmp_path / "cpu.sknn")
    with zipfile.ZipFile(tmp_path / "cpu.sknn") as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["params"]["device"] = "cuda"
    meta["attributes"]["device_"] = "cuda:0"
    _rewrite(
        tmp_path / "cpu.sknn",
        tmp_path / "cuda.sknn",
        {"meta.json": json.dumps(meta).encode()},
    )
    loaded = sknn.load(tmp_path / "cuda.sknn", device="cpu")
    assert loaded.device == "cpu" and loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    np.testing.assert_allclose(
        loaded.partial_fit(X, y).predict(X), reg.partial_fit(X, y).predict(X), rtol=1e-6
    )
    assert loaded.fit(X, y).device_ == "cpu"
    loaded = sknn.load(tmp_path / "cuda.sknn", device=torch.device("cpu"))
    assert loaded.device == torch.device("cpu") and loaded.device_ == "cpu"


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(),
    reason="needs a machine without CUDA and Apple GPUs",
)
def test_load_devices_on_a_machine_without_gpus(diabetes, tmp_path):
    """A file trained on an Apple GPU loads (on the CPU) where there is none; the
    device argument takes what the device parameter takes, and a device this
    machine lacks is an error, not a silent CPU."""
    X, y = diabetes
    reg = MLPRegressor(**FAST).fit(X, y)
    sknn.save(reg, tmp_path / "cpu.sknn")
    with zipfile.ZipFile(tmp_path / "cpu.sknn") as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["params"]["device"] = meta["attributes"]["device_"] = "mps"
    path = tmp_path / "mps.sknn"
    _rewrite(tmp_path / "cpu.sknn", path, {"meta.json": json.dumps(meta).encode()})
    loaded = sknn.load(path)
    assert loaded.device == "mps" and loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    loaded = sknn.load(path, device="auto")
    assert loaded.device == "auto" and loaded.device_ == "cpu"
    assert loaded.fit(X, y).device_ == "cpu"
    for device in ("cuda", "cuda:1", "mps"):
        with pytest.raises(ValueError, match="requested but"):
            sknn.load(path, device=device)
    with pytest.raises(ValueError, match="not a valid device"):
        sknn.load(path, device="gpu")


def test_feature_names_round_trip(iris, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(**FAST).fit(df, y)
    sknn.save(clf, tmp_path / "m.sknn")
    loaded = sknn.load(tmp_path / "m.sknn")
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.predict(df), clf.predict(df))


def test_unfitted_round_trip(tmp_path):
    sknn.save(MLPClassifier(alpha=0.5), tmp_path / "u.sknn")
    loaded = sknn.load(tmp_path / "u.sknn")
    assert loaded.alpha == 0.5 and not hasattr(loaded, "module_")


def test_save_is_atomic_and_leaves_no_temp_file(fitted_clf, tmp_path):
    clf, _ = fitted_clf
    sknn.save(clf, tmp_path / "a.sknn")
    sknn.save(clf, tmp_path / "a.sknn")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sknn"]


def test_meta_records_versions(fitted_clf, tmp_path):
    clf, _ = fitted_clf
    sknn.save(clf, tmp_path / "m.sknn")
    with zipfile.ZipFile(tmp_path / "m.sknn") as zf:
        meta = json.loads(zf.read("meta.json"))
    assert meta["versions"]["sknn"] == sknn.__version__
    assert meta["versions"]["torch"] == torch.__version__
    assert {"sklearn", "numpy"} <= set(meta["versions"])
    assert meta["estimator"] == "MLPClassifier"


class _Hostile:
    """A pickle payload that would create a marker file when unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(src, dst, replace: dict[str, bytes]):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, replace.get(name, zin.read(name)))
        for name, data in replace.items():
            if name not in zin.namelist():
                zout.writestr(name, data)


@pytest.mark.parametrize("member", ["weights.safetensors", "optimizer.pt"])
def test_hostile_pickle_in_model_file_is_not_executed(fitted_clf, tmp_path, member):
    clf, _ = fitted_clf
    good = tmp_path / "good.sknn"
    sknn.save(clf, good)
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"state": _Hostile(marker)})
    if member == "optimizer.pt":  # a torch.save file whose pickle is hostile
        buf = io.BytesIO()
        torch.save({"state": _Hostile(marker)}, buf)
        payload = buf.getvalue()
    bad = tmp_path / "bad.sknn"
    _rewrite(good, bad, {member: payload})
    with pytest.raises(ValueError, match=r"refusing|corrupt|safetensors"):
        sknn.load(bad)
    assert not marker.exists()


def test_plain_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.sknn"
    path.write_bytes(pickle.dumps(_Hostile(marker)))
    with pytest.raises(ValueError, match="not an sknn model file"):
        sknn.load(path)
    assert not marker.exists()


def test_other_zip_is_refused(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not an sknn model file"):
        sknn.load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not an sknn model file"):
        sknn.load(path)


def test_truncated_file_is_refused(fitted_clf, tmp_path):
    clf, _ = fitted_clf
    path = tmp_path / "m.sknn"
    sknn.save(clf, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"not an sknn model file|corrupt or truncated"
    ):
        sknn.load(path)


def test_corrupt_member_is_refused(fitted_clf, tmp_path):
    clf, _ = fitted_clf
    good, bad = tmp_path / "good.sknn", tmp_path / "bad.sknn"
    sknn.save(clf, good)
    _rewrite(good, bad, {"weights.safetensors": b"\x00" * 40})
    with pytest.raises(ValueError, match="corrupt"):
        sknn.load(bad)


def test_newer_format_is_refused(fitted_clf, tmp_path):
    clf, _ = fitted_clf
    good, bad = tmp_path / "good.sknn", tmp_path / "new.sknn"
    sknn.save(clf, good)
    with zipfile.ZipFile(good) as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["format_version"] = 999
    meta["versions"]["sknn"] = "99.0"
    _rewrite(good, bad, {"meta.json": json.dumps(meta).encode()})
    with pytest.raises(ValueError, match="Upgrade sknn"):
        sknn.load(bad)


def test_unknown_estimator_class_is_refused(fitted_clf, tmp_path):
    clf, _ = fitted_clf
    good, bad = tmp_path / "good.sknn", tmp_path / "bad.sknn"
    sknn.save(clf, good)
    with zipfile.ZipFile(good) as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["estimator"] = "os.system"
    _rewrite(good, bad, {"meta.json": json.dumps(meta).encode()})
    with pytest.raises(ValueError, match="unknown estimator"):
        sknn.load(bad)


def test_save_refuses_foreign_estimators(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="sknn estimators"):
        sknn.save(LogisticRegression(), tmp_path / "x.sknn")


def test_missing_file_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        sknn.load(tmp_path / "nope.sknn")


def test_pickle_and_joblib_still_work(iris, tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**FAST)).fit(X, y)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))
    joblib.dump(pipe, tmp_path / "p.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "p.joblib").predict(X), pipe.predict(X)
    )
