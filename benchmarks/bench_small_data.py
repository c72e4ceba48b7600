"""Small data, many epochs: scikit-learn's gallery MLP workloads with sknn, scikit-learn
and skorch, in one run.

The workloads follow two pages of scikit-learn's example gallery:

* ``plot_mlp_alpha``: moons, circles and a linearly separable set (100 rows each,
  scaled, 60 % for training), ``MLPClassifier(solver="lbfgs", hidden_layer_sizes=
  (10, 10), max_iter=2000, early_stopping=True)`` for 5 values of ``alpha``;
* ``plot_mlp_training_curves``: iris, digits, circles and moons (min-max scaled),
  sgd with and without (Nesterov's) momentum and inv-scaling, and adam, ``max_iter``
  400 (15 for digits), as on the gallery page.

Each workload is fitted by every library in every round (interleaved, so that a busy
machine slows all alike); each figure is the median over ``--repeats`` rounds. The
time per epoch (fit time / ``n_iter_``) shows the fixed cost of an epoch. skorch runs
the stochastic workloads with the same optimiser and the number of epochs sknn ran
(it has no convergence rule); it has no L-BFGS loop of scikit-learn's kind.

A last section times the first fit in a fresh process (imports excluded), where
torch's one-time costs fall.

Prints a table and writes the same as JSON.

Run::

    python benchmarks/bench_small_data.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from functools import partial

import numpy as np
import torch
from sklearn.datasets import (
    load_digits,
    load_iris,
    make_circles,
    make_classification,
    make_moons,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

# scikit-learn's plot_mlp_training_curves parameter sets (learning_rate_init per set).
CURVE_PARAMS = {
    "sgd-constant": dict(solver="sgd", learning_rate="constant", momentum=0, lr=0.2),
    "sgd-momentum": dict(
        solver="sgd", learning_rate="constant", momentum=0.9, nesterov=False, lr=0.2
    ),
    "sgd-nesterov": dict(
        solver="sgd", learning_rate="constant", momentum=0.9, nesterov=True, lr=0.2
    ),
    "sgd-invscaling": dict(
        solver="sgd", learning_rate="invscaling", momentum=0.9, nesterov=True, lr=0.2
    ),
    "adam": dict(solver="adam", lr=0.01),
}


def alpha_workloads() -> list[dict]:
    rng = np.random.RandomState(2)
    X, y = make_classification(
        n_features=2,
        n_redundant=0,
        n_informative=2,
        random_state=0,
        n_clusters_per_class=1,
    )
    X += 2 * rng.uniform(size=X.shape)
    sets = {
        "moons": make_moons(noise=0.3, random_state=0),
        "circles": make_circles(noise=0.2, factor=0.5, random_state=1),
        "linear": (X, y),
    }
    out = []
    for name, (X, y) in sets.items():
        X = StandardScaler().fit_transform(X)
        X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.4, random_state=42)
        out.append(
            {
                "name": f"alpha/{name}",
                "X": X_tr,
                "y": y_tr,
                "fits": [
                    dict(
                        solver="lbfgs",
                        alpha=alpha,
                        random_state=1,
                        max_iter=2000,
                        early_stopping=True,
                        hidden_layer_sizes=(10, 10),
                    )
                    for alpha in np.logspace(-1, 1, 5)
                ],
            }
        )
    return out


def curve_workloads() -> list[dict]:
    iris = load_iris(return_X_y=True)
    digits = load_digits(return_X_y=True)
    sets = {
        "iris": iris,
        "digits": digits,
        "circles": make_circles(noise=0.2, factor=0.5, random_state=1),
        "moons": make_moons(noise=0.3, random_state=0),
    }
    out = []
    for name, (X, y) in sets.items():
        X = MinMaxScaler().fit_transform(X)
        max_iter = 15 if name == "digits" else 400
        fits = []
        for label, p in CURVE_PARAMS.items():
            kw = dict(
                solver=p["solver"],
                learning_rate_init=p["lr"],
                max_iter=max_iter,
                random_state=0,
            )
            if p["solver"] == "sgd":
                kw.update(
                    learning_rate=p["learning_rate"],
                    momentum=p["momentum"],
                    nesterovs_momentum=p.get("nesterov", False),
                )
            fits.append(kw | {"_label": label})
        out.append({"name": f"curves/{name}", "X": X, "y": y, "fits": fits})
    return out


def _params(kw: dict) -> dict:
    return {k: v for k, v in kw.items() if not k.startswith("_")}


def run_sklearn(X, y, fits) -> int:
    from sklearn.neural_network import MLPClassifier

    return sum(MLPClassifier(**_params(kw)).fit(X, y).n_iter_ for kw in fits)


def run_sknn(X, y, fits) -> int:
    from sknn import MLPClassifier

    return sum(
        MLPClassifier(**_params(kw), device="cpu").fit(X, y).n_iter_ for kw in fits
    )


def run_skorch(X, y, fits, epochs: list[int]) -> int:
    """The same networks and optimisers, for the epochs sknn ran (no convergence
    rule in skorch); ``None`` for L-BFGS workloads."""
    from skorch import NeuralNetClassifier

    from sknn.modules import MLP

    if any(kw["solver"] == "lbfgs" for kw in fits):
        return None
    X32, y64 = X.astype(np.float32), y.astype(np.int64)
    total = 0
    for kw, n_epochs in zip(fits, epochs):
        torch.manual_seed(0)
        if kw["solver"] == "sgd":
            opt = dict(
                optimizer=torch.optim.SGD,
                optimizer__momentum=kw["momentum"],
                optimizer__nesterov=kw["nesterovs_momentum"] and kw["momentum"] > 0,
            )
        else:
            opt = dict(optimizer=torch.optim.Adam)
        NeuralNetClassifier(
            MLP,
            module__n_features_in=X.shape[1],
            module__n_outputs=int(y.max()) + 1,
            module__hidden_layer_sizes=(100,),
            criterion=torch.nn.CrossEntropyLoss,
            lr=kw["learning_rate_init"],
            max_epochs=n_epochs,
            batch_size=min(200, len(X)),
            iterator_train__shuffle=True,
            train_split=None,
            verbose=0,
            **opt,
        ).fit(X32, y64)
        total += n_epochs
    return total


def _sknn_epochs(X, y, fits) -> list[int]:
    from sknn import MLPClassifier

    return [MLPClassifier(**_params(kw), device="cpu").fit(X, y).n_iter_ for kw in fits]


_FIRST_FIT = """
import time, warnings
import numpy as np
from sklearn.datasets import load_iris
from sklearn.preprocessing import MinMaxScaler
X, y = load_iris(return_X_y=True)
X = MinMaxScaler().fit_transform(X)
warnings.simplefilter("ignore")
if {lib!r} == "sknn":
    from sknn import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
tic = time.perf_counter()
MLPClassifier(max_iter=50, random_state=0).fit(X, y)
first = time.perf_counter() - tic
tic = time.perf_counter()
MLPClassifier(max_iter=50, random_state=0).fit(X, y)
print(first, time.perf_counter() - tic)
"""


def first_fit(lib: str, repeats: int) -> dict:
    firsts, seconds = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_FIT.format(lib=lib)],
            capture_output=True,
            text=True,
            check=True,
        )
        a, b = map(float, out.stdout.split())
        firsts.append(a)
        seconds.append(b)
    return {
        "first_fit_s": statistics.median(firsts),
        "second_fit_s": statistics.median(seconds),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="pin torch and BLAS threads (default: each library's own choice)",
    )
    parser.add_argument("--out", default="benchmarks/results/bench_small_data.json")
    args = parser.parse_args(argv)
    limits = None
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        limits = threadpool_limits(args.threads)
    try:
        import skorch  # noqa: F401

        has_skorch = True
    except ImportError:
        print("skorch is not installed: skipping it (pip install skorch)")
        has_skorch = False

    workloads = alpha_workloads() + curve_workloads()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        X0, y0 = workloads[0]["X"], workloads[0]["y"]
        run_sknn(X0, y0, workloads[0]["fits"][:1])  # warm-up: torch's first calls
        for wl in workloads:
            X, y, fits = wl["X"], wl["y"], wl["fits"]
            epochs = _sknn_epochs(X, y, fits)
            times: dict = {}
            iters: dict = {}
            for _ in range(args.repeats):
                runners = {
                    "sklearn": partial(run_sklearn, X, y, fits),
                    "sknn": partial(run_sknn, X, y, fits),
                }
                if has_skorch:
                    runners["skorch"] = partial(run_skorch, X, y, fits, epochs)
                for lib, fn in runners.items():
                    tic = time.perf_counter()
                    n_it = fn()
                    dt = time.perf_counter() - tic
                    if n_it is None:
                        continue
                    times.setdefault(lib, []).append(dt)
                    iters[lib] = n_it
            base = statistics.median(times["sklearn"])
            row = {"workload": wl["name"], "rows": len(X), "fits": len(fits)}
            for lib, ts in times.items():
                med = statistics.median(ts)
                row[lib] = {
                    "median_s": med,
                    "ratio_to_sklearn": med / base,
                    "epochs": iters[lib],
                    "ms_per_epoch": 1e3 * med / max(1, iters[lib]),
                    "times_s": ts,
                }
            rows.append(row)

    print(
        f"\nscikit-learn gallery MLP workloads; torch threads {torch.get_num_threads()} "
        f"(sknn: n_threads=None); median of {args.repeats} interleaved rounds"
    )
    print(
        f"{'workload':<20}{'rows':>6}{'sklearn s':>11}{'sknn s':>9}{'skorch s':>10}"
        f"{'sknn/skl':>10}{'skorch/skl':>12}{'ms/epoch skl|sknn|skorch':>28}"
    )
    for r in rows:
        sk, sn, so = r["sklearn"], r["sknn"], r.get("skorch")
        so_t = f"{so['median_s']:>10.2f}" if so else f"{'n/a':>10}"
        so_r = f"{so['ratio_to_sklearn']:>12.2f}" if so else f"{'n/a':>12}"
        per = f"{sk['ms_per_epoch']:.2f} | {sn['ms_per_epoch']:.2f} | " + (
            f"{so['ms_per_epoch']:.2f}" if so else "n/a"
        )
        print(
            f"{r['workload']:<20}{r['rows']:>6}{sk['median_s']:>11.2f}"
            f"{sn['median_s']:>9.2f}{so_t}{sn['ratio_to_sklearn']:>10.2f}{so_r}"
            f"{per:>28}"
        )
    total = {lib: sum(r[lib]["median_s"] for r in rows) for lib in ("sklearn", "sknn")}
    print(
        f"{'all workloads':<20}{'':>6}{total['sklearn']:>11.2f}{total['sknn']:>9.2f}"
        f"{'':>10}{total['sknn'] / total['sklearn']:>10.2f}"
    )

    first = {
        lib: first_fit(lib, max(1, min(3, args.repeats))) for lib in ("sklearn", "sknn")
    }
    print("\nfirst fit in a fresh process (iris, 50 epochs; imports excluded):")
    for lib, f in first.items():
        print(
            f"  {lib:<8} first {f['first_fit_s'] * 1e3:7.1f} ms, "
            f"second {f['second_fit_s'] * 1e3:7.1f} ms"
        )
    report = {
        "torch_threads": torch.get_num_threads(),
        "pinned_threads": args.threads,
        "repeats": args.repeats,
        "workloads": rows,
        "total_s": total,
        "first_fit": first,
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
