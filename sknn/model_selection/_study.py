"""Studies and their workers for :class:`~sknn.model_selection.OptunaSearchCV`.

Opening the storage and the study, and the workers that share a study's
``n_trials``: threads of this process, local worker processes, or processes on other
machines calling ``fit`` on the same storage. Every worker asks the study for trials
until it holds ``n_trials`` finished ones; trials of a dead worker are failed and
retried through the storage's heartbeat.

Workers may start at the same moment on a storage that does not exist yet: the
database's schema and the study are then created under a lock file beside an SQLite
file, and on other databases the set-up is retried when another worker's
concurrent set-up made it fail.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import random
import tempfile
import threading
import time
import warnings

import filelock
import optuna
import sqlalchemy
from joblib import Parallel, delayed
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileOpenLock
from optuna.trial import TrialState
from sklearn.base import clone
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from sknn.model_selection._records import CV_ATTR, FAILED_KEY
from sknn.utils._compat import joblib_uses_local_processes

# Trial attributes written by the search (JSON, readable by every worker).
SURPLUS_ATTR = "sknn:surplus"
_POLL_S = 0.5
_WAIT = object()  # _next_trial: other workers hold the last trials
# Storage set-up that failed because another worker set the same storage up at the
# same time: a table, type or version row created by both (SQLite, PostgreSQL, MySQL).
_SETUP_RACE = (
    "already exists",
    "unique constraint",
    "duplicate key",
    "duplicate entry",
    "database is locked",
)
_SETUP_TRIES = 6


class StudyWorkersMixin:
    """Storage, study and workers of a search; the search supplies ``_run_trial``."""

    def _open_storage(self) -> BaseStorage | None:
        storage = self.storage
        if storage is None or isinstance(storage, BaseStorage):
            return storage
        storage = os.fspath(storage)
        try:
            if "://" in storage:
                return _retry_setup(self._rdb_storage, storage)
            folder = os.path.dirname(os.path.abspath(storage))
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"no folder {folder!r}")
            return optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(storage)
            )
        except Exception as exc:
            raise ValueError(
                f"Cannot open the Optuna storage {storage!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _rdb_storage(self, url: str) -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=self.heartbeat_interval,
                grace_period=self.grace_period,
                heartbeat_stale_trial_callback=(
                    optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=self.max_retry
                    )
                ),
            )

    def _make_study(self) -> optuna.Study:
        # Storage set-up and study creation under one lock: workers that start
        # together on a fresh SQLite file would otherwise both create its tables.
        with _setup_lock(self.storage):
            return self._create_study()

    def _create_study(self) -> optuna.Study:
        storage = self._open_storage()
        sampler = copy.deepcopy(self.sampler)
        if sampler is None:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            if storage is not None:
                seed = (seed + os.getpid()) % (2**31 - 1)
            sampler = optuna.samplers.TPESampler(seed=seed)
        pruner = copy.deepcopy(self.pruner)
        if pruner is None:
            pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
        try:
            study = _retry_setup(
                optuna.create_study,
                storage=storage,
                sampler=sampler,
                pruner=pruner,
                study_name=self.study_name,
                direction="maximize",
                load_if_exists=self.load_if_exists,
            )
        except optuna.exceptions.DuplicatedStudyError as exc:
            raise ValueError(
                f"The storage already holds a study named {self.study_name!r}; pass "
                "load_if_exists=True to join it."
            ) from exc
        if study._is_multi_objective() or (
            study.direction != optuna.study.StudyDirection.MAXIMIZE
        ):
            raise ValueError(
                f"The study {study.study_name!r} has direction(s) "
                f"{[d.name for d in study.directions]}; OptunaSearchCV maximises a "
                "score (scikit-learn scorers are greater-is-better), so it needs a "
                "single-objective study with direction 'maximize'."
            )
        return study

    # ------------------------------------------------------------------ workers
    def _in_processes(self, n_workers: int) -> bool:
        """Several workers in local processes (joblib's default backends), unless the
        storage is an object (it cannot be sent to other processes)."""
        return (
            n_workers > 1
            and not isinstance(self.storage, BaseStorage)
            and joblib_uses_local_processes()
        )

    def _run_in_processes(self, ctx, deadline, n_workers: int) -> optuna.Study:
        """Run ``n_workers`` worker processes on one study; return the study.

        The workers share the study through its storage, as workers on several
        machines do; an in-memory study goes through a temporary journal file and is
        copied back into memory at the end.
        """
        tmp = None
        locks = tempfile.TemporaryDirectory(prefix="sknn-optuna-lock-")
        search = clone(self)
        if self.storage is None:
            tmp = tempfile.TemporaryDirectory(prefix="sknn-optuna-")
            search.set_params(
                storage=os.path.join(tmp.name, "study.journal"),
                study_name=self.study_name or "sknn-search",
            )
        try:
            study = search._make_study()
            search.set_params(study_name=study.study_name, load_if_exists=True)
            remaining = None if deadline is None else deadline - time.monotonic()
            claim = ClaimLock(os.path.join(locks.name, "claim"))
            jobs = (
                delayed(_process_worker)(search, ctx, remaining, index, claim)
                for index in range(n_workers)
            )
            with tqdm(
                total=self.n_trials, disable=not self.verbose, desc="trials"
            ) as bar:
                # Parallel runs in this thread, so that a Ctrl-C stops the workers;
                # a helper thread moves the progress bar from the storage.
                stop = threading.Event()
                poller = threading.Thread(
                    target=_poll_progress, args=(study, bar, stop), daemon=True
                )
                if self.verbose:
                    poller.start()
                try:
                    for epochs in Parallel(n_jobs=n_workers)(jobs):
                        ctx.epochs.extend(epochs)
                finally:
                    stop.set()
                    if poller.is_alive():
                        poller.join()
                        _poll_progress(study, bar, None)
            if tmp is not None:
                memory = optuna.storages.InMemoryStorage()
                optuna.copy_study(
                    from_study_name=study.study_name,
                    from_storage=study._storage,
                    to_storage=memory,
                    to_study_name=study.study_name,
                )
                study = optuna.load_study(
                    study_name=study.study_name,
                    storage=memory,
                    sampler=study.sampler,
                    pruner=study.pruner,
                )
            return study
        finally:
            locks.cleanup()
            if tmp is not None:
                tmp.cleanup()

    def _work(self, study: optuna.Study, ctx, deadline, bar, claim=None) -> None:
        """One worker: run trials until the study holds ``n_trials`` finished ones.

        ``claim`` is a lock shared by the workers of one ``fit`` (threads or local
        processes): counting the trials and asking for the next one happen under it,
        so those workers never start more than ``n_trials``. Workers of separate
        ``fit`` calls (other machines) do not share it; of two of them racing for the
        last trial, the later one fails its trial, marked ``sknn:surplus``, unrun.
        """
        claim = contextlib.nullcontext() if claim is None else claim
        heartbeat = optuna.storages._heartbeat.is_heartbeat_enabled(study._storage)
        ran = False  # every worker runs one trial, however short the timeout
        while not ran or deadline is None or time.monotonic() < deadline:
            if heartbeat:
                with warnings.catch_warnings():
                    warnings.simplefilter(
                        "ignore", optuna.exceptions.ExperimentalWarning
                    )
                    optuna.storages.fail_stale_trials(study)
            with claim:
                trial = self._next_trial(study, ctx)
            if trial is None:
                return
            if trial is _WAIT:
                # Others hold the last trials; wait in case a worker dies.
                time.sleep(_POLL_S)
                continue
            with optuna.storages._heartbeat.get_heartbeat_thread(
                trial._trial_id, study._storage
            ):
                self._run_trial(study, trial, ctx)
            ran = True
            if bar is not None:
                bar.update()

    def _next_trial(self, study: optuna.Study, ctx):
        """The next trial to run, ``_WAIT`` while others hold the last ones, or
        ``None`` when the study holds ``n_trials`` finished trials."""
        while True:
            if self.n_trials is not None:
                trials = study.get_trials(deepcopy=False)
                done = sum(is_done(t) for t in trials)
                if done >= self.n_trials:
                    return None
                running = sum(t.state == TrialState.RUNNING for t in trials)
                waiting = sum(t.state == TrialState.WAITING for t in trials)
                if not waiting and done + running >= self.n_trials:
                    return _WAIT
            with warnings.catch_warnings():
                # The heartbeat runs in _run_trial's thread, as in Study.optimize.
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask(ctx.space)
            if self.n_trials is None or not self._is_surplus(study, trial):
                return trial
            trial.set_user_attr(SURPLUS_ATTR, True)
            study.tell(trial, state=TrialState.FAIL)

    def _is_surplus(self, study: optuna.Study, trial: optuna.Trial) -> bool:
        """Whether ``n_trials`` trials numbered below ``trial`` are live or finished.

        Trial numbers are given out atomically by the storage, so of two workers
        racing for the last slot exactly one keeps its trial.
        """
        live = sum(
            t.number < trial.number and (is_done(t) or t.state == TrialState.RUNNING)
            for t in study.get_trials(deepcopy=False)
        )
        return live >= self.n_trials


def _sqlite_file(storage) -> str | None:
    """The database file of an SQLite URL, or ``None`` (another storage, an
    in-memory database, a URI filename)."""
    if storage is None or isinstance(storage, BaseStorage):
        return None
    storage = os.fspath(storage)
    if "://" not in storage:
        return None
    try:
        url = sqlalchemy.engine.make_url(storage)
    except Exception:
        return None  # the storage's own error comes from _open_storage
    database = url.database
    if (
        url.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or url.query.get("uri")
    ):
        return None
    return os.path.abspath(database)


@contextlib.contextmanager
def _setup_lock(storage):
    """Hold a lock file beside an SQLite database (the system releases it if the
    process dies); no lock for other storages, nor where the file cannot be made
    (the set-up's retries still apply)."""
    path = _sqlite_file(storage)
    lock = None
    if path is not None and os.path.isdir(os.path.dirname(path)):
        lock = filelock.FileLock(path + ".lock")
        try:
            lock.acquire()
        except OSError:
            lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _retry_setup(func, *args, **kwargs):
    """``func(*args, **kwargs)``, tried again when it failed because another
    worker was setting the same storage up at the same moment (tables, types or
    version rows created twice): the second try finds them made."""
    for attempt in range(_SETUP_TRIES):
        try:
            return func(*args, **kwargs)
        except (
            sqlalchemy.exc.SQLAlchemyError,
            optuna.exceptions.StorageInternalError,
        ) as exc:
            if attempt == _SETUP_TRIES - 1 or not _is_setup_race(exc):
                raise
        time.sleep(0.05 * 2**attempt * (1 + random.Random().random()))


def _is_setup_race(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
            # The database's own message (not the SQL statement that failed).
            text = str(getattr(exc, "orig", None) or exc).lower()
            return any(marker in text for marker in _SETUP_RACE)
        exc = exc.__cause__
    return False


class ClaimLock:
    """A lock shared by worker processes through a lock file (picklable).

    Built on Optuna's :class:`~optuna.storages.journal.JournalFileOpenLock`: a lock
    left by a killed worker is released after ``grace_period`` seconds.
    """

    def __init__(self, path: str, grace_period: int = 30) -> None:
        self.path = path
        self.grace_period = grace_period

    def __enter__(self) -> ClaimLock:
        self._lock = JournalFileOpenLock(self.path, grace_period=self.grace_period)
        self._lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


def _process_worker(
    search: StudyWorkersMixin,
    ctx,
    remaining: float | None,
    index: int,
    claim: ClaimLock,
) -> list:
    """Worker process ``index`` of :meth:`StudyWorkersMixin._run_in_processes`; returns
    the epochs its pruned fits ran."""
    if search.verbose < 2:
        optuna.logging.set_verbosity(logging.WARNING)
    ctx = copy.copy(ctx)
    ctx.epochs = []
    deadline = None if remaining is None else time.monotonic() + remaining
    study = search._make_study()
    if index > 0 and search.sampler is not None:
        # A sampler given with a seed would propose the same points in every worker.
        study.sampler.reseed_rng()
    search._work(study, ctx, deadline, None, claim)
    return ctx.epochs


def _poll_progress(study: optuna.Study, bar, stop: threading.Event | None) -> None:
    """Move ``bar`` to the number of finished trials until ``stop`` is set (once,
    without ``stop``)."""
    while True:
        done = sum(is_done(t) for t in study.get_trials(deepcopy=False))
        bar.update(max(0, done - bar.n))
        if stop is None or stop.wait(_POLL_S):
            return


def is_done(trial) -> bool:
    """Finished for the budget: completed, pruned, or failed with ``error_score``."""
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and is_scored(trial)
    )


def is_scored(trial) -> bool:
    """Whether ``trial`` is a row of ``cv_results_``: it holds its scores, and was
    not failed by another worker after they were written (a late heartbeat)."""
    record = trial.user_attrs.get(CV_ATTR)
    if record is None:
        return False
    return trial.state != TrialState.FAIL or record.get(FAILED_KEY, True)
