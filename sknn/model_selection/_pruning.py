"""Epoch-level pruning of cross-validated sknn fits, without ``partial_fit``.

Each fold trains with :meth:`sknn.base.BaseNeuralNet._fit_steps`, a generator that
runs one epoch per step; the folds advance in lockstep, the trial receives the mean
fold validation score after every epoch, and Optuna's pruner decides whether to go
on. Every fold trains on its training rows only and is scored on its test rows only.
"""

from __future__ import annotations

import time
import traceback
import warnings
from typing import Any

import numpy as np
import optuna
from sklearn.base import clone

from sknn.base import BaseNeuralNet
from sknn.model_selection._stacking import _network
from sknn.training.stack_plan import architecture_key, stack_reason
from sknn.training.stacked import StackedTrainer
from sknn.utils._compat import _check_method_params, _safe_indexing, _score

_FINAL_FIT_PARAMS = {"sample_weight"}
EPOCHS_ATTR = "sknn:epochs"


class PrunedWithScores(optuna.TrialPruned):
    """:class:`optuna.TrialPruned` carrying the per-fold results the trial reached:
    each fold's model, as trained up to the epoch it was pruned at, scored as a
    finished fold is."""

    def __init__(self, message: str, outs: list[dict]) -> None:
        super().__init__(message)
        self.outs = outs


def _split_pipeline(estimator) -> tuple[Any, BaseNeuralNet, str]:
    """``(head, final, final_name)``: head is a Pipeline of the preceding steps or None."""
    if hasattr(estimator, "named_steps"):
        name, final = estimator.steps[-1]
        head = estimator[:-1] if len(estimator.steps) > 1 else None
        return head, final, name
    return None, estimator, ""


def supports_pruning(estimator, fit_params: dict) -> bool:
    """Whether ``estimator`` (or a Pipeline's last step) can be fitted epoch by epoch."""
    _, final, name = _split_pipeline(estimator)
    if not isinstance(final, BaseNeuralNet) or getattr(final, "warm_start", False):
        return False
    prefix = f"{name}__" if name else ""
    final_params = {
        k[len(prefix) :] for k in fit_params if not prefix or k.startswith(prefix)
    }
    return final_params <= _FINAL_FIT_PARAMS


def _route(estimator, fit_params: dict) -> tuple[dict, dict]:
    """Split fit params into (head step params, final step params)."""
    _, _, name = _split_pipeline(estimator)
    if not name:
        return {}, dict(fit_params)
    prefix = f"{name}__"
    head = {k: v for k, v in fit_params.items() if not k.startswith(prefix)}
    final = {k[len(prefix) :]: v for k, v in fit_params.items() if k.startswith(prefix)}
    return head, final


class _Fold:
    """One fold's training: the fitted head, the epoch generator, the timings."""

    def __init__(self, estimator, X, y, train, test, fit_params):
        self.estimator = estimator
        self.train, self.test = train, test
        self.fit_time = 0.0
        self.last_score = np.nan
        self.epochs = 0
        tic = time.perf_counter()
        head, final, self.final_name = _split_pipeline(estimator)
        self.head, self.final = head, final
        params = _check_method_params(X, params=fit_params, indices=train)
        head_params, final_params = _route(estimator, params)
        X_tr, y_tr = _safe_indexing(X, train), _safe_indexing(y, train)
        X_te, y_te = _safe_indexing(X, test), _safe_indexing(y, test)
        if head is not None:
            X_tr = head.fit_transform(X_tr, y_tr, **head_params)
            X_te = head.transform(X_te)
        # With early_stopping the estimator validates on a split of its own training
        # rows (the test rows must not choose its epoch); otherwise on the fold's
        # test rows.
        self.fit_args = (X_tr, y_tr)
        self.fit_kwargs = dict(
            sample_weight=final_params.get("sample_weight"),
            eval_set=None if final.early_stopping else (X_te, y_te),
        )
        self.steps = None
        self.running = True
        self.fit_time += time.perf_counter() - tic

    def start(self) -> None:
        """Begin training alone, epoch by epoch (``_fit_steps``)."""
        self.steps = self.final._fit_steps(*self.fit_args, **self.fit_kwargs)

    def step(self) -> bool:
        """Run one epoch; ``False`` once training has ended."""
        tic = time.perf_counter()
        try:
            record = next(self.steps)
        except StopIteration:
            self.running = False
        else:
            self.epochs += 1
            self.last_score = float(record.get("valid_score", np.nan))
        self.fit_time += time.perf_counter() - tic
        return self.running

    def close(self) -> None:
        tic = time.perf_counter()
        if self.steps is not None:
            self.steps.close()
        self.running = False
        self.fit_time += time.perf_counter() - tic


class _StackedFolds:
    """The folds of a trial trained together in one stacked pass, epoch by epoch.

    Each fold's network is prepared as its own ``fit`` would prepare it, trained in
    :class:`~sknn.training.stacked.StackedTrainer` and finished as ``fit`` finishes
    it, so the fold models equal those of fitting the folds one by one.
    """

    def __init__(self, folds: list[_Fold], runs: list, trainer: StackedTrainer):
        self.folds, self.runs, self.trainer = folds, runs, trainer
        self.finished = False

    @classmethod
    def create(cls, folds: list[_Fold]) -> _StackedFolds | None:
        """Stack ``folds`` when their networks can share a pass, else ``None``."""
        if len(folds) < 2 or any(_network(f.final) is None for f in folds):
            return None
        tic = time.perf_counter()
        runs = [f.final._setup_fit(*f.fit_args, **f.fit_kwargs) for f in folds]
        keys = set()
        for run in runs:
            if stack_reason(run.trainer, run.train) is not None:
                return None
            keys.add(architecture_key(run.trainer, run.train))
        if len(keys) > 1:
            return None
        trainer = StackedTrainer(
            [r.trainer for r in runs],
            [r.train for r in runs],
            [r.valid for r in runs],
            alphas=[f.final.alpha for f in folds],
            rng=runs[0].rng,
        )
        trainer.begin()
        self = cls(folds, runs, trainer)
        self._charge(time.perf_counter() - tic)
        return self

    def _charge(self, seconds: float) -> None:
        for fold in self.folds:
            fold.fit_time += seconds / len(self.folds)

    def step(self) -> bool:
        """One epoch of every fold still training; ``False`` once all have ended."""
        if self.trainer.done:
            self.finish()
            return False
        tic = time.perf_counter()
        epochs = [len(r.trainer.history) for r in self.runs]
        self.trainer.run_epoch()
        active = set(self.trainer.active)
        for k, (fold, run, before) in enumerate(zip(self.folds, self.runs, epochs)):
            fold.running = k in active
            if len(run.trainer.history) > before:
                fold.epochs += 1
                fold.last_score = float(
                    run.trainer.history[-1].get("valid_score", np.nan)
                )
        self._charge(time.perf_counter() - tic)
        return True

    def finish(self) -> None:
        """Write the models back and finish each fold's estimator as ``fit`` does."""
        if self.finished:
            return
        self.finished = True
        tic = time.perf_counter()
        self.trainer.end()
        for fold, run in zip(self.folds, self.runs):
            fold.final._finish_fit(run)
            fold.running = False
        self._charge(time.perf_counter() - tic)


def _close(folds: list[_Fold], stacked: _StackedFolds | None) -> None:
    """End every fold's training (pruned, failed or done)."""
    if stacked is not None:
        stacked.finish()
    for fold in folds:
        if fold.running:
            fold.close()


def cross_validate_pruned(
    estimator,
    X,
    y,
    splits,
    trial: optuna.trial.BaseTrial,
    *,
    scorer,
    fit_params: dict,
    score_params: dict,
    return_train_score: bool,
    error_score,
) -> tuple[list[dict], int]:
    """Fit ``estimator`` on every fold epoch by epoch, reporting to ``trial``.

    Returns the per-fold result dicts of :func:`sklearn.model_selection._validation.
    _fit_and_score` (``test_scores``, ``fit_time``, ...) and the number of epochs
    run over all folds; raises :class:`PrunedWithScores` (an
    :class:`optuna.TrialPruned`) with the scores each fold reached when the pruner
    says so. A fit that raises is recorded with ``error_score`` on every fold (or
    re-raised with ``error_score="raise"``).
    """
    folds: list[_Fold] = []
    stacked = None
    try:
        for train, test in splits:
            folds.append(_Fold(clone(estimator), X, y, train, test, fit_params))
        stacked = _StackedFolds.create(folds)
        if stacked is None:
            for fold in folds:
                fold.start()
        step = 0
        while True:
            if stacked is not None:
                advanced = [stacked.step()]
            else:
                advanced = [fold.step() for fold in folds if fold.running]
            if not any(advanced):
                break
            trial.report(float(np.nanmean([f.last_score for f in folds])), step)
            step += 1
            # After the last epoch there is nothing left to save.
            more = any(f.running and f.epochs < f.final.max_iter for f in folds)
            if more and trial.should_prune():
                trial.set_user_attr(EPOCHS_ATTR, sum(f.epochs for f in folds))
                _close(folds, stacked)  # each fold's model as trained so far
                outs = _score_folds(
                    folds, X, y, scorer, score_params, return_train_score, error_score
                )
                raise PrunedWithScores(f"pruned after {step} epochs", outs)
    except (optuna.TrialPruned, optuna.exceptions.UpdateFinishedTrialError):
        raise  # pruned, or failed by another worker: not a failed fit
    except KeyboardInterrupt:
        if stacked is not None:
            stacked.trainer.interrupt()
        _close(folds, stacked)
        raise
    except Exception:
        _close(folds, stacked)
        if error_score == "raise":
            raise
        outs = _failed(splits, traceback.format_exc(), error_score, return_train_score)
        return outs, sum(f.epochs for f in folds)
    finally:
        _close(folds, stacked)
    outs = _score_folds(
        folds, X, y, scorer, score_params, return_train_score, error_score
    )
    return outs, sum(f.epochs for f in folds)


def _score_folds(folds, X, y, scorer, score_params, return_train_score, error_score):
    outs = []
    for fold in folds:
        _finish(fold)
        outs.append(
            _score_fold(
                fold, X, y, scorer, score_params, return_train_score, error_score
            )
        )
    return outs


def _finish(fold: _Fold) -> None:
    if fold.head is not None:
        fold.estimator.steps = [*fold.head.steps, (fold.final_name, fold.final)]


def _score_fold(fold, X, y, scorer, score_params, return_train_score, error_score):
    params = _check_method_params(X, params=score_params, indices=fold.test)
    tic = time.perf_counter()
    out = {
        "test_scores": _score(
            fold.estimator,
            _safe_indexing(X, fold.test),
            _safe_indexing(y, fold.test),
            scorer,
            params,
            error_score,
        ),
        "fit_time": fold.fit_time,
        "n_test_samples": len(fold.test),
        "fit_error": None,
    }
    out["score_time"] = time.perf_counter() - tic
    if return_train_score:
        params = _check_method_params(X, params=score_params, indices=fold.train)
        out["train_scores"] = _score(
            fold.estimator,
            _safe_indexing(X, fold.train),
            _safe_indexing(y, fold.train),
            scorer,
            params,
            error_score,
        )
    return out


def _failed(splits, message: str, error_score, return_train_score) -> list[dict]:
    warnings.warn(
        "A trial's fit failed; its score on every fold is set to "
        f"{error_score}. Details:\n{message}",
        UserWarning,
        stacklevel=3,
    )
    outs = []
    for _, test in splits:
        out = {
            "test_scores": error_score,
            "fit_time": 0.0,
            "score_time": 0.0,
            "n_test_samples": len(test),
            "fit_error": message,
        }
        if return_train_score:
            out["train_scores"] = error_score
        outs.append(out)
    return outs
