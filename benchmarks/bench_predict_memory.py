"""Peak extra memory of ``predict`` / ``predict_proba`` on a large input.

Each measurement runs in a fresh subprocess: a small MLP is fitted, the input
(``--rows`` x 50, float64 or float32) is created, and the process's peak resident
memory is reset (Linux ``/proc/self/clear_refs``) just before the call. The figure is
the peak resident memory during the call minus the resident memory before it: what a
prediction costs on top of the model and its input. The output's size is printed
beside it; the ideal is the output plus one inference chunk (4,096 rows).

Prints a table and writes the same as JSON. Linux only (it reads ``/proc``).

Run::

    python benchmarks/bench_predict_memory.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_CHILD = """
import json, sys, warnings
import numpy as np

def mib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024

warnings.simplefilter("ignore")
lib, method, dtype, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = np.random.RandomState(0)
Xs = rng.randn(2000, 50).astype(dtype)
ys = (Xs[:, 0] > 0).astype(int) + (Xs[:, 1] > 0)
if lib == "sknn":
    from sknn import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
clf = MLPClassifier((64,), max_iter=3, random_state=0).fit(Xs, ys)
X = rng.standard_normal((rows, 50)).astype(dtype)
getattr(clf, method)(X[:10])  # first-call costs out of the measurement
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak (VmHWM) to the current resident size
before = mib("VmRSS")
out = getattr(clf, method)(X)
print(json.dumps({
    "input_mib": X.nbytes / 2**20,
    "output_mib": out.nbytes / 2**20,
    "peak_extra_mib": mib("VmHWM") - before,
}))
"""


def measure(lib: str, method: str, dtype: str, rows: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, lib, method, dtype, str(rows)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--libs", default="sknn,sklearn")
    parser.add_argument("--out", default="benchmarks/results/bench_predict_memory.json")
    args = parser.parse_args(argv)
    if not os.path.exists("/proc/self/clear_refs"):
        sys.exit("bench_predict_memory needs Linux (/proc/self/clear_refs)")
    results = []
    for lib in args.libs.split(","):
        for method in ("predict", "predict_proba"):
            for dtype in ("float64", "float32"):
                r = measure(lib, method, dtype, args.rows)
                results.append({"library": lib, "method": method, "dtype": dtype, **r})
    print(f"\n{args.rows} x 50 input, MLP (64,), 3 classes; peak extra resident memory")
    print(
        f"{'library':<9}{'method':<15}{'dtype':<9}{'input MiB':>10}{'output MiB':>11}"
        f"{'peak extra MiB':>16}"
    )
    for r in results:
        print(
            f"{r['library']:<9}{r['method']:<15}{r['dtype']:<9}{r['input_mib']:>10.0f}"
            f"{r['output_mib']:>11.1f}{r['peak_extra_mib']:>16.1f}"
        )
    report = {"rows": args.rows, "features": 50, "results": results}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"JSON written to {args.out}")
    return report


if __name__ == "__main__":
    main()
