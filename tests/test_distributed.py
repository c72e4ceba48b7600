"""Several worker processes on one Optuna study (PostgreSQL, SQLite, journal file),
workers starting together on a fresh storage, a worker killed mid-trial, and
GridSearchCV on a Dask cluster.

The PostgreSQL tests read ``SKNN_TEST_POSTGRES_URL`` (``.ci/start-postgres.sh``
prints it); without a server they skip, except under ``CI=true`` where they fail
(see ``tests/_services.py``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import uuid

import numpy as np
import optuna
import pytest
from _services import postgres_url, require_module, service_missing
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
    url = postgres_url()
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


# A worker that searches each storage named on its standard input, all workers at
# once: the test writes the same line to every worker, which then starts together.
TOGETHER = textwrap.dedent(
    """
    import json, sys, traceback, warnings
    import optuna, torch
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from optuna.distributions import FloatDistribution
    from sklearn.datasets import make_classification
    from sknn import MLPClassifier
    from sknn.model_selection import OptunaSearchCV

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)

    def search(**kwargs):
        return OptunaSearchCV(
            MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, device="cpu"),
            {"learning_rate_init": FloatDistribution(1e-3, 1e-1, log=True)},
            cv=2, refit=False, **kwargs,
        ).fit(X, y)

    # Warm up (first fit, database modules), so that the workers' set-ups race.
    search(n_trials=1)
    optuna.storages.RDBStorage("sqlite:///:memory:")
    print("ready", flush=True)
    for line in sys.stdin:
        storage, study_name, n_trials = line.split()
        try:
            fitted = search(
                n_trials=int(n_trials), storage=storage, study_name=study_name,
                load_if_exists=True,
            )
            out = {"trials": [int(n) for n in fitted.cv_results_["trial_number"]]}
        except Exception:
            out = {"error": traceback.format_exc()}
        print("result", json.dumps(out), flush=True)
    """
)


def _readline(lines: queue.Queue, timeout: float = 120) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"a worker said nothing for {timeout} s")


def _start_together_workers(tmp_path, n_workers):
    script = tmp_path / "together.py"
    script.write_text(TOGETHER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = []
    for _ in range(n_workers):
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(
            target=lambda p=proc, q=lines: [q.put(x) for x in p.stdout], daemon=True
        ).start()
        workers.append((proc, lines))
    for _, lines in workers:
        assert _readline(lines).strip() == "ready"
    return workers


def _fresh_storage(kind: str, tmp_path, round_: int):
    """A storage URL (or journal path) that nothing has touched yet, and a
    function that drops it (a fresh PostgreSQL database per round)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'fresh{round_}.db'}", lambda: None
    if kind == "journal":
        return str(tmp_path / f"fresh{round_}.log"), lambda: None
    import sqlalchemy

    url = sqlalchemy.engine.make_url(postgres_url())
    name = f"sknn_fresh_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    except sqlalchemy.exc.ProgrammingError as exc:  # a role without CREATEDB
        admin.dispose()
        service_missing(f"PostgreSQL: cannot create a fresh database: {exc}")

    def drop():
        with admin.connect() as connection:
            connection.execute(
                sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            )
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgres"])
def test_workers_starting_together_on_a_fresh_storage_all_run(kind, tmp_path):
    """Workers that create the storage's schema and the study at the same moment
    all run, and the study holds exactly ``n_trials`` trials, none lost or run
    twice (SQLite used to fail one worker with "UNIQUE constraint failed:
    alembic_version.version_num" or "table studies already exists")."""
    if kind == "postgres":
        postgres_url()  # skip (fail in CI) before starting the workers
    n_workers, n_rounds, n_trials = 2, 5, 3
    workers = _start_together_workers(tmp_path, n_workers)
    try:
        for round_ in range(n_rounds):
            storage, drop = _fresh_storage(kind, tmp_path, round_)
            try:
                for proc, _ in workers:  # every worker starts on this line at once
                    proc.stdin.write(f"{storage} together {n_trials}\n")
                    proc.stdin.flush()
                results = []
                for _, lines in workers:
                    line = _readline(lines)
                    while not line.startswith("result "):
                        line = _readline(lines)
                    results.append(json.loads(line[len("result ") :]))
                errors = [r["error"] for r in results if "error" in r]
                assert not errors, f"round {round_}: {errors[0]}"
                if "://" in storage:
                    handle = optuna.storages.RDBStorage(storage)
                else:
                    handle = optuna.storages.JournalStorage(
                        optuna.storages.journal.JournalFileBackend(storage)
                    )
                assert optuna.get_all_study_names(handle) == ["together"]
                trials = optuna.load_study(study_name="together", storage=handle).trials
                finished = sorted(
                    t.number for t in trials if t.state == TrialState.COMPLETE
                )
                assert len(finished) == n_trials
                assert not [t for t in trials if t.state == TrialState.RUNNING]
                for result in results:  # each worker sees the whole study
                    assert sorted(result["trials"]) == finished
                if "://" in storage:
                    handle.engine.dispose()
            finally:
                drop()
    finally:
        for proc, _ in workers:
            proc.stdin.close()
        for proc, _ in workers:
            proc.wait(timeout=60)


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
    distributed = require_module("distributed", "needs dask.distributed")
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


def test_a_missing_service_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("SKNN_TEST_POSTGRES_URL", raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="SKNN_TEST_POSTGRES_URL"):
        postgres_url()
    with pytest.raises(pytest.skip.Exception, match="needs no_such_package"):
        require_module("no_such_package", "needs no_such_package")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        postgres_url()
    with pytest.raises(pytest.fail.Exception, match="needs no_such_package"):
        require_module("no_such_package", "needs no_such_package")
    unreachable = "postgresql+psycopg2://nobody@127.0.0.1:1/none"
    monkeypatch.setenv("SKNN_TEST_POSTGRES_URL", unreachable)
    with pytest.raises(pytest.fail.Exception, match="unreachable"):
        postgres_url()
