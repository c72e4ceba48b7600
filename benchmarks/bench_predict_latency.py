"""Prediction latency of the same MLP in sknn, scikit-learn and skorch, in one run.

Each library fits an MLP with one hidden layer of 100 ReLU units (scikit-learn's
default) on digits; then ``predict`` and ``predict_proba`` are timed on 1, 100 and
10,000 rows. Calls are interleaved (every library in every round) so that a busy
machine slows all of them alike; each figure is the median over ``--repeats`` rounds
of the mean time per call within the round, and the ratio to scikit-learn is taken
from those medians.

Prints a table and writes the same as JSON.

Run::

    python benchmarks/bench_predict_latency.py --repeats 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

HIDDEN = (100,)
SIZES = (1, 100, 10_000)


def fit_models(X, y, epochs: int) -> dict:
    """Fit the three libraries' MLPs (a few epochs: only prediction is timed)."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from sknn import MLPClassifier

    models = {
        "sklearn": SklearnMLP(HIDDEN, max_iter=epochs, random_state=0).fit(X, y),
        "sknn": MLPClassifier(HIDDEN, max_iter=epochs, random_state=0).fit(X, y),
    }
    try:
        from skorch import NeuralNetClassifier

        from sknn.modules import MLP
    except ImportError:
        print("skorch is not installed: skipping it (pip install skorch)")
        return models
    torch.manual_seed(0)
    models["skorch"] = NeuralNetClassifier(
        MLP,
        module__n_features_in=X.shape[1],
        module__n_outputs=int(y.max()) + 1,
        module__hidden_layer_sizes=HIDDEN,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        max_epochs=epochs,
        train_split=None,
        verbose=0,
        device="cpu",
    ).fit(X.astype(np.float32), y.astype(np.int64))
    return models


def _calls(n_rows: int, budget: float = 0.02) -> int:
    """Calls per round: about ``budget`` seconds of sklearn-like work."""
    return max(1, int(budget / (2e-4 + 2e-7 * n_rows)))


def time_method(model, method: str, X, calls: int) -> float:
    fn = getattr(model, method)
    tic = time.perf_counter()
    for _ in range(calls):
        fn(X)
    return (time.perf_counter() - tic) / calls


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="pin torch and BLAS threads (default: each library's own choice)",
    )
    parser.add_argument(
        "--out", default="benchmarks/results/bench_predict_latency.json"
    )
    args = parser.parse_args(argv)
    limits = None
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        limits = threadpool_limits(args.threads)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = fit_models(X, y, args.epochs)
    inputs = {n: np.resize(X, (n, X.shape[1])) for n in SIZES}
    # skorch takes float32 (it does not convert); the others get float64 as a user's.
    inputs32 = {n: a.astype(np.float32) for n, a in inputs.items()}

    times: dict = {}
    for method in ("predict", "predict_proba"):
        for n in SIZES:
            calls = _calls(n)
            for lib, model in models.items():  # warm-up
                time_method(
                    model, method, (inputs32 if lib == "skorch" else inputs)[n], 2
                )
            for _ in range(args.repeats):
                for lib, model in models.items():
                    Xn = (inputs32 if lib == "skorch" else inputs)[n]
                    times.setdefault((method, n, lib), []).append(
                        time_method(model, method, Xn, calls)
                    )

    results = []
    for (method, n, lib), ts in times.items():
        med = statistics.median(ts)
        base = statistics.median(times[(method, n, "sklearn")])
        results.append(
            {
                "method": method,
                "rows": n,
                "library": lib,
                "median_ms": med * 1e3,
                "ratio_to_sklearn": med / base,
                "times_ms": [t * 1e3 for t in ts],
            }
        )
    print(
        f"\ndigits MLP {HIDDEN}, 64 features, 10 classes; torch threads "
        f"{torch.get_num_threads()} (sknn: n_threads=None); median of "
        f"{args.repeats} interleaved rounds"
    )
    libs = list(models)
    head = "".join(f"{lib + ' (ms)':>15}" for lib in libs)
    ratios = "".join(f"{lib + '/sklearn':>16}" for lib in libs if lib != "sklearn")
    print(f"{'method':<15}{'rows':>7}{head}{ratios}")
    for method in ("predict", "predict_proba"):
        for n in SIZES:
            row = {
                r["library"]: r
                for r in results
                if (r["method"], r["rows"]) == (method, n)
            }
            cells = "".join(f"{row[lib]['median_ms']:>15.3f}" for lib in libs)
            rat = "".join(
                f"{row[lib]['ratio_to_sklearn']:>16.2f}"
                for lib in libs
                if lib != "sklearn"
            )
            print(f"{method:<15}{n:>7}{cells}{rat}")
    report = {
        "data": "digits",
        "network": {"hidden": HIDDEN},
        "torch_threads": torch.get_num_threads(),
        "pinned_threads": args.threads,
        "repeats": args.repeats,
        "results": results,
    }
    if limits is not None:
        limits.restore_original_limits()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"JSON written to {args.out}")
    return report


if __name__ == "__main__":
    main()
