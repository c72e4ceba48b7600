"""ONNX export of sknn's recurrent networks: torch's TorchScript-based exporter (the
default, ``dynamo=False``) against its ``torch.export``-based one (``dynamo=True``).

An ``RNNClassifier`` of each cell (GRU, LSTM, Elman), fitted for a few epochs on
scikit-learn's digits read as sequences of 8 steps of 8 features, is exported with
both exporters (``verify=False``: the time of the export alone). For each the script
prints the median export time over ``--repeats`` exports, the graph input's shape
(a name such as ``T`` is a dynamic axis, a number a fixed one) and whether the file
passes ``export_onnx``'s own check (``verify=True``: ONNX Runtime on a batch of
another size and length than the one traced); writes the same as JSON.
``dynamo=True`` needs ``onnxscript``; without it only the default exporter runs.

Run::

    python benchmarks/bench_export.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import onnx
import torch
from _report import write_report
from sklearn.datasets import load_digits

import sknn
from sknn import RNNClassifier

CELLS = ("gru", "lstm", "rnn")


def _input_shape(path: str) -> list:
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def _verifies(clf, path: str, dynamo: bool) -> str:
    try:
        sknn.export_onnx(clf, path, dynamo=dynamo, verify=True)
    except ValueError as exc:
        return "refused: " + " ".join(str(exc).split())[:300]
    return "passes"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/bench_export.json")
    args = parser.parse_args(argv)
    try:
        import onnxscript  # noqa: F401

        exporters = {"torchscript": False, "dynamo": True}
    except ImportError:
        print(
            "onnxscript is not installed: dynamo=True skipped (pip install onnxscript)"
        )
        exporters = {"torchscript": False}

    X, y = load_digits(return_X_y=True)
    X = (X / 16).reshape(-1, 8, 8).astype(np.float32)  # 8 steps of 8 features
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in CELLS:
            clf = RNNClassifier(cell=cell, max_iter=2, random_state=0, device="cpu")
            clf.fit(X, y)
            for name, dynamo in exporters.items():
                path = os.path.join(tmp, f"{cell}-{name}.onnx")
                times = []
                for _ in range(args.repeats):
                    tic = time.perf_counter()
                    sknn.export_onnx(clf, path, dynamo=dynamo, verify=False)
                    times.append(time.perf_counter() - tic)
                results[f"{cell} {name}"] = {
                    "median_s": statistics.median(times),
                    "times_s": times,
                    "input_shape": _input_shape(path),
                    "verify": _verifies(clf, path, dynamo),
                }
    print(
        f"\nRNNClassifier on digits as (n, 8 steps, 8 features), torch "
        f"{torch.__version__}, onnx {onnx.__version__}, median of {args.repeats} "
        f"exports, {os.cpu_count()} cores"
    )
    print(f"{'cell / exporter':<20}{'export (s)':>12}  {'input shape':<22}verify=True")
    for key, r in results.items():
        shape = "[" + ", ".join(map(str, r["input_shape"])) + "]"
        print(f"{key:<20}{r['median_s']:>12.2f}  {shape:<22}{r['verify'][:60]}")
    report = {
        "data": "digits as sequences (8 x 8)",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "repeats": args.repeats,
        "results": results,
    }
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
