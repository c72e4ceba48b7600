"""Fit many sknn networks, each on its own rows, in as few stacked passes as possible.

:func:`fit_stacked` groups networks by architecture, estimates the memory of one model
in a pass, splits each group into chunks that fit the device, prepares each network as
its own ``fit`` would (``_setup_fit``: validation, target encoding, module built with
its seed, optimiser, shuffling generator, validation split), trains each chunk with
:class:`~sknn.training.stacked.StackedTrainer` and finishes each network as ``fit``
does. Networks that cannot be stacked are fitted one by one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from sklearn.pipeline import Pipeline

from sknn.base import BaseNeuralNet
from sknn.training.placement import memory_budget
from sknn.training.stack_plan import (
    architecture_key,
    estimate_model_bytes,
    plan_chunks,
    stack_reason,
)
from sknn.training.stacked import StackedTrainer
from sknn.utils._compat import _safe_indexing

#: Parameters that may differ between models of one stacked pass.
STACKED_PARAMS = frozenset(
    {
        "random_state", "alpha", "learning_rate_init", "learning_rate", "power_t",
        "beta_1", "beta_2", "epsilon", "momentum", "nesterovs_momentum", "tol",
        "n_iter_no_change", "max_iter", "early_stopping", "validation_fraction",
        "batch_size", "shuffle", "class_weight", "verbose",
    }
)  # fmt: skip


def _network(estimator):
    """The sknn network that would be stacked (the last step of a Pipeline), or None."""
    if isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1] if estimator.steps else None
    if not isinstance(estimator, BaseNeuralNet):
        return None
    if estimator.solver not in ("adam", "adamw", "sgd") or estimator.callbacks:
        return None
    if estimator.warm_start and hasattr(estimator, "module_"):
        return None
    return estimator


def _group_key(est, X) -> tuple:
    params = {
        k: v for k, v in est.get_params(deep=False).items() if k not in STACKED_PARAMS
    }
    shape = getattr(X, "shape", (None, None))[1:]
    return (type(est), repr(sorted(params.items(), key=lambda kv: kv[0])), shape)


def _fit_many(estimators, datasets, *, max_models=None, verbose=0) -> list:
    """Fit networks on their ``(X, y, sample_weight)``; return ``(error, seconds)`` each.

    Networks are grouped by architecture and stacked (in chunks that fit memory); a
    network that cannot be stacked is fitted alone. A fit that raises is reported
    through its error and leaves that estimator unfitted.
    """
    results: list = [None] * len(estimators)
    groups: dict = defaultdict(list)
    for k, (est, (X, _, _)) in enumerate(zip(estimators, datasets)):
        if _network(est) is None:
            groups[("alone", k)].append(k)
        else:
            groups[_group_key(est, X)].append(k)
    n_passes = n_alone = 0
    for key, members in groups.items():
        runs = {}
        for k in members:
            est = estimators[k]
            X, y, sw = datasets[k]
            tic = time.perf_counter()
            try:
                if key[0] == "alone":
                    est.fit(X, y, sample_weight=sw) if sw is not None else est.fit(X, y)
                    results[k] = (None, time.perf_counter() - tic)
                    n_alone += 1
                    continue
                est._validate_params()
                runs[k] = est._setup_fit(X, y, sample_weight=sw)
            except Exception as exc:
                results[k] = (exc, time.perf_counter() - tic)
        # Within a group, stack runs that agree on the exact architecture and loss.
        sub: dict = defaultdict(list)
        for k, run in runs.items():
            reason = stack_reason(run.trainer, run.train)
            sub[
                ("alone", k) if reason else architecture_key(run.trainer, run.train)
            ].append(k)
        for sub_key, ks in sub.items():
            if sub_key[0] == "alone":
                _run_chunk(estimators, runs, ks, results, verbose)
                n_alone += 1
                continue
            first = runs[ks[0]]
            per_model = estimate_model_bytes(first.trainer, first.train, first.valid)
            budget = memory_budget(first.train.device)
            sizes = plan_chunks(len(ks), per_model, budget, max_models)
            if verbose and len(ks) > 1:
                print(
                    f"[sknn] {len(ks)} networks in {len(sizes)} stacked pass(es) of at "
                    f"most {max(sizes)} (~{per_model / 2**20:.1f} MiB per model, budget "
                    f"{budget / 2**20:.0f} MiB on {first.train.device})"
                )
            start = 0
            for size in sizes:
                chunk = ks[start : start + size]
                start += size
                n_passes += 1
                _run_chunk(estimators, runs, chunk, results, verbose)
    if verbose:
        print(f"[sknn] {n_passes} stacked pass(es), {n_alone} network(s) fitted alone")
    return results


def _run_chunk(estimators, runs, chunk, results, verbose) -> None:
    tic = time.perf_counter()
    try:
        if len(chunk) == 1:  # the single-fit path itself
            run = runs[chunk[0]]
            with run.rng:
                run.trainer.fit(run.train, run.valid)
        else:
            StackedTrainer(
                [runs[k].trainer for k in chunk],
                [runs[k].train for k in chunk],
                [runs[k].valid for k in chunk],
                alphas=[estimators[k].alpha for k in chunk],
                rng=runs[chunk[0]].rng,
                printer=print if verbose > 1 else None,
            ).fit()
    except Exception as exc:
        for k in chunk:
            results[k] = (exc, 0.0)
        return
    seconds = (time.perf_counter() - tic) / len(chunk)
    for k in chunk:
        try:  # one network's error (e.g. it diverged) is its own
            estimators[k]._finish_fit(runs[k])
            results[k] = (None, seconds)
        except Exception as exc:
            results[k] = (exc, seconds)


def fit_stacked(
    estimators: Sequence,
    X,
    y=None,
    *,
    indices: Sequence | None = None,
    sample_weight=None,
    max_models: int | None = None,
    verbose: int = 0,
) -> list:
    """Fit sknn networks, each on its own rows, in as few stacked passes as possible.

    Networks of one architecture (they may differ in seed, rows and the scalar
    parameters of :data:`STACKED_PARAMS`) are trained together; the others are fitted
    one by one. Each network ends as ``fit`` would have left it: on CPU the same
    weights up to float rounding (without dropout).

    Parameters
    ----------
    estimators : sequence of estimators
        Unfitted sknn networks (or any estimator, fitted alone).
    X : array-like or sequence of array-like
        The data; or one array per estimator.
    y : array-like or sequence of array-like
        Targets, shared or one per estimator.
    indices : sequence of array of int, optional
        Rows of ``X`` (and ``y``, ``sample_weight``) each estimator is fitted on, e.g.
        the training rows of cross-validation folds. Default: all rows.
    sample_weight : array-like, optional
        Per-row weights, split as ``X``.
    max_models : int, optional
        Most networks in one pass (on top of the memory estimate).
    verbose : int, default=0
        1 prints the plan (passes, chunk sizes, memory); 2 also each model's epochs.

    Returns
    -------
    list
        The fitted estimators, in order.

    Raises
    ------
    Exception
        The first error raised by a fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.model_selection import fit_stacked
    >>> X, y = load_iris(return_X_y=True)
    >>> nets = [
    ...     MLPClassifier((16,), learning_rate_init=0.01, max_iter=100, random_state=s)
    ...     for s in range(3)
    ... ]
    >>> rows = [np.arange(0, 150, 2), np.arange(1, 150, 2), np.arange(150)]
    >>> [round(net.score(X, y), 2) > 0.5 for net in fit_stacked(nets, X, y, indices=rows)]
    [True, True, True]
    """
    estimators = list(estimators)
    n = len(estimators)
    per_est = isinstance(X, (list, tuple))

    def part(a, k):
        if a is None:
            return None
        if isinstance(a, (list, tuple)) and len(a) == n and per_est:
            return a[k]
        if indices is None or indices[k] is None:
            return a
        return _safe_indexing(a, indices[k])

    datasets = [(part(X, k), part(y, k), part(sample_weight, k)) for k in range(n)]
    results = _fit_many(estimators, datasets, max_models=max_models, verbose=verbose)
    for err, _ in results:
        if err is not None:
            raise err
    return estimators
