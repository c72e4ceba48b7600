"""Fit time of a small MLP with sknn's automatic threads, with 2 threads forced, and
with scikit-learn: what ``n_threads`` is for.

``MLPClassifier(max_iter=50, random_state=0)`` on scikit-learn's digits (1,797 rows,
64 features, one hidden layer of 100 units, Adam), timed three ways:

* ``sknn n_threads=None``: sknn's automatic choice (one thread for a network this
  small, never more than the idle cores);
* ``sknn n_threads=2`` (or ``--threads``): torch's default on a 2-core machine;
* ``sklearn``: scikit-learn's ``MLPClassifier`` (NumPy with OpenBLAS's own threads).

The gap depends on the machine's load: where other processes hold the cores,
torch's spinning threads make the forced fit many times slower. Every variant is
fitted once per round, in turn (interleaved, so that the load hits all alike).
Prints the median fit time of ``--repeats`` rounds, each variant's ratio to
scikit-learn, the threads sknn's fits used and the load average before and after;
writes the same as JSON.

Run::

    python benchmarks/bench_threads.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch
from _report import write_report
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from sknn.callbacks import Callback

MAX_ITER = 50


class _Threads(Callback):
    """Record the torch thread count sknn's fit ran with (once per epoch)."""

    def __init__(self):
        self.seen: list[int] = []

    def on_epoch_end(self, trainer, record):
        self.seen.append(torch.get_num_threads())


def _sknn(n_threads):
    def fit(X, y):
        from sknn import MLPClassifier

        clf = MLPClassifier(
            max_iter=MAX_ITER,
            random_state=0,
            n_threads=n_threads,
            callbacks=[_Threads()],
        ).fit(X, y)
        return sorted(set(clf.callbacks_[0].seen))  # the fit's copy of the callback

    return fit


def _sklearn(X, y):
    from sklearn.neural_network import MLPClassifier

    MLPClassifier(max_iter=MAX_ITER, random_state=0).fit(X, y)
    return None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=2, help="the forced thread count (default 2)"
    )
    parser.add_argument("--out", default="benchmarks/results/bench_threads.json")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    variants = {
        "sknn n_threads=None": _sknn(None),
        f"sknn n_threads={args.threads}": _sknn(args.threads),
        "sklearn": _sklearn,
    }
    load_before = os.getloadavg()
    times: dict = {name: [] for name in variants}
    used: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _sknn(None)(X[:200], y[:200])  # warm-up: torch's first-call costs
        for _ in range(args.repeats):
            for name, fit in variants.items():
                tic = time.perf_counter()
                used[name] = fit(X, y)
                times[name].append(time.perf_counter() - tic)
    load_after = os.getloadavg()

    median = {name: statistics.median(t) for name, t in times.items()}
    base = median["sklearn"]
    print(
        f"\ndigits {X.shape}, MLPClassifier(max_iter={MAX_ITER}, random_state=0), "
        f"median of {args.repeats} interleaved rounds, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print(f"{'variant':<22}{'median fit (s)':>16}{'vs sklearn':>12}{'threads':>10}")
    for name in variants:
        threads = "-" if used[name] is None else ",".join(map(str, used[name]))
        print(
            f"{name:<22}{median[name]:>16.2f}{median[name] / base:>12.2f}{threads:>10}"
        )
    report = {
        "data": "digits",
        "shape": list(X.shape),
        "max_iter": MAX_ITER,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "torch": torch.__version__,
        "results": {
            name: {
                "median_s": median[name],
                "times_s": times[name],
                "ratio_to_sklearn": median[name] / base,
                "torch_threads": used[name],
            }
            for name in variants
        },
    }
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
