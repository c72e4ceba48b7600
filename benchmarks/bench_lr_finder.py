"""Does the learning-rate finder's suggestion train well? Digits, three seeds.

For each network (a 64-unit MLP with Adam and with SGD + momentum, a small CNN and a
GRU reading the 8x8 images row by row, all with batches of 32) and seed, runs
:func:`sknn.lr_finder.find_lr` on three quarters of digits, trains with the suggested
``learning_rate_init`` and with the estimator's default rate for the same number of
epochs, and prints the test accuracy of both on the held-out quarter.

Usage::

    python benchmarks/bench_lr_finder.py [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknn import CNNClassifier, MLPClassifier, RNNClassifier
from sknn.lr_finder import find_lr


def cases(seed: int):
    mlp = dict(hidden_layer_sizes=(64,), batch_size=32, random_state=seed)
    yield "MLP adam", MLPClassifier(**mlp), 20, False
    yield "MLP sgd", MLPClassifier(solver="sgd", **mlp), 20, False
    yield (
        "CNN adam",
        CNNClassifier(channels=(16,), batch_size=32, random_state=seed),
        10,
        True,
    )
    yield (
        "GRU adam",
        RNNClassifier(hidden_size=32, batch_size=32, random_state=seed),
        10,
        True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16, y, random_state=0)
    print(f"{'network':10} seed  suggestion  acc(suggested)  default  acc(default)  s")
    for seed in args.seeds:
        for name, est, epochs, images in cases(seed):
            A, B = (
                (Xtr.reshape(-1, 8, 8), Xte.reshape(-1, 8, 8)) if images else (Xtr, Xte)
            )
            start = time.perf_counter()
            lr = find_lr(est, A, ytr).suggestion_
            took = time.perf_counter() - start
            default = est.learning_rate_init
            accs = [
                clone(est)
                .set_params(learning_rate_init=rate, max_iter=epochs)
                .fit(A, ytr)
                .score(B, yte)
                for rate in (lr, default)
            ]
            print(
                f"{name:10} {seed:4}  {lr:10.3g}  {accs[0]:14.3f}  {default:7.3g}  "
                f"{accs[1]:12.3f}  {took:.1f}"
            )


if __name__ == "__main__":
    main()
