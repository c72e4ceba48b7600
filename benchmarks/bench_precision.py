"""Mixed precision and torch.compile on one device: does either pay, and for what?

Fits the same MLP classifier on Fashion-MNIST (a ``--n-train`` subset of the official
training set, scored on the official test set; digits when the files are absent) in
full float32, under bfloat16 autocast, ``torch.compile``-d, and both (and, with
``--variants``, in float64: ``dtype="float64"``), next to scikit-learn's MLP and skorch
on the same network for reference, for two shapes: the
small network of ``bench_mlp.py`` (2 x 128 units, batch 64) and a wide one (2 x 1024
units, batch 512) where matrix products dominate. Convergence checks are off so every
fit runs all its epochs; fit times include compilation (``compile``'s first steps).

Prints a table of median fit times over ``--repeats`` runs with each variant's ratio
to sknn's float32 fit and to scikit-learn, and test accuracy; writes the same as JSON.

Run::

    python benchmarks/bench_precision.py --repeats 3
    python benchmarks/bench_precision.py --repeats 5 --networks small \
        --variants float32,float64 --peers sklearn
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from functools import partial

import numpy as np
import torch
from _report import write_report
from bench_mlp import load_data
from sklearn.exceptions import ConvergenceWarning

NETWORKS = {
    "small": {"hidden": (128, 128), "batch_size": 64, "epochs": 10},
    "wide": {"hidden": (1024, 1024), "batch_size": 512, "epochs": 5},
}
VARIANTS = {
    "float32": {},
    "bfloat16": {"autocast": "bfloat16"},
    "compile": {"compile": True},
    "compile+bf16": {"compile": True, "autocast": "bfloat16"},
    "float64": {"dtype": "float64"},
}
DEFAULT_VARIANTS = "float32,bfloat16,compile,compile+bf16"
LR = 1e-3


def fit_sknn(X, y, seed, net, device, **extra):
    from sknn import MLPClassifier

    return MLPClassifier(
        net["hidden"], batch_size=net["batch_size"], learning_rate_init=LR,
        max_iter=net["epochs"], n_iter_no_change=net["epochs"] + 1, tol=0.0,
        random_state=seed, device=device, **{"dtype": "float32", **extra},
    ).fit(X, y)  # fmt: skip


def fit_sklearn(X, y, seed, net, device):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        net["hidden"], batch_size=net["batch_size"], learning_rate_init=LR,
        max_iter=net["epochs"], n_iter_no_change=net["epochs"] + 1, tol=0.0,
        random_state=seed,
    ).fit(X, y)  # fmt: skip


def fit_skorch(X, y, seed, net, device):
    from skorch import NeuralNetClassifier

    from sknn.modules import MLP

    torch.manual_seed(seed)
    return NeuralNetClassifier(
        MLP,
        module__n_features_in=X.shape[1],
        module__n_outputs=int(y.max()) + 1,
        module__hidden_layer_sizes=net["hidden"],
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        max_epochs=net["epochs"],
        batch_size=net["batch_size"],
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
        device=device,
    ).fit(X, y.astype(np.int64))


def _time(fit, data, repeats, device) -> dict:
    X, y, X_te, y_te = data
    times, accs = [], []
    for r in range(repeats):
        tic = time.perf_counter()
        model = fit(X, y, r)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
        accs.append(float(np.mean(model.predict(X_te) == y_te)))
    return {
        "median_s": statistics.median(times),
        "times_s": times,
        "accuracy": statistics.median(accs),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--networks", default="small,wide")
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help=f"sknn variants, from {','.join(VARIANTS)} (float32 always runs)",
    )
    parser.add_argument(
        "--peers", default="sklearn,skorch", help="sklearn always runs; skorch if set"
    )
    parser.add_argument("--out", default="benchmarks/results/bench_precision.json")
    args = parser.parse_args(argv)
    name, X, y, X_te, y_te = load_data(args.n_train)
    data = (X, y, X_te, y_te)
    try:
        import skorch  # noqa: F401

        peers = {"sklearn": fit_sklearn, "skorch": fit_skorch}
    except ImportError:
        print("skorch is not installed: skipping it (pip install skorch)")
        peers = {"sklearn": fit_sklearn}
    if "skorch" not in args.peers.split(","):
        peers.pop("skorch", None)
    variants = ["float32"] + [
        v for v in args.variants.split(",") if v and v != "float32"
    ]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(
            f"unknown --variants {sorted(unknown)}; choose from {list(VARIANTS)}"
        )

    report = {
        "data": name,
        "n_train": len(X),
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "networks": {},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_sknn(X[:256], y[:256], 0, NETWORKS["small"], args.device)  # warm-up
        for net_name in args.networks.split(","):
            net = NETWORKS[net_name]
            results = {}
            for label in variants:
                extra = VARIANTS[label]
                fit = partial(fit_sknn, net=net, device=args.device, **extra)
                results[f"sknn {label}"] = _time(fit, data, args.repeats, args.device)
            for label, peer in peers.items():
                fit = partial(peer, net=net, device=args.device)
                results[label] = _time(fit, data, args.repeats, args.device)
            base = results["sknn float32"]["median_s"]
            ref = results["sklearn"]["median_s"]
            for r in results.values():
                r["ratio_to_sknn_float32"] = r["median_s"] / base
                r["ratio_to_sklearn"] = r["median_s"] / ref
            report["networks"][net_name] = {**net, "results": results}
            print(
                f"\n{name}: {len(X)} rows, MLP {net['hidden']} relu, adam, batch "
                f"{net['batch_size']}, {net['epochs']} epochs, device {args.device}, "
                f"torch threads {torch.get_num_threads()}, median of {args.repeats}"
            )
            print(
                f"{'variant':<20}{'median fit (s)':>16}{'vs float32':>12}"
                f"{'vs sklearn':>12}{'test acc':>10}"
            )
            for label, r in results.items():
                print(
                    f"{label:<20}{r['median_s']:>16.2f}"
                    f"{r['ratio_to_sknn_float32']:>12.2f}"
                    f"{r['ratio_to_sklearn']:>12.2f}{r['accuracy']:>10.3f}"
                )
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
