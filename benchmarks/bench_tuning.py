"""Tuning MLPClassifier on digits: GridSearchCV vs OptunaSearchCV, with and without
pruning, on the same budget of fits.

Every method gets the same number of candidates (12) on the same 3 folds, with the
same epoch budget per fit (``max_iter``); Optuna samples from the ranges the grid
covers. Reported per method, as medians over ``--repeats`` runs (seeds 0, 1, ...):
wall time, best cross-validated accuracy, held-out test accuracy of the refitted
best model, and the epochs trained during the search (Optuna runs only; the grid
trains every fit to ``max_iter`` or convergence).

    python benchmarks/bench_tuning.py --repeats 3 --out bench_tuning.json

The folds of an Optuna trial train together in one stacked pass; the methods
``optuna/unstacked`` and ``optuna+pruning/unstacked`` fit them fold by fold instead
(every stacked pass refused, as for an optimiser the stacked engine does not
reproduce), and ``--folds`` sets the number of folds. ``--methods`` picks the methods;
each row's ratio is to the first::

    python benchmarks/bench_tuning.py --folds 5 --trials 6 --repeats 3 \
        --methods optuna,optuna/unstacked
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from contextlib import contextmanager, nullcontext
from statistics import median

import numpy as np
import optuna
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from sknn import MLPClassifier
from sknn.model_selection import OptunaSearchCV
from sknn.training import stack_plan

GRID = {
    "hidden_layer_sizes": [(64,), (128,)],
    "learning_rate_init": [1e-4, 1e-3, 1e-2],
    "alpha": [1e-4, 1e-1],
}
SPACE = {
    "hidden_layer_sizes": CategoricalDistribution(["(64,)", "(128,)"]),
    "learning_rate_init": FloatDistribution(1e-4, 1e-2, log=True),
    "alpha": FloatDistribution(1e-4, 1e-1, log=True),
}
METHODS = (
    "grid",
    "optuna",
    "optuna+pruning",
    "optuna/unstacked",
    "optuna+pruning/unstacked",
)


@contextmanager
def fold_by_fold():
    """Refuse every stacked pass: each fold then trains on its own."""
    saved = stack_plan.STACKABLE_OPTIMIZERS
    stack_plan.STACKABLE_OPTIMIZERS = ()
    try:
        yield
    finally:
        stack_plan.STACKABLE_OPTIMIZERS = saved


def run_once(method: str, seed: int, X, y, X_test, y_test, args) -> dict:
    est = MLPClassifier(max_iter=args.max_iter, random_state=seed, device="cpu")
    cv = StratifiedKFold(args.folds, shuffle=True, random_state=seed)
    if method == "grid":
        search = GridSearchCV(est, GRID, cv=cv)
    else:
        pruner = (
            optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=5)
            if method.startswith("optuna+pruning")
            else optuna.pruners.NopPruner()
        )
        search = OptunaSearchCV(
            est, SPACE, n_trials=args.trials, cv=cv, pruner=pruner, random_state=seed
        )
    unstacked = method.endswith("/unstacked")
    tic = time.perf_counter()
    with fold_by_fold() if unstacked else nullcontext():
        search.fit(X, y)
    wall = time.perf_counter() - tic
    return {
        "time_s": wall,
        "best_cv_accuracy": float(search.best_score_),
        "test_accuracy": float(search.score(X_test, y_test)),
        "epochs": getattr(search, "n_epochs_", None),
        "pruned_trials": getattr(search, "n_pruned_trials_", None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--trials", type=int, default=12, help="Optuna trials (the grid has 12)"
    )
    parser.add_argument(
        "--methods",
        default="grid,optuna,optuna+pruning",
        help=f"comma-separated, from {','.join(METHODS)}",
    )
    parser.add_argument("--out", default="bench_tuning.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X, X_test, y, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown --methods {sorted(unknown)}; choose from {METHODS}")
    runs = {m: [] for m in methods}
    for seed in range(args.first_seed, args.first_seed + args.repeats):
        for method in methods:
            runs[method].append(run_once(method, seed, X, y, X_test, y_test, args))
            print(f"seed {seed} {method:15s} {runs[method][-1]}", flush=True)

    def med(method, key):
        values = [r[key] for r in runs[method] if r[key] is not None]
        return median(values) if values else None

    base_time = med(methods[0], "time_s")
    summary = {
        m: {
            key: med(m, key)
            for key in (
                "time_s",
                "best_cv_accuracy",
                "test_accuracy",
                "epochs",
                "pruned_trials",
            )
        }
        | {f"time_vs_{methods[0]}": med(m, "time_s") / base_time}
        for m in methods
    }
    print(
        f"\nMLPClassifier on digits ({len(y)} train / {len(y_test)} test rows), "
        f"{args.trials} Optuna trials (grid: 12) x {args.folds} folds, "
        f"max_iter={args.max_iter}, "
        f"medians of {args.repeats} runs, {args.threads} torch threads\n"
    )
    header = (
        f"{'method':25s} {'time (s)':>9s} {'vs first':>9s} {'best CV acc':>12s} "
        f"{'test acc':>9s} {'epochs':>8s} {'pruned':>7s}"
    )
    print(header)
    print("-" * len(header))
    for m, s in summary.items():
        epochs = "-" if s["epochs"] is None else f"{s['epochs']:.0f}"
        pruned = "-" if s["pruned_trials"] is None else f"{s['pruned_trials']:.0f}"
        print(
            f"{m:25s} {s['time_s']:9.1f} {s[f'time_vs_{methods[0]}']:9.2f} "
            f"{s['best_cv_accuracy']:12.4f} {s['test_accuracy']:9.4f} "
            f"{epochs:>8s} {pruned:>7s}"
        )
    with open(args.out, "w") as f:
        json.dump(
            {
                "benchmark": "tuning MLPClassifier on digits",
                "n_trials": args.trials,
                "grid_candidates": 12,
                "cv_folds": args.folds,
                "max_iter": args.max_iter,
                "repeats": args.repeats,
                "torch_threads": args.threads,
                "machine": platform.platform(),
                "torch": torch.__version__,
                "optuna": optuna.__version__,
                "summary": summary,
                "runs": runs,
            },
            f,
            indent=2,
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
