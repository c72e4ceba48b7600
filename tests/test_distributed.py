"""Several worker processes on one Optuna study (PostgreSQL, SQLite, journal file),
a worker killed mid-trial, and GridSearchCV on a Dask cluster.

The PostgreSQL tests read ``SKNN_TEST_POSTGRES_URL`` (``.ci/start-postgres.sh``
prints it) and skip without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

WORKER = textwrap.dedent(
    """
    import json, os, sys, warnings
    import torch
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from optuna.distributions import FloatDistribution
    from sklearn.datasets import make_classification
    from sknn import MLPClassifier
    from sknn.callbacks import Callback
    from sknn.model_selection import OptunaSearchCV

    storage, study_name, n_trials, out = sys.argv[1:5]
    die = len(sys.argv) > 5

    class DieMidTrial(Callback):
        def on_epoch_end(self, trainer, record):
            os._exit(3)

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    est = MLPClassifier(
        hidden_layer_sizes=(4,), max_iter=5, random_state=0, device="cpu",
        callbacks=[DieMidTrial()] if die else None,
    )
    search = OptunaSearchCV(
        est, {"learning_rate_init": FloatDistribution(1e-3, 1e-1, log=True)},
        n_trials=int(n_trials), cv=2, refit=False, storage=storage,
        study_name=study_name, load_if_exists=True, heartbeat_interval=1,
        grace_period=2,
    ).fit(X, y)
    with open(out, "w") as f:
        json.dump({"trials": [int(n) for n in search.cv_results_["trial_number"]]}, f)
    """
)


def _postgres_url() -> str:
    url = os.environ.get("SKNN_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "SKNN_TEST_POSTGRES_URL is not set; start a server with "
            '`eval "$(.ci/start-postgres.sh)"`'
        )
    pytest.importorskip("psycopg2", reason="psycopg2 is needed for PostgreSQL")
    try:
        optuna.storages.RDBStorage(url)
    except Exception as exc:  # an unreachable server is a reason to skip, not fail
        pytest.skip(f"PostgreSQL at SKNN_TEST_POSTGRES_URL is unreachable: {exc}")
    return url


def _storage(kind: str, tmp_path, request):
    name = f"{request.node.name}-{os.getpid()}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'study.db'}"
        return url, name, optuna.storages.RDBStorage(url)
    if kind == "journal":
        path = str(tmp_path / "study.log")
        return (
            path,
            name,
            optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(path)
            ),
        )
    url = _postgres_url()
    return url, name, optuna.storages.RDBStorage(url)


def _start(tmp_path, storage, name, n_trials, tag, die=False):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / f"{tag}.json"
    args = [sys.executable, str(script), storage, name, str(n_trials), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*args, *(["die"] if die else [])], env=env)
    return proc, out


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgres"])
def test_two_workers_run_exactly_n_trials(kind, tmp_path, request):
    storage, name, handle = _storage(kind, tmp_path, request)
    optuna.create_study(storage=handle, study_name=name, direction="maximize")
    n_trials = 6
    workers = [_start(tmp_path, storage, name, n_trials, f"w{i}") for i in range(2)]
    for proc, _ in workers:
        assert proc.wait(timeout=120) == 0
    study = optuna.load_study(study_name=name, storage=handle)
    finished = [
        t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
    ]
    assert len(finished) == n_trials
    assert len({t.number for t in finished}) == n_trials
    # Every worker waits for the others and reports the whole study.
    for _, out in workers:
        seen = json.loads(out.read_text())["trials"]
        assert sorted(seen) == sorted(
            t.number for t in finished if t.state == TrialState.COMPLETE
        )


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_worker_killed_mid_trial_is_failed_and_retried(kind, tmp_path, request):
    storage, name, handle = _storage(kind, tmp_path, request)
    optuna.create_study(storage=handle, study_name=name, direction="maximize")
    dead, _ = _start(tmp_path, storage, name, 3, "dead", die=True)
    assert dead.wait(timeout=120) == 3
    study = optuna.load_study(study_name=name, storage=handle)
    (orphan,) = study.trials
    assert orphan.state == TrialState.RUNNING
    alive, out = _start(tmp_path, storage, name, 3, "alive")
    assert alive.wait(timeout=120) == 0
    trials = optuna.load_study(study_name=name, storage=handle).trials
    assert trials[orphan.number].state == TrialState.FAIL
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    retried = [t for t in complete if t.system_attrs.get("failed_trial") is not None]
    assert [t.system_attrs["failed_trial"] for t in retried] == [orphan.number]
    assert retried[0].params == orphan.params
    assert len(json.loads(out.read_text())["trials"]) == 3


def test_grid_search_on_dask_cluster_matches_default_backend():
    distributed = pytest.importorskip("distributed", reason="needs dask.distributed")
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV

    from sknn import MLPClassifier

    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    grid = GridSearchCV(
        MLPClassifier(
            hidden_layer_sizes=(4,), max_iter=10, random_state=0, device="cpu"
        ),
        {"alpha": [1e-4, 1e-2], "learning_rate_init": [0.01, 0.05]},
        cv=2,
    )
    local = grid.fit(X, y).cv_results_
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
    ):
        remote = GridSearchCV(**grid.get_params(deep=False)).set_params(n_jobs=-1)
        remote = remote.fit(X, y).cv_results_
        assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1")
        assert len(client.scheduler_info()["workers"]) == 2
    for key in ("split0_test_score", "split1_test_score", "rank_test_score"):
        np.testing.assert_allclose(remote[key], local[key])
