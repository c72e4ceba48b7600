"""MLflow and TensorBoard callbacks: what they log is read back from the stores."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
from sklearn.base import clone

import sknn
from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import MLflowLogger, TensorBoardLogger


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="needs mlflow-skinny (sknn[mlflow])")
    # MLflow 3 keeps the local file store behind this switch.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return "file:" + str(tmp_path / "mlruns")


def test_mlflow_params_metrics_and_model(data, mlflow_uri, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    X, y = data
    logger = MLflowLogger(mlflow_uri, experiment_name="exp", run_name="r1")
    clf = MLPClassifier(
        (6,), max_iter=4, early_stopping=True, random_state=0, callbacks=[logger]
    ).fit(X, y)
    assert not hasattr(logger, "run_id_")  # the estimator trained a clone
    run_id = clf.callbacks_[0].run_id_
    client = MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "r1"
    assert client.get_experiment(run.info.experiment_id).name == "exp"
    params = run.data.params
    assert params["estimator"] == "MLPClassifier"
    assert params["hidden_layer_sizes"] == "(6,)"
    assert params["early_stopping"] == "True"
    assert "callbacks" not in params
    for key in ("train_loss", "valid_loss", "valid_score"):
        hist = client.get_metric_history(run_id, key)
        assert [m.step for m in hist] == [r["epoch"] for r in clf.history_]
        np.testing.assert_allclose(
            [m.value for m in hist], [r[key] for r in clf.history_], rtol=1e-6
        )
    # The model artifact is the fitted estimator, loadable with sknn.load.
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path="model/model.sknn",
        dst_path=str(tmp_path / "dl"),
        tracking_uri=mlflow_uri,
    )
    with pytest.warns(UserWarning, match="did not restore the callbacks"):
        loaded = sknn.load(local)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.n_iter_ == clf.n_iter_
    assert loaded.loss_curve_ == clf.loss_curve_


def test_mlflow_logs_into_the_active_run(data, mlflow_uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    X, _ = data
    y = X[:, 0] * 100
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        with mlflow.start_run() as active:
            reg = MLPRegressor(
                (4,), max_iter=2, random_state=0, callbacks=[MLflowLogger()]
            ).fit(X, y)
            assert reg.callbacks_[0].run_id_ == active.info.run_id
            # The user's run is left open for them to end.
            status = MlflowClient(mlflow_uri).get_run(active.info.run_id).info.status
            assert status == "RUNNING"
    finally:
        mlflow.set_tracking_uri(previous)
    run = MlflowClient(mlflow_uri).get_run(active.info.run_id)
    assert run.data.params["estimator"] == "MLPRegressor"
    assert set(run.data.metrics) >= {"train_loss", "lr", "dur"}


def test_mlflow_without_model(data, mlflow_uri):
    from mlflow.tracking import MlflowClient

    X, y = data
    clf = MLPClassifier(
        (4,),
        max_iter=1,
        random_state=0,
        callbacks=[MLflowLogger(mlflow_uri, log_model=False, tags={"team": "a"})],
    ).fit(X, y)
    client = MlflowClient(mlflow_uri)
    run_id = clf.callbacks_[0].run_id_
    assert client.list_artifacts(run_id) == []
    assert client.get_run(run_id).data.tags["team"] == "a"


def test_tensorboard_scalars_read_back(data, tmp_path):
    pytest.importorskip("tensorboard", reason="needs tensorboard (sknn[tensorboard])")
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    X, y = data
    log_dir = tmp_path / "tb"
    clf = MLPClassifier(
        (6,),
        max_iter=4,
        early_stopping=True,
        random_state=0,
        callbacks=[TensorBoardLogger(log_dir, prefix="fold0/")],
    ).fit(X, y)
    events = EventAccumulator(str(log_dir)).Reload()
    tags = events.Tags()["scalars"]
    assert set(tags) >= {"fold0/train_loss", "fold0/valid_loss", "fold0/valid_score"}
    for key in ("train_loss", "valid_score", "lr"):
        scalars = events.Scalars("fold0/" + key)
        assert [s.step for s in scalars] == [r["epoch"] for r in clf.history_]
        np.testing.assert_allclose(
            [s.value for s in scalars], [r[key] for r in clf.history_], rtol=1e-6
        )
    assert "fold0/params/text_summary" in events.Tags()["tensors"]


def test_callbacks_clone_pickle_and_save(data, mlflow_uri, tmp_path):
    pytest.importorskip("tensorboard", reason="needs tensorboard (sknn[tensorboard])")
    X, y = data
    callbacks = [
        MLflowLogger(mlflow_uri, experiment_name="e", log_model=False),
        TensorBoardLogger(str(tmp_path / "tb"), prefix="p/"),
    ]
    for cb in callbacks:
        assert clone(cb).get_params() == cb.get_params()
    clf = MLPClassifier((4,), max_iter=2, random_state=0, callbacks=callbacks)
    clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    path = tmp_path / "m.sknn"
    sknn.save(clf, path)
    # Callbacks that write are not restored from a file; the caller passes them.
    with pytest.warns(UserWarning, match="MLflowLogger"):
        assert sknn.load(path).callbacks == []
    loaded = sknn.load(path, callbacks=callbacks)
    assert loaded.callbacks is callbacks
    loaded.set_params(max_iter=1).fit(X, y)  # and they log again


@pytest.mark.parametrize(
    "cb, module, extra",
    [
        (MLflowLogger(), "mlflow", "mlflow"),
        (TensorBoardLogger(), "tensorboard", "tensorboard"),
    ],
)
def test_missing_package_names_the_extra(data, monkeypatch, cb, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    X, y = data
    clf = MLPClassifier((4,), max_iter=1, callbacks=[cb])
    with pytest.raises(ImportError, match=rf"sknn\[{extra}\]"):
        clf.fit(X, y)


def test_only_rank_zero_logs(data, tmp_path, monkeypatch):
    """Under torch.distributed the other ranks write nothing (simulated rank 1)."""
    pytest.importorskip("tensorboard", reason="needs tensorboard (sknn[tensorboard])")
    import torch.distributed as dist

    from sknn.callbacks import tracking

    with monkeypatch.context() as m:
        m.setattr(dist, "is_available", lambda: True)
        m.setattr(dist, "is_initialized", lambda: True)
        m.setattr(dist, "get_world_size", lambda group=None: 2)
        m.setattr(dist, "get_rank", lambda group=None: 1)
        assert not tracking._is_logging_rank()
        m.setattr(dist, "get_rank", lambda group=None: 0)
        assert tracking._is_logging_rank()
    assert tracking._is_logging_rank()  # no process group

    X, y = data
    log_dir = tmp_path / "tb"
    callbacks = [TensorBoardLogger(log_dir), MLflowLogger("file:" + str(tmp_path))]
    with monkeypatch.context() as m:
        m.setattr(tracking, "_is_logging_rank", lambda: False)
        clf = MLPClassifier((4,), max_iter=2, random_state=0, callbacks=callbacks)
        clf.fit(X, y)
    assert not log_dir.exists()
    assert not hasattr(clf.callbacks_[1], "run_id_")
