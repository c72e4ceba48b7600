"""Grid search over a 2-layer MLP: stacked (vectorised) vs one by one vs scikit-learn.

An 8-candidate grid (``alpha`` x ``learning_rate_init``) with 5-fold cross-validation
on a real data set, the same budget for everyone (Adam, ``max_iter`` epochs, the same
convergence rule), timed three ways:

* ``sknn vectorised``: :class:`sknn.model_selection.GridSearchCV` (the 40 fits in
  stacked passes);
* ``sknn one-by-one``: :class:`sklearn.model_selection.GridSearchCV` over
  :class:`sknn.MLPClassifier` (40 ordinary fits);
* ``sklearn``: :class:`sklearn.model_selection.GridSearchCV` over
  :class:`sklearn.neural_network.MLPClassifier`.

Prints a table of median wall times and ratios, and writes them as JSON::

    python benchmarks/bench_vectorized_cv.py --repeats 3 --out bench_vectorized_cv.json

``--model cnn`` times a 4-candidate grid (``alpha``) x 5 folds of
:class:`sknn.CNNClassifier` (its defaults otherwise) on the digits as 8 x 8 images,
stacked (with ``sknn.training.stack_plan.CONV_ON_CPU = True`` on a CPU, where
convolutional networks are otherwise fitted one by one) against one by one; there is
no scikit-learn CNN to compare with::

    python benchmarks/bench_vectorized_cv.py --model cnn --threads 2 --repeats 3

Data: scikit-learn's digits (default), or a Fashion-MNIST subset read from the Debian
package ``dataset-fashion-mnist`` (``--dataset fashion``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import model_selection as skms
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_limits

from sknn import CNNClassifier, MLPClassifier
from sknn.model_selection import GridSearchCV
from sknn.training import stack_plan

FASHION = Path("/usr/share/datasets/fashion-mnist")
GRID = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate_init": [1e-3, 3e-3]}
GRID_CNN = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}


def load(name: str, n_rows: int):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32), y
    with gzip.open(FASHION / "train-images-idx3-ubyte.gz") as fh:
        X = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(FASHION / "train-labels-idx1-ubyte.gz") as fh:
        y = np.frombuffer(fh.read(), np.uint8, offset=8)
    return (X[:n_rows] / 255.0).astype(np.float32), y[:n_rows].astype(np.int64)


def run(kind: str, X, y, args) -> tuple[float, dict]:
    if args.model == "cnn":
        grid = GRID_CNN
        common = dict(max_iter=args.max_iter, random_state=0)
        if args.batch_size is not None:
            common["batch_size"] = args.batch_size
        net = CNNClassifier(**common, device=args.device)
    else:
        grid = GRID
        common = dict(
            hidden_layer_sizes=(args.hidden, args.hidden), max_iter=args.max_iter,
            random_state=0, batch_size=args.batch_size or 200,
        )  # fmt: skip
        net = MLPClassifier(**common, device=args.device)
    if kind == "sklearn":
        search = skms.GridSearchCV(SkMLP(**common), grid, cv=5, refit=False)
    elif kind == "sknn one-by-one":
        search = skms.GridSearchCV(net, grid, cv=5, refit=False)
    else:
        search = GridSearchCV(net, grid, cv=5, refit=False)
    conv_on_cpu = stack_plan.CONV_ON_CPU
    stack_plan.CONV_ON_CPU = args.model == "cnn" or conv_on_cpu
    tic = time.perf_counter()
    try:
        search.fit(X, y)
    finally:
        stack_plan.CONV_ON_CPU = conv_on_cpu
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - tic, search.cv_results_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--dataset", choices=["digits", "fashion"], default="digits")
    parser.add_argument("--rows", type=int, default=6000, help="Fashion-MNIST rows")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: 200 (mlp), auto (cnn)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--out", default="bench_vectorized_cv.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load(args.dataset, args.rows)
    if args.model == "cnn":
        side = round(X.shape[1] ** 0.5)
        X = X.reshape(-1, side, side)
    kinds = ["sknn vectorised", "sknn one-by-one"] + (
        [] if args.skip_sklearn or args.model == "cnn" else ["sklearn"]
    )
    times: dict = {k: [] for k in kinds}
    scores: dict = {}
    with threadpool_limits(args.threads):
        for _ in range(args.repeats):
            for kind in kinds:
                seconds, res = run(kind, X, y, args)
                times[kind].append(seconds)
                scores[kind] = res["mean_test_score"].tolist()
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["sknn vectorised"]
    grid = GRID_CNN if args.model == "cnn" else GRID
    n_candidates = len(skms.ParameterGrid(grid))
    model = "CNN" if args.model == "cnn" else f"2 x {args.hidden} MLP"
    print(f"{args.dataset} {X.shape}, {n_candidates} candidates x 5 folds, {model}, "
          f"{args.max_iter} epochs, {args.threads} thread(s), device {args.device}")  # fmt: skip
    print(f"{'method':<18}{'median s':>10}{'vs vectorised':>15}{'best mean score':>17}")
    for kind in kinds:
        print(
            f"{kind:<18}{med[kind]:>10.2f}{med[kind] / base:>14.2f}x"
            f"{max(scores[kind]):>17.4f}"
        )
    gap = np.max(
        np.abs(np.subtract(scores["sknn vectorised"], scores["sknn one-by-one"]))
    )
    print(f"largest |mean_test_score| gap, vectorised vs one-by-one: {gap:.2e}")
    result = {
        "model": args.model, "dataset": args.dataset, "shape": list(X.shape),
        "grid": grid, "folds": 5,
        "hidden": [args.hidden, args.hidden] if args.model == "mlp" else None,
        "max_iter": args.max_iter,
        "batch_size": args.batch_size, "threads": args.threads, "device": args.device,
        "repeats": args.repeats, "times_s": times, "median_s": med,
        "ratio_vs_vectorised": {k: med[k] / base for k in kinds},
        "mean_test_score": scores, "score_gap_vectorised_vs_one_by_one": float(gap),
        "torch": torch.__version__, "machine": platform.machine(),
        "cpu_count": torch.get_num_threads(),
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
