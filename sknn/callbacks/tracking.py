"""Experiment tracking: log parameters, per-epoch metrics and the model to MLflow or
TensorBoard as training goes.

Both trackers are optional dependencies, imported when training begins: ``pip install
'sknn[mlflow]'`` (the light ``mlflow-skinny`` client) or ``pip install
'sknn[tensorboard]'``. Under ``torch.distributed`` only rank 0 logs.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
import time
import warnings

from sknn.callbacks.base import Callback
from sknn.utils.ranks import is_main_process

__all__ = ["MLflowLogger", "TensorBoardLogger"]


def _require(module: str, extra: str, who: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{who} needs the {module.split('.')[0]} package; install it with "
            f"pip install 'sknn[{extra}]'."
        ) from exc


def _is_logging_rank() -> bool:
    """Only one process of a ``torch.distributed`` job writes."""
    return is_main_process()


def _estimator_params(estimator) -> dict[str, str]:
    """The estimator's own parameters as strings (callbacks left out)."""
    params = {"estimator": type(estimator).__name__}
    for key, value in estimator.get_params(deep=False).items():
        if key == "callbacks":
            continue
        if isinstance(value, type) or callable(value):
            value = getattr(value, "__qualname__", type(value).__name__)
        params[key] = str(value)[:500]
    return params


def _metrics(record: dict) -> dict[str, float]:
    """The numeric entries of a history record, except the epoch number."""
    return {
        k: float(v)
        for k, v in record.items()
        if k != "epoch"
        and isinstance(v, numbers.Real)
        and not isinstance(v, bool)
        and math.isfinite(v)
    }


class MLflowLogger(Callback):
    """Log a fit to MLflow: parameters, per-epoch metrics and the fitted model.

    At the start of training the estimator's parameters are logged (the estimator is
    the trainer's ``owner``); after every epoch the numbers of its history record
    (``train_loss``, ``valid_loss``, ``valid_score``, ``lr``, ``dur``) as metrics with
    ``step=epoch``. When training ends the run is ended, and when the fit ends (its
    fitted attributes set) the model, written with :func:`sknn.save`, is logged as the
    artifact ``model/model.sknn`` (load it with ``sknn.load`` after
    ``mlflow.artifacts.download_artifacts``).

    Parameters
    ----------
    tracking_uri : str or None, default=None
        Where to log: a tracking server (``"http://mlflow.example.org:5000"``), a
        database (``"sqlite:///mlflow.db"``) or a local directory (``"file:./mlruns"``).
        ``None`` uses MLflow's configuration (``MLFLOW_TRACKING_URI`` or
        ``mlflow.set_tracking_uri``) and logs into the active run when one was
        started with ``mlflow.start_run()``.
    experiment_name : str or None, default=None
        Experiment of the new run, created when missing; ``None`` is MLflow's
        default experiment.
    run_name : str or None, default=None
        Name of the new run (MLflow picks one when ``None``).
    tags : dict or None, default=None
        Tags of the new run.
    log_model : bool, default=True
        Log the fitted estimator (:func:`sknn.save` format) at the end of training.

    Attributes
    ----------
    run_id_ : str
        The MLflow run that was logged to (on the fitted callback, in the
        estimator's ``callbacks_``).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from mlflow.tracking import MlflowClient
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import MLflowLogger
    >>> os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # a local store, as in tests
    >>> uri = "file:" + os.path.join(tempfile.mkdtemp(), "mlruns")
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=3, random_state=0,
    ...                     callbacks=[MLflowLogger(uri, experiment_name="iris")])
    >>> clf = clf.fit(X, y)
    >>> run_id = clf.callbacks_[0].run_id_
    >>> client = MlflowClient(uri)
    >>> [m.step for m in client.get_metric_history(run_id, "train_loss")]
    [1, 2, 3]
    >>> client.get_run(run_id).data.params["hidden_layer_sizes"]
    '(8,)'
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tags: dict | None = None,
        log_model: bool = True,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = tags
        self.log_model = log_model

    def on_train_begin(self, trainer) -> None:
        self._client = None
        if not _is_logging_rank():
            return
        mlflow = _require("mlflow", "mlflow", "MLflowLogger")
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(self.tracking_uri)
        active = mlflow.active_run() if self.tracking_uri is None else None
        if active is not None:
            self.run_id_, self._own_run = active.info.run_id, False
        else:
            exp_id = "0"
            if self.experiment_name is not None:
                exp = self._client.get_experiment_by_name(self.experiment_name)
                exp_id = (
                    exp.experiment_id
                    if exp is not None
                    else self._client.create_experiment(self.experiment_name)
                )
            run = self._client.create_run(
                exp_id,
                run_name=self.run_name,
                tags={str(k): str(v) for k, v in (self.tags or {}).items()},
            )
            self.run_id_, self._own_run = run.info.run_id, True
        estimator = trainer.owner
        if hasattr(estimator, "get_params"):
            from mlflow.entities import Param

            params = [Param(k, v) for k, v in _estimator_params(estimator).items()]
            self._client.log_batch(self.run_id_, params=params)

    def on_epoch_end(self, trainer, record: dict) -> None:
        if self._client is None:
            return
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        step = int(record.get("epoch", trainer.state.epoch))
        metrics = [Metric(k, v, stamp, step) for k, v in _metrics(record).items()]
        if metrics:
            self._client.log_batch(self.run_id_, metrics=metrics)

    def on_train_end(self, trainer) -> None:
        client = getattr(self, "_client", None)
        if client is None:
            return
        if self._own_run:
            status = (
                "KILLED"
                if getattr(trainer, "stop_reason", None) == "interrupted"
                else "FINISHED"
            )
            client.set_terminated(self.run_id_, status)
        if not (self.log_model and trainer.owner is not None):
            self._client = None  # the fitted estimator stays picklable

    def on_fit_end(self, estimator) -> None:
        client = getattr(self, "_client", None)
        if client is None:
            return
        try:
            self._log_model(client, estimator)
        finally:
            self._client = None  # the fitted estimator stays picklable

    def _log_model(self, client, estimator) -> None:
        from sknn.io import save

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.sknn")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # callbacks it cannot store
                save(estimator, path)
            client.log_artifact(self.run_id_, path, artifact_path="model")


class TensorBoardLogger(Callback):
    """Write a fit to TensorBoard event files: parameters and per-epoch scalars.

    The estimator's parameters are written as text (``params``) when training
    begins, and the numbers of each epoch's history record (``train_loss``,
    ``valid_loss``, ``valid_score``, ``lr``, ``dur``) as scalars with
    ``step=epoch``. Watch them with ``tensorboard --logdir <log_dir>``.

    Parameters
    ----------
    log_dir : str or path-like or None, default=None
        Directory of the event files; ``None`` is torch's default
        ``runs/<date>_<host>``. Each fit writes a new event file there.
    prefix : str, default=""
        Prepended to every scalar's name (e.g. ``"fold0/"``), to tell fits apart
        in one directory.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from tensorboard.backend.event_processing.event_accumulator import (
    ...     EventAccumulator)
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import TensorBoardLogger
    >>> log_dir = tempfile.mkdtemp()
    >>> X, y = load_iris(return_X_y=True)
    >>> _ = MLPClassifier((8,), max_iter=3, random_state=0,
    ...                   callbacks=[TensorBoardLogger(log_dir)]).fit(X, y)
    >>> events = EventAccumulator(log_dir).Reload()
    >>> [e.step for e in events.Scalars("train_loss")]
    [1, 2, 3]
    """

    def __init__(
        self, log_dir: str | os.PathLike | None = None, *, prefix: str = ""
    ) -> None:
        self.log_dir = log_dir
        self.prefix = prefix

    def on_train_begin(self, trainer) -> None:
        self._writer = None
        if not _is_logging_rank():
            return
        _require("tensorboard", "tensorboard", "TensorBoardLogger")
        from torch.utils.tensorboard import SummaryWriter

        log_dir = None if self.log_dir is None else os.fspath(self.log_dir)
        self._writer = SummaryWriter(log_dir=log_dir)
        estimator = trainer.owner
        if hasattr(estimator, "get_params"):
            rows = "\n".join(
                f"| {k} | {v} |" for k, v in _estimator_params(estimator).items()
            )
            self._writer.add_text(
                f"{self.prefix}params", "| parameter | value |\n|---|---|\n" + rows
            )

    def on_epoch_end(self, trainer, record: dict) -> None:
        writer = getattr(self, "_writer", None)
        if writer is None:
            return
        step = int(record.get("epoch", trainer.state.epoch))
        for key, value in _metrics(record).items():
            writer.add_scalar(self.prefix + key, value, step)
        writer.flush()

    def on_train_end(self, trainer) -> None:
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.close()
        self._writer = None  # the fitted estimator stays picklable
