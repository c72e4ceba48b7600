"""Fit time of a memmap streamed from the host against the same rows in memory.

The example of the docs' "Data larger than memory" section, made larger: a float32
``numpy.memmap`` of ``--rows`` x 200 (100,000 rows: 80 MB) written to a temporary
file (so that it is in the page cache, as a file read recently is), targets from its
first column, ``MLPClassifier(hidden_layer_sizes=(64,), max_iter=3)``, fitted with
``data_placement="stream"`` (one batch at a time from the host, the next one prepared
in a thread) and with ``data_placement="device"`` (the rows copied to the device
once). Each round fits both, in turn (interleaved, so that a busy machine slows both
alike). Prints the median fit time over ``--repeats`` rounds and the ratio; writes the
same as JSON. Reading from a disk rather than the page cache is not measured.

Run::

    python benchmarks/bench_streaming.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch
from _report import write_report
from sklearn.exceptions import ConvergenceWarning

from sknn import MLPClassifier

N_FEATURES = 200
PLACEMENTS = ("stream", "device")


def write_memmap(path: str, n_rows: int) -> np.memmap:
    """A float32 memmap of standard normal values, written in blocks of 5,000 rows."""
    rng = np.random.default_rng(0)
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, 5_000):
        stop = min(start + 5_000, n_rows)
        X[start:stop] = rng.standard_normal((stop - start, N_FEATURES))
    X.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, N_FEATURES))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", default="benchmarks/results/bench_streaming.json")
    args = parser.parse_args(argv)

    times: dict = {p: [] for p in PLACEMENTS}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X = write_memmap(os.path.join(tmp, "X.dat"), args.rows)
        y = (X[:, 0] > 0).astype(int)
        weights = {}
        for r in range(args.repeats + 1):  # round 0 warms up torch and the cache
            for placement in PLACEMENTS:
                clf = MLPClassifier(
                    hidden_layer_sizes=(64,), max_iter=3, random_state=r,
                    data_placement=placement, device="cpu",
                )  # fmt: skip
                tic = time.perf_counter()
                clf.fit(X, y)
                if r:
                    times[placement].append(time.perf_counter() - tic)
                weights[placement] = clf.coefs_[0]
        del X
    same = bool(np.array_equal(weights["stream"], weights["device"]))
    median = {p: statistics.median(t) for p, t in times.items()}
    mb = args.rows * N_FEATURES * 4 / 1e6
    print(
        f"\nMLPClassifier((64,), max_iter=3) on a {args.rows:,} x {N_FEATURES} float32 "
        f"memmap ({mb:.0f} MB, page cache), torch threads {torch.get_num_threads()}, "
        f"median of {args.repeats} interleaved rounds, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"{'data_placement':<16}{'median fit (s)':>16}{'vs device':>11}")
    for p in PLACEMENTS:
        print(f"{p:<16}{median[p]:>16.2f}{median[p] / median['device']:>11.2f}")
    print(f"same weights streamed and in memory (last round): {same}")
    report = {
        "rows": args.rows,
        "features": N_FEATURES,
        "megabytes": mb,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "results": {
            p: {
                "median_s": median[p],
                "times_s": times[p],
                "ratio_to_device": median[p] / median["device"],
            }
            for p in PLACEMENTS
        },
        "same_weights": same,
    }
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
